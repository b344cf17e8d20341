"""What each region of a pruned network does for each class, measured by ablation (numpy).

- ``Net``: the network's forward pass (``network.forward``) over numpy arrays, W1 masked.
- ``region_importance``: zero one region (one hidden neuron's connected set of surviving input
  weights) and measure, per class, the change in accuracy, in the mean logit and in the mean
  log-probability of that class over the images of that class. All regions at once:
  removing region g of neuron j only changes neuron j's pre-activation by
  ``x[:, P_g] @ w1[j, P_g]``, so one matrix product gives every region's change, and the layers
  after it run on chunks of regions as one batch.
- ``evidence_maps``: per class, the regions painted with their importance for it;
  ``top_regions`` and ``neuron_importance`` choose what the figures show.

Sign convention: every ``delta`` is after - before, so a region that supports a class has a
negative delta for it. A region's *importance* for a class is ``-delta_logprob``: the log-
probability counts only what moves the class against the others (removing a region of a sigmoid
network lowers every logit a little, which the raw logit would count as evidence for all
classes at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.core.network import ACTIVATIONS, activation, forward, layers_of, numpy_linear
from regionprune.core.regions import global_ids, region_index
from regionprune.core.network import W1

F32 = NDArray[np.float32]

#: Columns of region_importance.parquet after ``run`` and ``iteration``.
IMPORTANCE_COLUMNS = (
    "neuron",
    "region",
    "class",
    "size",
    "delta_acc",
    "delta_logit",
    "delta_logprob",
)


@dataclass(frozen=True)
class Net:
    """``network.forward`` over numpy float32 parameters; W1 already masked."""

    params: dict[str, F32]
    activation: str

    @classmethod
    def from_params(
        cls, params: dict[str, NDArray], activation: str, mask: NDArray[np.bool_] | None = None
    ) -> Net:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        p = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
        if mask is not None:
            p[W1] = p[W1] * mask
        return cls(p, activation)

    @property
    def w1(self) -> F32:
        return self.params[W1]

    def act(self, z: F32) -> F32:
        return activation(self.activation, z)(z)

    def with_w1(self, w1: F32) -> Net:
        return Net({**self.params, W1: w1}, self.activation)

    @property
    def layers(self) -> tuple[str, ...]:
        return layers_of(self.params)

    @property
    def w2(self) -> F32:
        """The weights of the layer after hidden layer 1 (the output layer in a network of one
        hidden layer)."""
        return self.params[f"{self.layers[1]}.weight"]

    def _layer(self, i: int, h: F32) -> F32:
        name = self.layers[i]
        return numpy_linear(h, self.params[f"{name}.weight"], self.params[f"{name}.bias"])

    def hidden(self, x: F32) -> tuple[F32, F32, F32]:
        """(z1, h1, z2): pre-activation and activation of hidden layer 1, and the next layer's
        pre-activation (the logits, where there is one hidden layer)."""
        z1 = self._layer(0, x)
        h1 = self.act(z1)
        return z1, h1, self._layer(1, h1)

    def head(self, z2: F32) -> F32:
        """Logits from the pre-activation of the layer after hidden layer 1 (any leading shape)."""
        if len(self.layers) == 2:  # that layer is the output: z2 are the logits
            return z2
        return forward(self.params, self.act(z2), self.activation, numpy_linear, first=2)

    def logits(self, x: F32) -> F32:
        return forward(self.params, x, self.activation, numpy_linear)


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
    gid, counts = global_ids(labels)  # (neurons, H*W): row of the region table, -1 background
    n = int(counts.sum())
    neuron, region = region_index(counts)
    size = np.bincount(gid[gid >= 0], minlength=n)
    logits0, chunks = region_ablations(net, labels, x, max_elements)
    acc0, logit0, logp0 = class_scores(logits0, y, n_classes)
    d_acc = np.zeros((n, n_classes))
    d_logit = np.zeros((n, n_classes))
    d_logp = np.zeros((n, n_classes))
    for g, logits in chunks:
        acc, logit, logp = class_scores(logits, y, n_classes)
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


def region_ablations(
    net: Net, labels: NDArray[np.int32], x: F32, max_elements: int = 2**22
) -> tuple[F32, Iterator[tuple[NDArray[np.int64], F32]]]:
    """The logits on ``x`` (``(N, H*W)`` float32 in [0, 1]), and, chunk by chunk of regions
    (rows ``g`` of the region table), the logits ``(G, N, classes)`` with each region of the
    chunk zeroed on its own. Zeroing a region changes one neuron of layer 1 only, by the
    region's share of its pre-activation; ``max_elements`` bounds the working array (regions
    per chunk x N x layer-2 width)."""
    x = np.asarray(x, dtype=np.float32)
    gid, counts = global_ids(labels)
    n = int(counts.sum())
    neuron, _ = region_index(counts)
    # R[p, g] = w1[neuron(g), p] for the pixels p of region g: x @ R is each region's share of
    # its neuron's pre-activation.
    rows, pix = np.nonzero(gid >= 0)
    r = np.zeros((x.shape[1], n), dtype=np.float32)
    r[pix, gid[rows, pix]] = net.w1[rows, pix]
    share = x @ r  # (N, n)
    z1, h1, z2 = net.hidden(x)
    chunk = max(1, max_elements // max(1, x.shape[0] * z2.shape[1]))

    def chunks() -> Iterator[tuple[NDArray[np.int64], F32]]:
        for start in range(0, n, chunk):
            g = np.arange(start, min(start + chunk, n))
            j = neuron[g]
            dh = net.act(z1[:, j] - share[:, g]) - h1[:, j]  # (N, G): only neuron j changes
            z2g = z2[None] + dh.T[:, :, None] * net.w2[:, j].T[:, None, :]  # (G, N, width2)
            yield g, net.head(z2g)

    return net.head(z2), chunks()


def own_logprob(logits: F32, y: NDArray) -> NDArray[np.float64]:
    """Each image's log-probability of its own class ``y``: ``(..., N, C)`` logits to ``(..., N)``."""
    index = np.broadcast_to(np.asarray(y, dtype=np.int64)[:, None], (*logits.shape[:-1], 1))
    return np.take_along_axis(log_softmax(logits), index, axis=-1)[..., 0].astype(np.float64)


