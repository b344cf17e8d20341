"""Pruning as pure functions from scores to masks (numpy only, no I/O).

Conventions, shared by every function here:
- a mask is a boolean array shaped like the weight it belongs to; True = the weight survives;
- "remove a fraction ``rate`` of N things" removes ``round(rate * N)`` of them, with Python's
  ``round`` as ``torch.nn.utils.prune`` does (half to even: 0.5 of 5 removes 2);
- ties in the score are broken by position (C order): the earlier element is removed first, so
  every result is exactly reproducible and removes exactly the stated count.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.floating]

#: How single weights are ranked (first pruning, matched baselines): by |w| (Han et al.), or at
#: random (a control).
CRITERIA = ("magnitude", "random")


def count_to_remove(rate: float, n: int) -> int:
    """How many of ``n`` things a pruning ``rate`` removes."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"pruning rate must lie in [0, 1], got {rate}")
    return int(round(rate * n))


def lowest(scores: FloatArray, k: int) -> BoolArray:
    """Boolean array marking the ``k`` smallest entries of ``scores`` (ties: earlier first)."""
    scores = np.asarray(scores)
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity; the network has diverged?")
    if not 0 <= k <= scores.size:
        raise ValueError(f"cannot mark {k} of {scores.size} scores")
    order = np.argsort(scores, axis=None, kind="stable")
    marked = np.zeros(scores.size, dtype=bool)
    marked[order[:k]] = True
    return marked.reshape(scores.shape)


def magnitude_mask(weight: FloatArray, rate: float, mask: BoolArray | None = None) -> BoolArray:
    """Han et al.'s pruning: remove ``rate`` of the surviving weights with the smallest |w|.

    ``mask`` (optional) says which weights survive so far; by default all do. The result is a
    new mask with ``round(rate * surviving)`` more weights removed, ranked over the whole tensor.
    """
    return prune_fraction(np.abs(np.asarray(weight)), rate, mask)


def prune_fraction(
    scores: FloatArray, rate: float, mask: BoolArray | None = None, first: BoolArray | None = None
) -> BoolArray:
    """Remove ``rate`` of the surviving entries with the lowest scores (all survive by default).

    ``first`` (optional, broadcast to the scores' shape) marks entries removed before any other,
    whatever their score; they count towards ``rate``, so the result has the same size either
    way unless ``first`` alone removes more.
    """
    scores = np.asarray(scores)
    alive = np.ones(scores.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if alive.shape != scores.shape:
        raise ValueError(f"mask shape {alive.shape} differs from weight shape {scores.shape}")
    n_alive = int(alive.sum())
    keep = n_alive - count_to_remove(rate, n_alive)
    if first is not None:
        alive = alive & ~np.broadcast_to(np.asarray(first, dtype=bool), scores.shape)
        keep = min(keep, int(alive.sum()))
    return prune_to_count(scores, alive, keep)


def prune_to_count(scores: FloatArray, mask: BoolArray, keep: int) -> BoolArray:
    """Remove the lowest-scoring surviving entries until exactly ``keep`` survive.

    With ``scores = |w|`` this is magnitude pruning to a target density; with ``random_scores``
    it is random pruning. Entries already removed stay removed.
    """
    scores = np.asarray(scores)
    alive = np.asarray(mask, dtype=bool)
    if alive.shape != scores.shape:
        raise ValueError(f"mask shape {alive.shape} differs from scores shape {scores.shape}")
    alive_idx = np.flatnonzero(alive)  # ascending, so ties keep C order
    if not 0 <= keep <= alive_idx.size:
        raise ValueError(f"cannot keep {keep} of {alive_idx.size} surviving weights")
    drop = lowest(scores.ravel()[alive_idx], alive_idx.size - keep)
    out = alive.ravel().copy()
    out[alive_idx[drop]] = False
    return out.reshape(scores.shape)


def random_scores(shape: tuple[int, ...], seed: int) -> FloatArray:
    """Uniform random scores from a seed: ranking by them is random pruning, reproducibly."""
    return np.random.default_rng(seed).random(shape)


def criterion_scores(criterion: str, weight: FloatArray, seed: int) -> FloatArray:
    """The scores a weight-pruning criterion ranks ``weight`` by (``seed``: random only)."""
    if criterion == "magnitude":
        return np.abs(np.asarray(weight))
    if criterion == "random":
        return random_scores(np.shape(weight), seed)
    raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


def prune_lowest_fraction(scores: FloatArray, rate: float) -> BoolArray:
    """Mark the ``rate`` fraction of ``scores`` with the lowest values for removal."""
    scores = np.asarray(scores)
    return lowest(scores, count_to_remove(rate, scores.size))


def prune_lowest_fraction_per_group(
    scores: FloatArray, groups: NDArray[np.integer], rate: float
) -> BoolArray:
    """Within every group (a neuron's regions), mark its ``rate`` fraction of lowest scores."""
    scores = np.asarray(scores)
    groups = np.asarray(groups)
    if groups.shape != scores.shape:
        raise ValueError(f"groups shape {groups.shape} differs from scores shape {scores.shape}")
    marked = np.zeros(scores.shape, dtype=bool)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        marked[idx] = prune_lowest_fraction(scores[idx], rate)
    return marked


def density(mask: BoolArray) -> float:
    """Surviving fraction of a mask."""
    mask = np.asarray(mask)
    return float(mask.mean()) if mask.size else 0.0


def neuron_pruning_ratios(mask: BoolArray) -> FloatArray:
    """Per hidden neuron (row of a ``(neurons, inputs)`` mask): fraction of inputs removed."""
    mask = np.asarray(mask, dtype=bool)
    return 1.0 - mask.mean(axis=1)
