"""The decision basis of a pruned network, measured: what each region does for each class.

Pure numpy (no torch, no I/O), so that the math is testable on hand-made arrays:

- ``Net``: the MLP's forward pass over numpy arrays, with W1's mask applied.
- ``region_importance``: zero one region (one hidden neuron's connected set of surviving input
  weights) and measure, per class, the change in accuracy, in the mean logit and in the mean
  log-probability of that class over the images of that class. All regions at once:
  removing region g of neuron j only changes neuron j's pre-activation by
  ``x[:, P_g] @ w1[j, P_g]``, so one matrix product gives every region's change, and the layers
  after it run on chunks of regions as one batch.
- ``evidence_maps``: per class, the regions painted with their importance for it.
- ``deletion_order`` / ``deletion_curve``: the faithfulness test. Remove W1 weights in the order
  a method ranks them for a class, and measure that class's accuracy at fixed budgets.

Sign convention: every ``delta`` is after - before, so a region that supports a class has a
negative delta for it. A region's *importance* for a class is ``-delta_logprob``: the log-
probability counts only what moves the class against the others (removing a region of a sigmoid
network lowers every logit a little, which the raw logit would count as evidence for all
classes at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.regions import global_ids, region_index

F32 = NDArray[np.float32]

#: Columns of region_importance.parquet after ``run`` and ``iteration``.
IMPORTANCE_COLUMNS = (
    "neuron", "region", "class", "size", "delta_acc", "delta_logit", "delta_logprob",
)  # fmt: skip


def _sigmoid(z: F32) -> F32:
    # exp of -|z| never overflows; same values as 1 / (1 + exp(-z))
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


_ACT = {
    "sigmoid": _sigmoid,
    "relu": lambda z: np.maximum(z, 0, dtype=z.dtype),
    "tanh": np.tanh,
}


@dataclass(frozen=True)
class Net:
    """``fc1 -> act -> fc2 -> act -> fc3`` over numpy float32 arrays; ``w1`` already masked."""

    w1: F32
    b1: F32
    w2: F32
    b2: F32
    w3: F32
    b3: F32
    activation: str

    @classmethod
    def from_params(
        cls, params: dict[str, NDArray], activation: str, mask: NDArray[np.bool_] | None = None
    ) -> Net:
        if activation not in _ACT:
            raise ValueError(f"activation must be one of {sorted(_ACT)}, got {activation!r}")
        p = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
        w1 = p["fc1.weight"] if mask is None else p["fc1.weight"] * mask
        return cls(w1, p["fc1.bias"], p["fc2.weight"], p["fc2.bias"], p["fc3.weight"],
                   p["fc3.bias"], activation)  # fmt: skip

    def act(self, z: F32) -> F32:
        return _ACT[self.activation](z)

    def with_w1(self, w1: F32) -> Net:
        return Net(w1, self.b1, self.w2, self.b2, self.w3, self.b3, self.activation)

    def hidden(self, x: F32) -> tuple[F32, F32, F32]:
        """(z1, h1, z2): pre-activation and activation of layer 1, pre-activation of layer 2."""
        z1 = x @ self.w1.T + self.b1
        h1 = self.act(z1)
        return z1, h1, h1 @ self.w2.T + self.b2

    def head(self, z2: F32) -> F32:
        """Logits from layer 2's pre-activation (any leading shape)."""
        return self.act(z2) @ self.w3.T + self.b3

    def logits(self, x: F32) -> F32:
        return self.head(self.hidden(x)[2])


def log_softmax(logits: F32) -> F32:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def class_scores(logits: F32, y: NDArray, n_classes: int) -> tuple[NDArray, NDArray, NDArray]:
    """Per class c, over the images of class c: accuracy, the mean logit of class c, and the
    mean log-probability (log-softmax) of class c.

    ``logits`` may carry leading batch axes (``(..., N, C)``); the results are ``(..., C)``.
    """
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if np.any(counts == 0):
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no images")
    onehot = np.eye(n_classes, dtype=np.float64)[y] / counts  # (N, C): a class mean as a product
    index = np.broadcast_to(y[:, None], (*logits.shape[:-1], 1))

    def own(values: F32) -> NDArray:  # (..., N): each image's value for its own class
        return np.take_along_axis(values, index, axis=-1)[..., 0].astype(np.float64)

    correct = (logits.argmax(axis=-1) == y).astype(np.float64)
    return correct @ onehot, own(logits) @ onehot, own(log_softmax(logits)) @ onehot