def region_effects(net: Net, labels: NDArray[np.int32], x: F32, y: NDArray) -> NDArray:
    """``(N, regions)``: per image, the drop in its class's log-probability when each region
    alone is zeroed (the per-image form of ``region_importance``'s ``-delta_logprob``)."""
    logits0, chunks = region_ablations(net, labels, x)
    logp0 = own_logprob(logits0, y)
    out = np.zeros((len(logp0), int(global_ids(labels)[1].sum())))
    for g, logits in chunks:
        out[:, g] = (logp0[None] - own_logprob(logits, y)).T
    return out


def neuron_ablation(net: Net, x: F32, y: NDArray, n_classes: int) -> NDArray:
    """``(neurons, classes)`` importance (``-delta_logprob``) of every hidden neuron of layer 1
    with all its surviving input weights removed at once (a neuron without any: 0)."""
    alive = net.w1 != 0
    whole = alive.astype(np.int32)[:, None, :]  # each neuron's weights as one "region"
    table = region_importance(net, whole, x, y, n_classes)
    out = np.zeros((alive.shape[0], n_classes))
    out[alive.any(axis=1)] = importance_matrix(table, len(table) // n_classes, n_classes)
    return out


def occlusion_per_image(net: Net, x: F32, y: NDArray, max_elements: int = 2**20) -> NDArray:
    """``(N, pixels)`` occlusion per image: the drop in the image's class log-probability when
    one input pixel is set to 0 (all its W1 weights removed), for every pixel on its own.
    Setting pixel p of image i to 0 changes layer 1 only, by ``-x[i, p] * w1[:, p]``, so a
    pixel that is already 0, or has no weights, changes nothing (0): only the (image, pixel)
    pairs with ink and weights run, chunks of them as one batch through the layers after it."""
    import torch
    import torch.nn.functional as F

    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    used = np.flatnonzero((net.w1 != 0).any(axis=0))
    z1, _, z2 = net.hidden(x)
    logp0 = own_logprob(net.head(z2), y)
    params = {k: torch.from_numpy(v) for k, v in net.params.items()}
    act = activation(net.activation, params[W1])
    z1t = torch.from_numpy(z1)
    w1_rows = params[W1].T.contiguous()  # a pixel's weights as one row: gathered as rows
    out = np.zeros((x.shape[0], net.w1.shape[1]))
    images, pixels = np.nonzero(x[:, used])
    pixels = used[pixels]
    ink = torch.from_numpy(x[images, pixels])
    chunk = max(1, max_elements // max(1, z1.shape[1]))
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            i, p = images[start : start + chunk], pixels[start : start + chunk]
            it, pt = torch.from_numpy(i), torch.from_numpy(p)
            z1p = torch.addcmul(z1t[it], ink[start : start + chunk, None], w1_rows[pt], value=-1.0)
            logits = forward(params, act(z1p), net.activation, F.linear, first=1).numpy()
            out[i, p] = logp0[i] - own_logprob(logits, y[i])
    return out


def occlusion(net: Net, x: F32, y: NDArray, n_classes: int, max_elements: int = 2**20) -> NDArray:
    """``(classes, pixels)`` occlusion: per class, the mean over its images of
    ``occlusion_per_image``. A test checks it against Captum's ``FeatureAblation``."""
    return class_means(occlusion_per_image(net, x, y, max_elements), y, n_classes)


def class_means(per_image: NDArray, y: NDArray, n_classes: int) -> NDArray[np.float64]:
    """``(classes, inputs)``: per class, the mean of ``per_image``'s rows of that class."""
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y, minlength=n_classes)
    if np.any(counts == 0):
        raise ValueError(f"classes {np.flatnonzero(counts == 0).tolist()} have no images")
    return np.stack([per_image[y == c].astype(np.float64).mean(axis=0) for c in range(n_classes)])


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


def top_regions(importance: NDArray, c: int, k: int) -> list[int]:
    """Rows of the region table most important for class ``c``, best first: at most ``k``, and
    only regions that support the class (importance > 0)."""
    return [int(g) for g in ranking(importance[:, c])[:k] if importance[g, c] > 0]


def neuron_importance(importance: NDArray, neuron_of: NDArray, n_neurons: int) -> NDArray:
    """``(neurons, classes)``: the importance of each neuron's regions, summed."""
    out = np.zeros((n_neurons, importance.shape[1]))
    np.add.at(out, neuron_of, importance)
    return out


def gallery_order(per_neuron: NDArray, alive: NDArray[np.bool_], k: int) -> list[int]:
    """The ``k`` neurons that keep weights, most important first (|importance| summed over
    their regions and all classes; ties: lower neuron first)."""
    order = np.argsort(-np.abs(per_neuron).sum(axis=1), kind="stable")
    return [int(j) for j in order if alive[j]][:k]


def roles(per_neuron_row: NDArray, class_names: list[str], k: int = 3) -> str:
    """The ``k`` classes a neuron moves most: ``+c`` where it supports c, ``-c`` where it opposes."""
    serves = np.argsort(-np.abs(per_neuron_row), kind="stable")[:k]
    return " ".join(f"{'+' if per_neuron_row[c] > 0 else '-'}{class_names[c]}" for c in serves)


def ranking(scores: NDArray) -> NDArray[np.int64]:
    """Unit ids, highest score first (ties: lower id first)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
