"""The carving steps of an iteration, on hand-made arrays with known answers, and against
torch.nn.utils.prune where it implements the same step."""

import numpy as np
import pandas as pd
import pytest

from regionprune.core.carving import carve, cut_weights, decide, keep_top_per_group, prune_pixels
from regionprune.core.pruning import prune_lowest_fraction, prune_lowest_fraction_per_group
from regionprune.core.regions import label_neurons, region_table
from regionprune.workflow.settings import RegionSettings

W = np.array([[0.1, -0.9, 0.3, 0.0], [0.5, 0.2, -0.4, 0.8], [-0.6, 0.05, 0.7, 0.25]])
ALIVE = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=bool)


def test_prune_pixels_removes_whole_columns_by_l2_norm():
    # column norms over surviving weights: sqrt(.01+.25+.36)=.787, sqrt(.81+.04+.0025)=.923,
    # sqrt(.09+.16+.49)=.860, sqrt(.64+.0625)=.838 -> column 0 first, then 3
    got = prune_pixels(W, ALIVE, 0.5)
    assert got[:, [0, 3]].sum() == 0
    np.testing.assert_array_equal(got[:, [1, 2]], ALIVE[:, [1, 2]])
    assert (
        prune_pixels(W, ALIVE, 0.25)[:, 0].sum() == 0 and prune_pixels(W, ALIVE, 0.25)[:, 3].any()
    )
    # pixels no neuron uses are not counted: 3 in use, round(0.5 * 3) = 2 removed
    mask = ALIVE.copy()
    mask[:, 1] = False
    got = prune_pixels(W, mask, 0.5)
    assert got.any(axis=0).tolist() == [False, False, True, False]


def test_prune_pixels_ignores_removed_weights_in_the_norm():
    w = np.array([[9.0, 1.0], [0.0, 1.0]])
    mask = np.array([[False, True], [True, True]])  # the 9 is already removed
    assert prune_pixels(w, mask, 0.5).tolist() == [[False, True], [False, True]]


def test_cut_per_neuron_takes_each_neurons_own_smallest():
    got = cut_weights(W, ALIVE, 0.5, "per_neuron")
    # row 0: 3 alive, round(1.5) = 2 removed (0.1, 0.3); row 1: 2 of 4 (0.2, 0.4); row 2: 0.05, 0.25
    assert got.tolist() == [
        [False, True, False, False],
        [True, False, False, True],
        [True, False, True, False],
    ]
    assert got.any(axis=1).all()  # a per-neuron cut never kills a neuron


def test_cut_global_ranks_all_neurons_together():
    got = cut_weights(W, ALIVE, 0.5, "global")
    # 11 alive, round(5.5) = 6 removed: 0.05, 0.1, 0.2, 0.25, 0.3, 0.4
    kept = np.abs(W)[got]
    assert sorted(kept.tolist()) == [0.5, 0.6, 0.7, 0.8, 0.9]
    with pytest.raises(ValueError, match="cut scope"):
        cut_weights(W, ALIVE, 0.5, "per_pixel")


def test_cut_breaks_ties_by_position():
    w = np.ones((1, 4))
    assert cut_weights(w, np.ones((1, 4), bool), 0.5, "per_neuron").tolist() == [
        [False, False, True, True]
    ]


def test_a_cut_splits_a_blob_at_its_weak_neck():
    # a dumbbell: two strong 2x2 squares joined by a weak bridge
    w = np.zeros((1, 5, 5))
    w[0, 0:2, 0:2] = 1.0
    w[0, 3:5, 3:5] = 0.9
    w[0, 2, 2] = 0.1
    w = w.reshape(1, 25)
    mask = w != 0
    assert label_neurons(mask, (5, 5), 8)[0].max() == 1  # one blob
    cut = cut_weights(w, mask, 1 / 9, "per_neuron")  # round(1/9 * 9) = 1: the bridge
    labels = label_neurons(cut, (5, 5), 8)
    assert labels[0].max() == 2 and not cut[0, 12]


def test_before_labelling_is_a_no_op_by_default_and_runs_pixels_first():
    assert carve(W, ALIVE, **RegionSettings().carve_args()).tolist() == ALIVE.tolist()
    rs = RegionSettings(pixel_cut=0.25, cut=0.5)
    expected = cut_weights(W, prune_pixels(W, ALIVE, 0.25), 0.5, "per_neuron")
    np.testing.assert_array_equal(carve(W, ALIVE, **rs.carve_args()), expected)


def test_keep_top_per_group():
    scores = np.array([1.0, 3.0, 2.0, 5.0, 5.0, 0.5, 4.0])
    groups = np.array([0, 0, 0, 1, 1, 1, 2])
    # group 0 keeps 3.0 and 2.0; group 1 keeps both 5.0s (tie: earlier first); group 2 keeps all
    assert keep_top_per_group(scores, groups, 2).tolist() == [
        True,
        False,
        False,
        False,
        False,
        True,
        False,
    ]
    assert keep_top_per_group(scores, groups, 1).tolist() == [
        True,
        False,
        True,
        False,
        True,
        True,
        False,
    ]
    with pytest.raises(ValueError, match="at least one"):
        keep_top_per_group(scores, groups, 0)


def _table():
    return pd.DataFrame(
        {
            "neuron": [0, 0, 0, 1, 1, 2],
            "region": [1, 2, 3, 1, 2, 1],
            "size": [1, 10, 4, 6, 2, 8],
            "mean_abs": [0.9, 0.2, 0.5, 0.4, 0.3, 0.6],
            "sum_abs": [0.9, 2.0, 2.0, 2.4, 0.6, 4.8],
            "max_abs": [0.9, 0.5, 0.6, 0.5, 0.4, 0.7],
        }
    )


