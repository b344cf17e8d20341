"""One iteration of the region method, as pure steps from weights and masks to a new mask.

In order (``settings.RegionSettings``; every step but 5 is off by default, which is the paper):

1. ``pixel_cut``: remove a fraction of the input pixels still in use, all of a pixel's surviving
   weights at once, those with the smallest joint magnitude (L2 norm) first; with
   ``pixel_budget``, never below that many pixels (the pixel stage ends there);
2. ``cut``: remove a fraction of the surviving weights with the smallest |w|, of each neuron
   (``per_neuron``) or of all neurons together (``global``), so that a neuron's blob falls apart
   into its strong cores;
3. label the connected regions (``regions.label_neurons``);
4. ``min_size``: remove the regions of fewer pixels;
5. ``rate``: remove the lowest-scoring fraction of the regions left (the paper's step 4, of all
   neurons together or per neuron);
6. ``max_regions``: every neuron keeps at most its highest-scoring regions.

Steps 1-2 change the mask before labelling (``carve``, the ``label`` job); steps 4-6
decide on the region table (``decide``, the ``prune`` job). Counting and ties follow
``pruning``: ``round(rate * n)`` removed, ties by position.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.core.pruning import (
    BoolArray,
    FloatArray,
    count_to_remove,
    lowest,
    prune_fraction,
    prune_lowest_fraction,
    prune_lowest_fraction_per_group,
)
from regionprune.core.choices import SCOPES
from regionprune.core.regions import region_scores

#: Why a region was removed (``regions_pruned.parquet``, column ``removed_by``), in step order.
REASONS = ("min_size", "rate", "max_regions")


def prune_pixels(
    weight: FloatArray, mask: BoolArray, rate: float, budget: int | None = None
) -> BoolArray:
    """Remove ``rate`` of the input pixels (columns) still in use, all their weights at once,
    those whose surviving weights have the smallest L2 norm first (ties: lower pixel first);
    with ``budget``, only as many as leave ``budget`` pixels in use (none once at or below)."""
    weight, mask = np.asarray(weight), np.asarray(mask, dtype=bool)
    used = np.flatnonzero(mask.any(axis=0))
    norms = np.sqrt((np.where(mask, weight, 0.0).astype(np.float64) ** 2).sum(axis=0))
    n = count_to_remove(rate, used.size)
    if budget is not None:
        n = min(n, max(0, used.size - budget))
    drop = used[lowest(norms[used], n)]
    out = mask.copy()
    out[:, drop] = False
    return out


def cut_weights(weight: FloatArray, mask: BoolArray, rate: float, scope: str) -> BoolArray:
    """Remove ``rate`` of the surviving weights with the smallest |w|: of every neuron (row)
    on its own (``per_neuron``), or of all neurons together (``global``)."""
    if scope not in SCOPES:
        raise ValueError(f"cut scope must be one of {SCOPES}, got {scope!r}")
    absw, mask = np.abs(np.asarray(weight)), np.asarray(mask, dtype=bool)
    if scope == "global":
        return prune_fraction(absw, rate, mask)
    rows, cols = np.nonzero(mask)  # C order: ties go by position within each neuron
    drop = prune_lowest_fraction_per_group(absw[rows, cols], rows, rate)
    out = mask.copy()
    out[rows[drop], cols[drop]] = False
    return out


def carve(
    weight: FloatArray,
    mask: BoolArray,
    *,
    pixel_cut: float = 0.0,
    pixel_budget: int | None = None,
    cut: float = 0.0,
    cut_scope: str = "per_neuron",
) -> BoolArray:
    """Steps 1-2 of an iteration: the mask whose connected regions are labelled next."""
    mask = np.asarray(mask, dtype=bool)
    if pixel_cut:
        mask = prune_pixels(weight, mask, pixel_cut, pixel_budget)
    if cut:
        mask = cut_weights(weight, mask, cut, cut_scope)
    return mask


def keep_top_per_group(scores: FloatArray, groups: NDArray[np.integer], k: int) -> BoolArray:
    """Mark for removal all but the ``k`` highest scores of every group (ties: earlier kept)."""
    scores, groups = np.asarray(scores, dtype=np.float64), np.asarray(groups)
    if k < 1:
        raise ValueError(f"must keep at least one per group, got {k}")
    order = np.lexsort((-scores, groups))  # by group, then score descending; stable: earlier first
    rank = np.empty(len(order), dtype=np.int64)
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = np.arange(len(order)) - run_start
    return rank >= k


def decide(
    table: pd.DataFrame,
    *,
    rate: float = 0.4,
    score: str = "mean_abs",
    scope: str = "global",
    min_size: int = 1,
    max_regions: int | None = None,
) -> tuple[FloatArray, BoolArray, NDArray[np.object_]]:
    """Steps 4-6 on a region table (``regions.region_table``): each region's score, whether it
    is removed, and by which step (``REASONS``; None where kept)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    scores = region_scores(table, score)
    neuron = table["neuron"].to_numpy()
    reason = np.full(len(table), None, dtype=object)
    removed = table["size"].to_numpy() < min_size
    reason[removed] = "min_size"
    left = np.flatnonzero(~removed)
    if scope == "global":
        by_rate = prune_lowest_fraction(scores[left], rate)
    else:
        by_rate = prune_lowest_fraction_per_group(scores[left], neuron[left], rate)
    removed[left[by_rate]] = True
    reason[left[by_rate]] = "rate"
    if max_regions is not None:
        left = np.flatnonzero(~removed)
        over = keep_top_per_group(scores[left], neuron[left], max_regions)
        removed[left[over]] = True
        reason[left[over]] = "max_regions"
    return scores, removed, reason
