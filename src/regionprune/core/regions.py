"""Connected regions of surviving weights on each hidden neuron's input grid (no I/O, no torch).

A hidden neuron's input weights, reshaped to the input image (28x28 for MNIST), form a map. The
surviving weights of that map fall into connected regions (OpenCV's connected components, 4- or
8-connectivity). Labels are per neuron: 0 is the removed background, regions are 1..n_i in
OpenCV's raster order (by their first pixel, row by row), so every labelling is reproducible.

The region table has one row per (neuron, region), ordered by neuron then region, with columns
``REGION_COLUMNS``. Everything downstream (scores, pruning decisions) is aligned to its rows.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.core.choices import CONNECTIVITIES
from regionprune.core.pruning import BoolArray, FloatArray
from regionprune.core.scores import SCORES

LabelArray = NDArray[np.int32]

#: The region table's columns: ids, size, a column per score (``scores.SCORES``), then where
#: the region lies.
REGION_COLUMNS = (
    "neuron",
    "region",
    "size",
    *(name for name in SCORES if name != "size"),
    "top",
    "left",
    "height",
    "width",
    "centroid_row",
    "centroid_col",
)


def label_map(mask2d: BoolArray, connectivity: int) -> LabelArray:
    """Label the connected regions of one boolean map: 0 background, 1..n regions."""
    if connectivity not in CONNECTIVITIES:
        raise ValueError(
            f"connectivity must be {' or '.join(map(str, CONNECTIVITIES))}, got {connectivity}"
        )
    mask2d = np.asarray(mask2d, dtype=bool)
    if mask2d.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {mask2d.shape}")
    _, labels = cv2.connectedComponents(
        mask2d.astype(np.uint8), connectivity=connectivity, ltype=cv2.CV_32S
    )
    return labels.astype(np.int32, copy=False)


def label_neurons(mask: BoolArray, image_shape: tuple[int, int], connectivity: int) -> LabelArray:
    """Label every neuron's map: ``mask`` is ``(neurons, H*W)``, the result ``(neurons, H, W)``."""
    mask = np.asarray(mask, dtype=bool)
    h, w = image_shape
    if mask.ndim != 2 or mask.shape[1] != h * w:
        raise ValueError(f"mask shape {mask.shape} does not fit (neurons, {h}*{w})")
    maps = mask.reshape(-1, h, w)
    if len(maps) == 0:
        return np.zeros((0, h, w), dtype=np.int32)
    return np.stack([label_map(m, connectivity) for m in maps])


def global_ids(labels: LabelArray) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per pixel, a table-row index (-1 for background); and the region count per neuron."""
    n_neurons = labels.shape[0]
    flat = labels.reshape(n_neurons, -1).astype(np.int64)
    counts = flat.max(axis=1, initial=0)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    present = np.zeros((n_neurons, int(counts.max(initial=0)) + 1), dtype=bool)
    present[np.repeat(np.arange(n_neurons), flat.shape[1]), flat.ravel()] = True
    if not all(present[i, 1 : c + 1].all() for i, c in enumerate(counts)):
        raise ValueError("labels must run 1..n per neuron without gaps (as label_neurons gives)")
    gid = np.where(flat > 0, flat - 1 + offsets[:, None], -1)
    return gid, counts


def region_index(counts: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(neuron, region id) of every row of the region table, from the region count per neuron
    (``global_ids``' second result): neuron by neuron, ids 1..n_i."""
    counts = np.asarray(counts, dtype=np.int64)
    neuron = np.repeat(np.arange(len(counts)), counts)
    region = np.concatenate([np.arange(1, c + 1) for c in counts]) if counts.sum() else np.zeros(0)
    return neuron, region.astype(np.int64)


def region_table(weight: FloatArray, labels: LabelArray) -> pd.DataFrame:
    """Size, |w| statistics, bounding box and centroid of every region of every neuron.

    ``weight`` is ``(neurons, H*W)``; ``labels`` is ``(neurons, H, W)`` from ``label_neurons``.
    Bounding boxes are inclusive-exclusive like OpenCV's: rows ``top .. top+height-1``.
    """
    labels = np.asarray(labels)
    n_neurons, h, w = labels.shape
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != (n_neurons, h * w):
        raise ValueError(f"weight shape {weight.shape} does not fit labels {labels.shape}")
    gid, counts = global_ids(labels)
    n = int(counts.sum())
    inside = gid >= 0
    g = gid[inside]
    absw = np.abs(weight)[inside]
    pix = np.broadcast_to(np.arange(h * w), gid.shape)[inside]
    rows, cols = np.divmod(pix, w)

    size = np.bincount(g, minlength=n)
    top = np.full(n, h, dtype=np.int64)
    left = np.full(n, w, dtype=np.int64)
    bottom = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    np.minimum.at(top, g, rows)
    np.minimum.at(left, g, cols)
    np.maximum.at(bottom, g, rows)
    np.maximum.at(right, g, cols)

    neuron, region = region_index(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "neuron": neuron.astype(np.int32),
                "region": region.astype(np.int32),
                "size": size.astype(np.int32),
                **{name: score(absw, g, n) for name, score in SCORES.items() if name != "size"},
                "top": top.astype(np.int32),
                "left": left.astype(np.int32),
                "height": (bottom - top + 1).astype(np.int32),
                "width": (right - left + 1).astype(np.int32),
                "centroid_row": np.bincount(g, weights=rows, minlength=n) / size,
                "centroid_col": np.bincount(g, weights=cols, minlength=n) / size,
            },
            columns=list(REGION_COLUMNS),
        )
    return table


def region_scores(table: pd.DataFrame, score: str = "mean_abs") -> FloatArray:
    """The column of the region table that pruning ranks by (the paper: mean |w|)."""
    if score not in SCORES:
        raise ValueError(f"region score must be one of {tuple(SCORES)}, got {score!r}")
    return table[score].to_numpy(dtype=np.float64)


def remove_regions(labels: LabelArray, removed: BoolArray) -> LabelArray:
    """Labels with the regions marked in ``removed`` (aligned to the region table) set to 0.

    Surviving regions keep their ids, so a label map stays comparable across iterations.
    """
    labels = np.asarray(labels)
    removed = np.asarray(removed, dtype=bool)
    gid, counts = global_ids(labels)
    if removed.shape != (int(counts.sum()),):
        raise ValueError(f"{removed.shape[0]} decisions for {int(counts.sum())} regions")
    drop = np.zeros(gid.shape, dtype=bool)
    inside = gid >= 0
    drop[inside] = removed[gid[inside]]
    return np.where(drop.reshape(labels.shape), 0, labels).astype(np.int32)


def mask_from_labels(labels: LabelArray) -> BoolArray:
    """The ``(neurons, H*W)`` mask of every labelled pixel."""
    labels = np.asarray(labels)
    return (labels > 0).reshape(labels.shape[0], -1)