def test_region_decisions_default_is_the_papers_rate_step():
    for scope in ("global", "per_neuron"):
        rs = RegionSettings(rate=0.4, scope=scope)
        scores, removed, reason = decide(_table(), **rs.decide_args())
        t = _table()
        old = (
            prune_lowest_fraction(t["mean_abs"].to_numpy(), 0.4)
            if scope == "global"
            else prune_lowest_fraction_per_group(
                t["mean_abs"].to_numpy(), t["neuron"].to_numpy(), 0.4
            )
        )
        np.testing.assert_array_equal(removed, old)
        assert set(reason[removed]) <= {"rate"} and all(r is None for r in reason[~removed])
        np.testing.assert_array_equal(scores, t["mean_abs"])


def test_region_decisions_min_size_then_rate_then_cap():
    rs = RegionSettings(rate=0.25, min_size=3, max_regions=1, score="sum_abs")
    scores, removed, reason = decide(_table(), **rs.decide_args())
    # min_size: regions of 1 and 2 pixels (rows 0, 4); rate 0.25 of the 4 left: one, the
    # lowest sum_abs (rows 1 and 2 tie at 2.0: the earlier, row 1); cap 1: neuron 0 keeps row 2
    assert reason.tolist() == ["min_size", "rate", None, None, "min_size", None]
    np.testing.assert_array_equal(scores, _table()["sum_abs"])
    rs = RegionSettings(rate=0.0, max_regions=1, score="sum_abs")
    _, removed, reason = decide(_table(), **rs.decide_args())
    # neuron 0: 2.0 and 2.0 tie, the earlier (row 1) stays; neuron 1 keeps 2.4
    assert reason.tolist() == ["max_regions", None, "max_regions", None, "max_regions", None]
    assert removed.tolist() == [r is not None for r in reason]


def test_carving_on_a_real_shaped_map_leaves_at_most_k_regions_of_min_size():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 64))
    mask = np.abs(w) > 0.3
    rs = RegionSettings(rate=0.0, cut=0.3, min_size=2, max_regions=2, score="sum_abs")
    carved = carve(w, mask, **rs.carve_args())
    labels = label_neurons(carved, (8, 8), 8)
    table = region_table(w, labels)
    _, removed, _ = decide(table, **rs.decide_args())
    kept = table[~removed]
    assert kept.groupby("neuron").size().max() <= 2 and kept["size"].min() >= 2


def test_against_torch_prune():
    """The cut and the pixel cut are torch.nn.utils.prune's iterative l1_unstructured and
    ln_structured (n=2, dim=1) on the surviving weights (distinct magnitudes: no ties)."""
    import torch
    from torch.nn.utils import prune

    rng = np.random.default_rng(1)
    w = rng.normal(size=(6, 20)).astype(np.float32)
    mask = rng.random((6, 20)) > 0.3

    def layer():
        lin = torch.nn.Linear(20, 6, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w * mask))  # removed weights count for nothing
        prune.custom_from_mask(lin, "weight", torch.from_numpy(mask))
        return lin

    lin = layer()
    prune.l1_unstructured(lin, "weight", amount=0.3)
    np.testing.assert_array_equal(cut_weights(w, mask, 0.3, "global"), lin.weight_mask.numpy() > 0)

    lin = layer()
    prune.ln_structured(lin, "weight", amount=0.4, n=2, dim=1)
    np.testing.assert_array_equal(prune_pixels(w, mask, 0.4), lin.weight_mask.numpy() > 0)

    for j in range(6):  # per neuron: each row on its own
        row = torch.nn.Linear(20, 1, bias=False)
        with torch.no_grad():
            row.weight.copy_(torch.from_numpy(w[j : j + 1]))
        prune.custom_from_mask(row, "weight", torch.from_numpy(mask[j : j + 1]))
        prune.l1_unstructured(row, "weight", amount=0.3)
        np.testing.assert_array_equal(
            cut_weights(w, mask, 0.3, "per_neuron")[j], row.weight_mask.numpy()[0] > 0
        )


def test_prune_pixels_stops_at_the_budget():
    # 4 pixels in use; rate 0.5 would remove 2 (columns 0, then 3), a budget of 3 allows 1
    assert prune_pixels(W, ALIVE, 0.5, budget=3).any(axis=0).tolist() == [False, True, True, True]
    # at or below the budget, nothing more goes, whatever the rate
    for budget in (4, 5):
        np.testing.assert_array_equal(prune_pixels(W, ALIVE, 0.75, budget=budget), ALIVE)
    # a budget that the rate does not reach changes nothing
    np.testing.assert_array_equal(
        prune_pixels(W, ALIVE, 0.5, budget=1), prune_pixels(W, ALIVE, 0.5)
    )


def test_a_pixel_budget_is_reached_over_iterations_and_held():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(5, 100))
    mask = np.ones_like(w, dtype=bool)
    rs = RegionSettings(pixel_cut=0.3, pixel_budget=20)
    counts = []
    for _ in range(8):
        mask = carve(w, mask, **rs.carve_args())
        counts.append(int(mask.any(axis=0).sum()))
    # 100 -> 70 -> 49 -> 34 (round(0.3 * 49) = 15) -> 24 -> 20 (the budget, not 17) -> 20 ...
    assert counts == [70, 49, 34, 24, 20, 20, 20, 20]
