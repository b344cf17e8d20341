"""Measures of one stage of a network (pure: arrays in, numbers and tables out); the workflow's
tables over many runs are ``tables``'."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regionprune.core.pruning import density, neuron_pruning_ratios
from regionprune.core.regions import global_ids, mask_from_labels
from regionprune.core.network import W1
from regionprune.core.network import Checkpoint


def participation_ratio(weight: np.ndarray) -> np.ndarray:
    """Per row (a neuron's input weights): the inverse participation ratio
    ``sum w^4 / (sum w^2)^2``, the locality measure of the receptive-field literature: 1/n for
    n equal weights, 1 for a single one; NaN for a neuron without weights."""
    w2 = np.asarray(weight, dtype=np.float64) ** 2
    total = w2.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (w2**2).sum(axis=1) / total**2, np.nan)


def region_sizes(labels: np.ndarray) -> np.ndarray:
    """Pixels of every region of every neuron (``labels`` from ``regions.label_neurons``)."""
    gid, _ = global_ids(labels)
    return np.bincount(gid[gid >= 0])


def neuron_table(labels: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    """Per hidden neuron: pruning ratio, surviving weights, regions, largest region's share and
    the inverse participation ratio of its surviving weights. ``labels`` are the regions of the
    stage's mask (``regions.label_neurons``), ``weight`` is W1, ``(neurons, H*W)``."""
    mask = mask_from_labels(labels)
    ratios = neuron_pruning_ratios(mask)
    ipr = participation_ratio(np.where(mask, weight, 0.0))
    rows = []
    for n, lab in enumerate(labels):
        sizes = np.bincount(lab.ravel())[1:]
        sizes = sizes[sizes > 0]
        total = int(sizes.sum())
        rows.append(
            {
                "neuron": n,
                "pruning_ratio": float(ratios[n]),
                "weights": total,
                "regions": len(sizes),
                "largest_region_share": float(sizes.max() / total) if total else np.nan,
                "ipr": float(ipr[n]),
            }
        )
    return pd.DataFrame(rows)


def pixel_usage(
    mask: np.ndarray, image_shape: tuple[int, int], inactive: np.ndarray | None = None
) -> pd.DataFrame:
    """Per input pixel: how many hidden neurons still take it as input, and whether the pixel
    is zero in every training image (``inactive``; all False if not given)."""
    h, w = image_shape
    used = np.asarray(mask, dtype=bool).sum(axis=0)
    rows, cols = np.divmod(np.arange(h * w), w)
    blank = np.zeros(h * w, dtype=bool) if inactive is None else np.asarray(inactive, dtype=bool)
    return pd.DataFrame(
        {"pixel": np.arange(h * w), "row": rows, "col": cols, "neurons": used, "inactive": blank}
    )


def stage_metrics(
    ckpt: Checkpoint, labels: np.ndarray, inactive: np.ndarray | None = None
) -> dict[str, Any]:
    """Accuracy, sparsity, the per-neuron split and how readable the maps are, at one stage.

    ``labels`` are the regions of the stage's mask (``regions.label_neurons``). The collect job
    labels every stage afresh, with the run's connectivity, whatever the method: deliberately,
    so that every method is measured the same way (the region method's own labels would miss
    its matched baselines, and a carved run's the mask before its cut). ``inactive`` marks the
    input pixels that are zero in every training image (none if omitted): their surviving
    weights never had a gradient, and are counted apart.
    """
    mask = ckpt.mask(W1)
    if not np.array_equal(mask_from_labels(labels), mask):
        raise ValueError("the labels do not cover the stage's surviving W1 weights")
    inactive = np.zeros(mask.shape[1], dtype=bool) if inactive is None else inactive
    ratios = neuron_pruning_ratios(mask)
    neurons = neuron_table(labels, ckpt.params[W1])
    alive = neurons[neurons["weights"] > 0]
    sizes = region_sizes(labels)
    if not sizes.size:
        sizes = np.array([np.nan])
    total = sum(int(p.size) for p in ckpt.params.values())
    nonzero = sum(int(np.count_nonzero(p)) for p in ckpt.params.values())
    return {
        "stage": ckpt.attrs["stage"],
        "iteration": int(ckpt.attrs["iteration"]),
        "test_acc": float(ckpt.attrs["test_acc"]),
        "test_loss": float(ckpt.attrs["test_loss"]),
        "w1_density": density(mask),
        "w1_nonzero": int(mask.sum()),
        "total_params": total,
        "nonzero_params": nonzero,
        "neurons_ge90_pruned": float(np.mean(ratios >= 0.9)),
        "neurons_le40_pruned": float(np.mean(ratios <= 0.4)),
        "neurons_dead": int(np.sum(ratios == 1.0)),
        "alive_neurons": len(alive),
        "pixels_used": int(mask.any(axis=0).sum()),
        "inactive_pixels_used": int(mask[:, inactive].any(axis=0).sum()),
        "inactive_weights": int(mask[:, inactive].sum()),
        "n_regions": int(neurons["regions"].sum()),
        "regions_per_neuron": float(alive["regions"].mean()) if len(alive) else np.nan,
        "largest_region_share": (
            float(alive["largest_region_share"].mean()) if len(alive) else np.nan
        ),
        "region_px_median": float(np.median(sizes)),
        "region_px_p90": float(np.percentile(sizes, 90)),
        "ipr_median": float(alive["ipr"].median()) if len(alive) else np.nan,
        "ratio_q10": float(np.quantile(ratios, 0.1)),
        "ratio_median": float(np.median(ratios)),
        "ratio_q90": float(np.quantile(ratios, 0.9)),
    }
