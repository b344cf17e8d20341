"""The researcher's API: region pruning as a torch.nn.utils.prune method (docs/api.md)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from conftest import REPO
from regionprune.core.prune import RegionPruning, carve_prune, region_mask, region_prune
from regionprune.core.regions import label_neurons


def layer(seed=0, shape=(6, 8), out=5):
    torch.manual_seed(seed)
    return nn.Linear(shape[0] * shape[1], out)


def test_region_prune_is_a_torch_pruning_method():
    lin = layer()
    w = lin.weight.detach().numpy().copy()
    prune.l1_unstructured(lin, "weight", amount=0.5)
    before = lin.weight_mask.numpy().astype(bool)
    region_prune(lin, "weight", amount=0.4, image_shape=(6, 8))
    mask = lin.weight_mask.numpy().astype(bool)
    # torch's container handed the method the combined mask: the result is region_mask's
    np.testing.assert_array_equal(mask, region_mask(w, before, (6, 8), amount=0.4))
    assert (mask <= before).all() and mask.sum() < before.sum()
    # the weight is recomputed from the mask; prune.remove keeps the zeros
    np.testing.assert_array_equal(lin.weight.detach().numpy() != 0, mask & (w != 0))
    prune.remove(lin, "weight")
    assert not hasattr(lin, "weight_mask") and isinstance(lin.weight, nn.Parameter)
    np.testing.assert_array_equal(lin.weight.detach().numpy() == 0, ~mask)


def test_forty_percent_of_the_regions_go_by_mean_abs():
    """By hand: neuron 0 has regions of mean |w| 3 and 1, neuron 1 one of 2 (4-connected on a
    3x3 grid); removing 40% of 3 regions removes round(1.2) = 1, the weakest."""
    w = np.zeros((2, 9), dtype=np.float32)
    w[0, [0, 1]] = 3.0  # top-left pair
    w[0, [8]] = -1.0  # bottom-right corner
    w[1, [4]] = 2.0
    got = region_mask(w, w != 0, (3, 3), amount=0.4, connectivity=4)
    want = w != 0
    want[0, 8] = False
    np.testing.assert_array_equal(got, want)


def test_carving_keeps_at_most_two_regions_per_neuron():
    lin = layer(1, shape=(10, 10), out=8)
    carve_prune(lin, "weight", image_shape=(10, 10), max_regions=2, cut=0.3)
    mask = lin.weight_mask.numpy().astype(bool)
    assert 0 < mask.sum() < mask.size
    for lab in label_neurons(mask, (10, 10), 8):
        assert lab.max() <= 2


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="does not take 6x9 images: it needs 54 inputs"):
        region_prune(layer(), "weight", image_shape=(6, 9))
    with pytest.raises(TypeError, match="fraction of the regions"):
        RegionPruning(amount=3)


@pytest.mark.parametrize(
    "carving, says",
    [
        ({"cut": 1.5}, "cut is a fraction removed per iteration, in [0, 1), got 1.5"),
        ({"pixel_cut": -0.1}, "pixel_cut is a fraction removed per iteration"),
        ({"max_regions": 0}, "max_regions must be at least 1 (None: off), got 0"),
        ({"min_size": 0}, "min_size must be at least 1 (1: off), got 0"),
        ({"pixel_budget": 10}, "pixel_budget=10 needs pixel_cut > 0"),
        ({"pixel_budget": 0, "pixel_cut": 0.2}, "pixel_budget=0 needs pixel_cut > 0"),
    ],
)
def test_a_carving_setting_out_of_range_is_named_and_the_module_left_alone(carving, says):
    """Before, ``max_regions=0`` said "must keep at least one per group", ``cut=1.5`` "pruning
    rate must lie in [0, 1]", and ``pixel_budget`` without ``pixel_cut`` was ignored."""
    lin = layer()
    before = lin.weight.detach().clone()
    with pytest.raises(ValueError, match=re.escape(says)):
        region_prune(lin, "weight", image_shape=(6, 8), **carving)
    assert not hasattr(lin, "weight_orig") and torch.equal(lin.weight, before)
    with pytest.raises(ValueError, match=re.escape(says)):
        region_mask(before.numpy(), np.ones((5, 48), bool), (6, 8), **carving)


def test_the_docs_example_runs_as_written(mnist_dir):
    """docs/api.md's example, run as a user would from the repository root."""
    text = (REPO / "docs" / "api.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    code = code.replace('"../shared/data/mnist"', repr(str(mnist_dir)))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    acc, density = re.search(r"accuracy ([\d.]+), W1 density ([\d.]+)", out.stdout).groups()
    assert float(acc) > 0.9 and 0.3 < float(density) < 0.5