def region_importance(
    net: Net,
    labels: NDArray[np.int32],
    x: F32,
    y: NDArray,
    n_classes: int = 10,
    max_elements: int = 2**22,
) -> pd.DataFrame:
    """Ablate every region on its own; per class, the change in accuracy, own-class logit and
    own-class log-probability over that class's images.

    ``labels`` is ``(neurons, H, W)`` from ``regions.label_neurons`` (region ids 1..n per neuron,
    the region table's order); ``x`` is ``(N, H*W)`` float32 in [0, 1]. One row per (region,
    class), ordered by neuron, region, class, with ``IMPORTANCE_COLUMNS``. ``max_elements``
    bounds the working array (regions per chunk x N x layer-2 width).
    """
    x = np.asarray(x, dtype=np.float32)
    gid, counts = global_ids(labels)  # (neurons, H*W): row of the region table, -1 background
    n = int(counts.sum())
    neuron, region = region_index(counts)
    size = np.bincount(gid[gid >= 0], minlength=n)

    # R[p, g] = w1[neuron(g), p] for the pixels p of region g: x @ R is each region's share of
    # its neuron's pre-activation.
    rows, pix = np.nonzero(gid >= 0)
    r = np.zeros((x.shape[1], n), dtype=np.float32)
    r[pix, gid[rows, pix]] = net.w1[rows, pix]
    share = x @ r  # (N, n)

    z1, h1, z2 = net.hidden(x)
    acc0, logit0, logp0 = class_scores(net.head(z2), y, n_classes)
    d_acc = np.zeros((n, n_classes))
    d_logit = np.zeros((n, n_classes))
    d_logp = np.zeros((n, n_classes))
    chunk = max(1, max_elements // max(1, x.shape[0] * z2.shape[1]))
    for start in range(0, n, chunk):
        g = np.arange(start, min(start + chunk, n))
        j = neuron[g]
        dh = net.act(z1[:, j] - share[:, g]) - h1[:, j]  # (N, G): only neuron j changes
        z2g = z2[None] + dh.T[:, :, None] * net.w2[:, j].T[:, None, :]  # (G, N, width2)
        acc, logit, logp = class_scores(net.head(z2g), y, n_classes)
        d_acc[g] = acc - acc0
        d_logit[g] = logit - logit0
        d_logp[g] = logp - logp0
    return pd.DataFrame(
        {
            "neuron": np.repeat(neuron, n_classes).astype(np.int32),
            "region": np.repeat(region, n_classes).astype(np.int32),
            "class": np.tile(np.arange(n_classes), n).astype(np.int32),
            "size": np.repeat(size, n_classes).astype(np.int32),
            "delta_acc": d_acc.ravel(),
            "delta_logit": d_logit.ravel(),
            "delta_logprob": d_logp.ravel(),
        },
        columns=list(IMPORTANCE_COLUMNS),
    )


def importance_matrix(table: pd.DataFrame, n_regions: int, n_classes: int) -> NDArray:
    """``(regions, classes)`` importance, ``-delta_logprob``, from a region_importance table."""
    values = -table.sort_values(["neuron", "region", "class"])["delta_logprob"].to_numpy()
    if values.size != n_regions * n_classes:
        raise ValueError(f"{values.size} rows for {n_regions} regions x {n_classes} classes")
    return values.reshape(n_regions, n_classes)


def specific_importance(importance: NDArray) -> NDArray[np.float64]:
    """What a region does for a class beyond what it does for every class: each class's
    importances divided by their spread over regions (some classes are easier to hurt than
    others), then each region's mean over classes subtracted."""
    imp = np.asarray(importance, dtype=np.float64)
    spread = imp.std(axis=0, keepdims=True)
    z = imp / np.where(spread > 0, spread, 1.0)
    return z - z.mean(axis=1, keepdims=True)


def evidence_maps(labels: NDArray[np.int32], importance: NDArray) -> NDArray[np.float64]:
    """``(classes, H, W)``: every region painted with its importance for the class, summed over
    the neurons whose regions cover a pixel (positive: the pixel's regions support the class)."""
    gid, _ = global_ids(labels)
    _, h, w = labels.shape
    out = np.zeros((importance.shape[1], h * w))
    rows, pix = np.nonzero(gid >= 0)
    for c in range(importance.shape[1]):
        np.add.at(out[c], pix, importance[gid[rows, pix], c])
    return out.reshape(-1, h, w)


def deletion_order(
    groups: NDArray[np.int64], ranking: NDArray, magnitude: NDArray
) -> NDArray[np.int64]:
    """Flat indices of the surviving weights in the order a method deletes them.

    ``groups`` gives each weight its unit (a region, a pixel column; -1: removed already);
    units go in ``ranking`` order (a permutation of unit ids, first deleted first), and within a
    unit the larger |w| goes first, so a budget that ends inside a unit takes its strongest part.
    """
    groups = np.asarray(groups).ravel()
    alive = np.flatnonzero(groups >= 0)
    position = np.empty(len(ranking), dtype=np.int64)
    position[np.asarray(ranking)] = np.arange(len(ranking))
    keys = (-np.abs(np.asarray(magnitude).ravel()[alive]), position[groups[alive]])
    return alive[np.lexsort(keys)]


def budget_counts(n_alive: int, budgets: list[float]) -> NDArray[np.int64]:
    """Weights removed at each budget (a fraction of the surviving weights), 0 first."""
    return np.array([0] + [round(b * n_alive) for b in budgets], dtype=np.int64)


def deletion_curve(
    net: Net, order: NDArray[np.int64], counts: NDArray[np.int64], x: F32, y: NDArray, c: int
) -> tuple[NDArray, NDArray]:
    """Accuracy on ``x`` (labels ``y``, normally all of class ``c``) and mean logit of class
    ``c`` after deleting the first ``k`` weights of ``order``, for each ``k`` in ``counts``."""
    accs, logits = [], []
    y = np.asarray(y)
    for k in counts:
        w1 = net.w1.copy().ravel()
        w1[order[:k]] = 0.0
        out = net.with_w1(w1.reshape(net.w1.shape)).logits(x)
        accs.append(float(np.mean(out.argmax(axis=1) == y)))
        logits.append(float(np.mean(out[:, c])))
    return np.array(accs), np.array(logits)


#: Deletion orders of the faithfulness test: the regions ranked by their importance for the
#: class, random regions (the control, several draws), and the pixel attributions.
DELETION_METHODS = ("region", "random", "input_x_gradient", "integrated_gradients")


def region_groups(labels: NDArray[np.int32]) -> NDArray[np.int64]:
    """Each W1 weight's region (row of the region table), -1 where removed: ``(neurons, H*W)``."""
    return global_ids(labels)[0]


def pixel_groups(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Each surviving W1 weight's input pixel, -1 where removed: deleting a pixel's unit zeroes
    all its weights, the same as setting that pixel to 0 in every image."""
    mask = np.asarray(mask, dtype=bool)
    return np.where(mask, np.arange(mask.shape[1])[None, :], -1).astype(np.int64)


def ranking(scores: NDArray) -> NDArray[np.int64]:
    """Unit ids, highest score first (ties: lower id first)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def faithfulness_table(deletion: pd.DataFrame) -> pd.DataFrame:
    """Per class and budget > 0: the accuracy drop of each method (random: mean and sd over its
    draws), their ratio to random, and the area between the random and region curves from
    budget 0 up to this budget (accuracy x budget fraction; positive: regions hurt more)."""
    curves = deletion.groupby(["method", "class", "budget"])["class_acc"]
    mean, sd = curves.mean().unstack("method"), curves.std()
    missing = {"region", "random"} - set(mean.columns)
    if missing:
        raise ValueError(f"the deletion table lacks the method(s) {sorted(missing)}")
    before = mean.xs(0.0, level="budget")
    rows = []
    for c, per_class in mean.groupby(level="class"):
        per_class = per_class.droplevel("class").sort_index()
        budgets = per_class.index.to_numpy()
        gap = (per_class["random"] - per_class["region"]).to_numpy()
        area = np.concatenate([[0.0], np.cumsum(np.diff(budgets) * (gap[1:] + gap[:-1]) / 2)])
        for i, b in enumerate(budgets):
            if b == 0:
                continue
            drops = {m: before.loc[c, m] - per_class.loc[b, m] for m in per_class.columns}
            rows.append(
                {
                    "class": int(c),
                    "budget": float(b),
                    "acc_before": float(before.loc[c, "region"]),
                    **{f"drop_{m}": float(drops[m]) for m in DELETION_METHODS if m in drops},
                    "drop_random_sd": float(sd.loc[("random", c, b)]),
                    "area_vs_random": float(area[i]),
                }
            )
    out = pd.DataFrame(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio_vs_random"] = out["drop_region"] / out["drop_random"]
    return out
