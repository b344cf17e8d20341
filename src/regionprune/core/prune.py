"""Region pruning as a ``torch.nn.utils.prune`` method, for any ``nn.Linear`` whose inputs are
the pixels of an image (row-major, ``H * W`` of them).

One call is one iteration of the paper's step 2-4 on the surviving weights (the current mask):
the carving steps before labelling (``pixel_cut``, ``cut``), the connected regions of each output
neuron's surviving weights on the ``H x W`` grid, their scores, and the removal of the lowest
``amount`` of them (``min_size`` and ``max_regions`` too). The mask is the workflow's for the same
weights and settings (a test checks it against a real run's files); the arithmetic is
``carving``'s and ``regions``' functions, which the workflow's jobs call.

    import torch.nn.utils.prune as prune
    from regionprune.core.prune import region_prune

    prune.l1_unstructured(model.fc1, "weight", amount=0.5)          # Han et al.'s first step
    region_prune(model.fc1, "weight", amount=0.4, image_shape=(28, 28))  # one iteration
    ... retrain: the mask holds the removed weights at zero ...
    prune.remove(model.fc1, "weight")                                # make it permanent

It composes with torch's own methods (a ``PruningContainer`` passes it the combined mask) and
with ``prune.remove``; ``PRUNING_TYPE`` is ``global`` because regions need the whole 2-D weight.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from regionprune.core.carving import carve, decide
from regionprune.core.regions import label_neurons, mask_from_labels, region_table, remove_regions


def check_carving(
    pixel_cut: float = 0.0,
    pixel_budget: int | None = None,
    cut: float = 0.0,
    min_size: int = 1,
    max_regions: int | None = None,
    **_: Any,
) -> None:
    """A ValueError that names the carving setting out of its range (the workflow's config
    checks the same ranges, ``RegionSettings``, before any job)."""
    for name, value in (("pixel_cut", pixel_cut), ("cut", cut)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} is a fraction removed per iteration, in [0, 1), got {value}")
    for name, value, off in (("min_size", min_size, "1"), ("max_regions", max_regions, "None")):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1 ({off}: off), got {value}")
    if pixel_budget is not None and (pixel_budget < 1 or not pixel_cut):
        raise ValueError(
            f"pixel_budget={pixel_budget} needs pixel_cut > 0 (the pace at which the pixels in"
            " use are cut down to it) and must be at least 1"
        )


def region_mask(
    weight: np.ndarray,
    mask: np.ndarray,
    image_shape: tuple[int, int],
    *,
    amount: float = 0.4,
    connectivity: int = 8,
    score: str = "mean_abs",
    scope: str = "global",
    pixel_cut: float = 0.0,
    pixel_budget: int | None = None,
    cut: float = 0.0,
    cut_scope: str = "per_neuron",
    min_size: int = 1,
    max_regions: int | None = None,
) -> np.ndarray:
    """One iteration on numpy arrays: the new boolean mask of ``weight`` ``(out, H * W)``, a
    subset of ``mask``. The defaults are the paper's (40% of all regions, 8-connected, by mean
    |w|, carving off)."""
    check_carving(pixel_cut, pixel_budget, cut, min_size, max_regions)
    weight, mask = np.asarray(weight), np.asarray(mask, dtype=bool)
    if weight.ndim != 2 or weight.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"weight of shape {weight.shape} does not take {image_shape[0]}x"
            f"{image_shape[1]} images: it needs {image_shape[0] * image_shape[1]}"
            " inputs"
        )
    carved = carve(
        weight, mask, pixel_cut=pixel_cut, pixel_budget=pixel_budget, cut=cut, cut_scope=cut_scope
    )
    labels = label_neurons(carved, image_shape, connectivity)
    table = region_table(weight, labels)
    _, removed, _ = decide(
        table, rate=amount, score=score, scope=scope, min_size=min_size, max_regions=max_regions
    )
    return mask_from_labels(remove_regions(labels, removed))


class RegionPruning(prune.BasePruningMethod):
    """One iteration of region pruning (``region_mask``) as a pruning method."""

    PRUNING_TYPE = "global"  # the whole weight at once: regions are 2-D

    def __init__(
        self, amount: float = 0.4, image_shape: tuple[int, int] = (28, 28), **settings: Any
    ):
        prune._validate_pruning_amount_init(amount)
        if isinstance(amount, int):
            raise TypeError("amount is a fraction of the regions, a float in [0, 1]")
        check_carving(**settings)  # before the module is touched
        self.amount = amount
        self.image_shape = tuple(image_shape)
        self.settings = settings

    def compute_mask(self, t: torch.Tensor, default_mask: torch.Tensor) -> torch.Tensor:
        keep = region_mask(
            t.detach().cpu().numpy(),
            default_mask.detach().cpu().numpy() != 0,
            self.image_shape,
            amount=self.amount,
            **self.settings,
        )
        return torch.from_numpy(keep).to(dtype=default_mask.dtype, device=default_mask.device)

    @classmethod
    def apply(
        cls,
        module: nn.Module,
        name: str,
        amount: float = 0.4,  # type: ignore[override]
        image_shape: tuple[int, int] = (28, 28),
        importance_scores: torch.Tensor | None = None,
        **settings: Any,
    ) -> RegionPruning:
        return super().apply(
            module,
            name,
            amount=amount,
            image_shape=image_shape,
            importance_scores=importance_scores,
            **settings,
        )


def region_prune(
    module: nn.Module,
    name: str = "weight",
    amount: float = 0.4,
    image_shape: tuple[int, int] = (28, 28),
    connectivity: int = 8,
    score: str = "mean_abs",
    scope: str = "global",
    **carving: Any,
) -> nn.Module:
    """Prune ``module.<name>`` by one iteration of region pruning, as torch's pruning functions
    do: a ``<name>_mask`` buffer and ``<name>_orig`` parameter, ``<name>`` recomputed before each
    forward. ``carving``: ``pixel_cut``, ``pixel_budget``, ``cut``, ``cut_scope``, ``min_size``,
    ``max_regions`` (off by default, the paper's method). Returns the module."""
    RegionPruning.apply(
        module,
        name,
        amount,
        image_shape,
        connectivity=connectivity,
        score=score,
        scope=scope,
        **carving,
    )
    return module


def carve_prune(
    module: nn.Module,
    name: str = "weight",
    image_shape: tuple[int, int] = (28, 28),
    *,
    max_regions: int = 2,
    cut: float = 0.1,
    score: str = "sum_abs",
    **settings: Any,
) -> nn.Module:
    """One iteration of the carving that makes maps readable (``workflow/presets``): cut each
    neuron's weakest ``cut`` of its weights, then keep its ``max_regions`` regions of the largest
    summed |w|, removing no region by rate. Settings as ``region_prune``'s."""
    return region_prune(
        module, name, 0.0, image_shape, score=score, cut=cut, max_regions=max_regions, **settings
    )
