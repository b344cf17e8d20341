"""The deletion test: do the maps tell the truth? (numpy; pixel attributions from ``attribution``).

For each class, W1 weights are deleted in the order a method ranks them and the class's accuracy
is measured at fixed budgets (fractions of the surviving weights). Every method ranks *units* (a
region, or an input pixel: all of a pixel's weights at once, the same as blanking the pixel) and
within a unit the larger |w| goes first, so that all methods delete exactly the same count.
``METHODS`` is the one registry of deletion methods: a method is its unit, how it scores the
units for each class, whether it is drawn at random (the control), and how it is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.core.explain.importance import (
    F32,
    Net,
    class_means,
    importance_matrix,
    neuron_ablation,
    occlusion,
    ranking,
    region_importance,
)
from regionprune.core.network import FIRST, W1, activation, forward
from regionprune.core.regions import global_ids, mask_from_labels


def deletion_order(
    groups: NDArray[np.int64], units: NDArray, magnitude: NDArray
) -> NDArray[np.int64]:
    """Flat indices of the surviving weights in the order a method deletes them.

    ``groups`` gives each weight its unit (a region, a pixel column; -1: removed already);
    units go in ``units`` order (a permutation of unit ids, first deleted first), and within a
    unit the larger |w| goes first, so a budget that ends inside a unit takes its strongest part.
    """
    return UnitBlocks.of(groups, magnitude).order(units)


@dataclass(frozen=True)
class UnitBlocks:
    """The surviving weights sorted by unit, larger |w| first within a unit (ties by index):
    ``weights[start[u] : start[u] + size[u]]`` are unit ``u``'s. Sorted once per partition, so
    that each order of the units is a concatenation of blocks, not a sort of its own."""

    weights: NDArray[np.int64]
    start: NDArray[np.int64]
    size: NDArray[np.int64]

    @classmethod
    def of(cls, groups: NDArray[np.int64], magnitude: NDArray) -> UnitBlocks:
        groups = np.asarray(groups).ravel()
        alive = np.flatnonzero(groups >= 0)
        unit = groups[alive]
        weights = alive[np.lexsort((-np.abs(np.asarray(magnitude).ravel()[alive]), unit))]
        size = np.bincount(unit, minlength=int(unit.max(initial=-1)) + 1)
        start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
        return cls(weights, start, size.astype(np.int64))

    def order(self, units: NDArray) -> NDArray[np.int64]:
        """The weights of ``units`` (a permutation of the unit ids), block after block."""
        units = np.asarray(units)
        units = units[units < len(self.size)]  # ids past the last surviving unit: empty
        size = self.size[units]
        first = np.cumsum(size) - size  # where each block lands in the order
        # position i of the order, inside the block of unit u: start[u] + (i - first of u)
        index = np.arange(int(size.sum())) + np.repeat(self.start[units] - first, size)
        return self.weights[index]


def budget_counts(n_alive: int, budgets: list[float]) -> NDArray[np.int64]:
    """Weights removed at each budget (a fraction of the surviving weights), 0 first."""
    return np.array([0] + [round(b * n_alive) for b in budgets], dtype=np.int64)


def deletion_curve(
    net: Net, order: NDArray[np.int64], counts: NDArray[np.int64], x: F32, y: NDArray, c: int
) -> tuple[NDArray, NDArray]:
    """Accuracy on ``x`` (labels ``y``, normally all of class ``c``) and mean logit of class
    ``c`` after deleting the first ``k`` weights of ``order``, for each ``k`` in ``counts``."""
    return unit_curves(net, order, counts, x, y, c)[0]


def insertion_curve(
    net: Net, order: NDArray[np.int64], counts: NDArray[np.int64], x: F32, y: NDArray, c: int
) -> tuple[NDArray, NDArray]:
    """As ``deletion_curve``, but keeping only the first ``k`` weights of ``order`` (every other
    W1 weight deleted)."""
    return unit_curves(net, order, counts, x, y, c)[1]


def unit_curves(
    net: Net,
    order: NDArray[np.int64],
    counts: NDArray[np.int64],
    x: F32,
    y: NDArray,
    c: int,
    z1: F32 | None = None,
) -> tuple[tuple[NDArray, NDArray], tuple[NDArray, NDArray]]:
    """The deletion and the insertion curve of one order: (accuracy, mean logit of class ``c``)
    with the first ``k`` weights of ``order`` deleted, and with only them kept (``curves``)."""
    return curves(net, [order], counts, x, y, c, z1)[0]


def curves(
    net: Net,
    orders: list[NDArray[np.int64]],
    counts: NDArray[np.int64],
    x: F32,
    y: NDArray,
    c: int,
    z1: F32 | None = None,
    max_elements: int = 2**24,
) -> list[tuple[tuple[NDArray, NDArray], tuple[NDArray, NDArray]]]:
    """Per order, the deletion and the insertion curve: (accuracy on ``x`` with labels ``y``,
    mean logit of class ``c``) with the first ``k`` weights of the order deleted, and with only
    them kept, for each ``k`` in ``counts``; orders in batches of at most ``max_elements``
    layer-1 values (points x images x width), the same numbers as one at a time.

    Deleting weights changes layer 1 only: its pre-activation loses ``x @ D.T`` where ``D``
    holds the deleted weights, a sparse product (the weights deleted) instead of a dense one
    (the whole layer) per point; keeping only them leaves the bias plus that product. ``z1``:
    layer 1's pre-activation on ``x``, if known."""
    import torch
    import torch.nn.functional as F
    from scipy import sparse

    x = np.asarray(x, dtype=np.float32)
    h1, n_in = net.w1.shape
    per_batch = max(1, max_elements // max(1, len(counts) * len(x) * h1))
    if len(orders) > per_batch:
        return [
            out
            for i in range(0, len(orders), per_batch)
            for out in curves(net, orders[i : i + per_batch], counts, x, y, c, z1, max_elements)
        ]
    flat = net.w1.ravel()
    rows, cols, vals = [], [], []
    points = [(order, k) for order in orders for k in counts]
    for t, (order, k) in enumerate(points):
        j, p = np.divmod(order[:k], n_in)
        rows.append(p)
        cols.append(t * h1 + j)
        vals.append(flat[order[:k]])
    d = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_in, len(points) * h1),
        dtype=np.float64,
    )
    part = np.asarray(d.T @ x.T.astype(np.float64))  # (points * H1, N)
    part = part.reshape(len(points), h1, -1).transpose(0, 2, 1)  # (points, N, H1)
    z1 = (net.hidden(x)[0] if z1 is None else z1).astype(np.float64)
    bias = net.params[f"{FIRST}.bias"].astype(np.float64)
    y = np.asarray(y)
    params = {k: torch.from_numpy(v) for k, v in net.params.items()}
    act = activation(net.activation, params[W1])
    # layer 1's pre-activation with the weights deleted, and with only them kept: summed in
    # float64 and rounded to float32 as they are written (the bits of ``.astype``), without a
    # float64 array of that size in between (its strided copy was most of this function's time)
    deleted = np.subtract(z1[None], part, out=np.empty(part.shape, np.float32))
    kept = np.add(bias, part, out=np.empty(part.shape, np.float32))
    out = []
    with torch.no_grad():
        for z in (deleted, kept):
            h = act(torch.from_numpy(z))
            logits = forward(params, h, net.activation, F.linear, first=1).numpy()
            acc, logit = (logits.argmax(axis=-1) == y).mean(axis=1), logits[..., c].mean(axis=1)
            out.append((acc.reshape(len(orders), -1), logit.reshape(len(orders), -1)))
    (acc_d, logit_d), (acc_i, logit_i) = out
    return [((acc_d[o], logit_d[o]), (acc_i[o], logit_i[o])) for o in range(len(orders))]


def region_groups(labels: NDArray[np.int32]) -> NDArray[np.int64]:
    """Each W1 weight's region (row of the region table), -1 where removed: ``(neurons, H*W)``."""
    return global_ids(labels)[0]


def pixel_groups(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Each surviving W1 weight's input pixel, -1 where removed: deleting a pixel's unit zeroes
    all its weights, the same as setting that pixel to 0 in every image."""
    mask = np.asarray(mask, dtype=bool)
    return np.where(mask, np.arange(mask.shape[1])[None, :], -1).astype(np.int64)


def neuron_groups(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Each surviving W1 weight's hidden neuron, -1 where removed: deleting a neuron's unit
    zeroes all its input weights."""
    mask = np.asarray(mask, dtype=bool)
    return np.where(mask, np.arange(mask.shape[0])[:, None], -1).astype(np.int64)


@dataclass
class Ranked:
    """What the methods rank with, for one stage: the network, its regions, and the images the
    rankings come from (not those the deletions are measured on). Scores are computed once, on
    first use."""

    net: Net
    labels: NDArray[np.int32]
    x: NDArray[np.float32]
    y: NDArray
    n_classes: int
    ig_steps: int = 32
    _cache: dict[str, NDArray] = field(default_factory=dict, repr=False)

    @cached_property
    def region_importance(self) -> NDArray:
        """``(regions, classes)`` importance on the ranking images."""
        table = region_importance(self.net, self.labels, self.x, self.y, self.n_classes)
        return importance_matrix(table, len(table) // self.n_classes, self.n_classes)

    @cached_property
    def neuron_importance(self) -> NDArray:
        """``(neurons, classes)``: each hidden neuron's input weights removed at once."""
        return neuron_ablation(self.net, self.x, self.y, self.n_classes)

    @cached_property
    def occlusion(self) -> NDArray:
        """``(classes, pixels)``: each pixel set to 0 on its own (the log-probability's drop)."""
        return occlusion(self.net, self.x, self.y, self.n_classes)

    @cached_property
    def region_gradients(self) -> NDArray:
        """``(classes, regions)``: the regions' integrated gradients (the compactness control:
        the regions' own units, ranked by gradients instead of by ablation)."""
        from regionprune.core.explain.attribution import region_integrated_gradients

        return region_integrated_gradients(
            self.net.params,
            self.net.activation,
            region_groups(self.labels),
            self.x,
            self.y,
            self.n_classes,
            self.ig_steps,
        )

    def integrated_gradients(self, baselines: float = 0.0) -> NDArray:
        """``(classes, pixels)``: per class, the mean integrated gradients of its logit over its
        images, from the image ``baselines`` (0: black); computed once."""
        from regionprune.core.explain.attribution import integrated_gradients

        return self._class_means(
            f"integrated gradients from {baselines}",
            integrated_gradients,
            n_steps=self.ig_steps,
            baselines=baselines,
        )

    def input_x_gradient(self) -> NDArray:
        """``(classes, pixels)``: per class, the mean input x gradient of its logit over its
        images; computed once."""
        from regionprune.core.explain.attribution import input_x_gradient

        return self._class_means("input x gradient", input_x_gradient)

    def _class_means(self, key: str, method: Callable[..., NDArray], **kwargs: Any) -> NDArray:
        if key not in self._cache:
            per_image = method(self.net.params, self.net.activation, self.x, self.y, **kwargs)
            self._cache[key] = class_means(per_image, self.y, self.n_classes)
        return self._cache[key]


@dataclass(frozen=True)
class DeletionMethod:
    """A deletion order: its unit (``region``, ``pixel`` or ``neuron``), per class the units'
    scores (the highest deleted first; None: a random order per draw, the control), how it is
    drawn, and whether remove-and-retrain runs it (``roar``)."""

    unit: str
    scores: Callable[[Ranked], NDArray] | None
    label: str
    style: dict[str, Any]
    roar: bool = False


#: Every deletion method, in the order they run (the random control draws from the stage's
#: seeded generator in this order). A new method is one entry here.
METHODS: dict[str, DeletionMethod] = {
    "region": DeletionMethod(
        "region",
        lambda r: r.region_importance.T,
        "regions by importance",
        {"color": "tab:red", "linestyle": "-", "linewidth": 2.0},
        roar=True,
    ),
    "random": DeletionMethod(
        "region", None, "random regions (mean, sd)", {"color": "0.4", "linestyle": "-"}, roar=True
    ),
    "input_x_gradient": DeletionMethod(
        "pixel",
        lambda r: r.input_x_gradient(),
        "input x gradient",
        {"color": "tab:blue", "linestyle": "--", "marker": "o", "markersize": 3.5},
    ),
    "integrated_gradients": DeletionMethod(  # from an all-black image
        "pixel",
        lambda r: r.integrated_gradients(baselines=0.0),
        # hollow and larger, so that it stays visible where it lies on input x gradient
        "integrated gradients",
        {
            "color": "tab:green",
            "linestyle": ":",
            "marker": "s",
            "markersize": 6.5,
            "markerfacecolor": "none",
            "linewidth": 1.5,
        },
        roar=True,
    ),
    # the like-for-like controls: ranked by ablation as the regions are, on other units
    "occlusion": DeletionMethod(
        "pixel",
        lambda r: r.occlusion,
        "pixels by occlusion",
        {"color": "tab:purple", "linestyle": "-.", "marker": "^", "markersize": 4},
        roar=True,
    ),
    "neuron": DeletionMethod(
        "neuron",
        lambda r: r.neuron_importance.T,
        "neurons by ablation",
        {"color": "tab:orange", "linestyle": "--", "marker": "D", "markersize": 3.5},
    ),
    # the compactness control: the regions' own units, ranked by integrated gradients
    "region_gradients": DeletionMethod(
        "region",
        lambda r: r.region_gradients,
        "regions by integrated gradients",
        {"color": "tab:brown", "linestyle": (0, (1, 1)), "marker": "v", "markersize": 4},
    ),
}
#: Columns of deletion.parquet: ``test`` is deletion (the ranked units removed), insertion
#: (only they kept) or roar (removed, then one epoch of retraining with them held at zero).
DELETION_COLUMNS = (
    "test",
    "class",
    "method",
    "draw",
    "budget",
    "removed",
    "class_acc",
    "class_logit",
)
TESTS = ("deletion", "insertion", "roar")


@dataclass(frozen=True)
class Retrain:
    """Remove-and-retrain: one epoch (``epochs``) of the stage's SGD on ``x``/``y`` (pixels in
    [0, 1]) with the deleted weights held at zero, batches drawn by ``seed``; at ``budget``."""

    x: NDArray[np.float32]
    y: NDArray
    budget: float
    lr: float
    batch_size: int
    seed: int
    weight_decay: float = 0.0
    epochs: int = 1


def deletion_test(
    net: Net,
    labels: NDArray[np.int32],
    ranked: Ranked,
    x: NDArray[np.float32],
    y: NDArray,
    budgets: list[float],
    random_draws: int,
    rng: np.random.Generator,
    retrain: Retrain | None = None,
) -> pd.DataFrame:
    """Per class, every method's deletion and insertion curves on that class's images of ``x``:
    the class's accuracy and mean logit after deleting ``budgets`` of the surviving W1 weights
    (0 first), and with only them kept, ranked on ``ranked``'s images; with ``retrain``, the
    remove-and-retrain points of the ``roar`` methods (their first draw). One row per test,
    class, method, draw and budget."""
    mask = mask_from_labels(labels)
    groups = {
        "region": region_groups(labels),
        "pixel": pixel_groups(mask),
        "neuron": neuron_groups(mask),
    }
    n_units = {
        "region": int(global_ids(labels)[1].sum()),
        "pixel": net.w1.shape[1],
        "neuron": net.w1.shape[0],
    }
    blocks = {unit: UnitBlocks.of(g, net.w1) for unit, g in groups.items()}
    counts = budget_counts(int((groups["region"] >= 0).sum()), budgets)
    scores = {}
    rows = []
    to_retrain: list[tuple[int, str, NDArray[np.int64]]] = []
    for c in range(ranked.n_classes):
        xc, yc = x[y == c], y[y == c]
        z1 = net.hidden(xc)[0]
        todo: list[tuple[str, int, NDArray[np.int64]]] = []  # (method, draw, order)
        for name, method in METHODS.items():
            if method.scores is None:
                orders = [rng.permutation(n_units[method.unit]) for _ in range(random_draws)]
            else:
                if name not in scores:
                    scores[name] = method.scores(ranked)
                orders = [ranking(scores[name][c])]
            laid_out = [blocks[method.unit].order(units) for units in orders]
            todo += [(name, draw, order) for draw, order in enumerate(laid_out)]
            if retrain is not None and method.roar:
                to_retrain.append((c, name, laid_out[0]))  # its first order
        # every order of the class as one batch
        measured = curves(net, [order for _, _, order in todo], counts, xc, yc, c, z1)
        for (name, draw, _), both in zip(todo, measured):
            for test, (acc, logit) in zip(TESTS, both):
                for b, k, a, lg in zip([0.0, *budgets], counts, acc, logit):
                    rows.append((test, c, name, draw, b, int(k), a, lg))
    if retrain is not None:
        rows += remove_and_retrain(net, mask, to_retrain, retrain, x, y)
    return pd.DataFrame(rows, columns=list(DELETION_COLUMNS))


def remove_and_retrain(
    net: Net,
    mask: NDArray[np.bool_],
    orders: list[tuple[int, str, NDArray[np.int64]]],
    retrain: Retrain,
    x: NDArray[np.float32],
    y: NDArray,
) -> list[tuple]:
    """ROAR rows: for each (class, method, deletion order), the network with the budget's
    first weights of the order deleted, retrained for ``retrain.epochs`` with them held at zero
    (all such networks and one with nothing deleted, the budget-0 point, step together), then
    measured on the class's images of ``x``."""
    import torch

    from regionprune.core.explain.attribution import network
    from regionprune.core.training import Lockstep, stacked_linear, to_split, train_lockstep

    n_alive = int(mask.sum())
    k = int(budget_counts(n_alive, [retrain.budget])[1])
    masks = [mask.copy()]
    for _, _, order in orders:
        m = mask.copy().ravel()
        m[order[:k]] = False
        masks.append(m.reshape(mask.shape))
    model = network(net.params, net.activation)
    stack = Lockstep([model] * len(masks), torch.device("cpu"))
    train_lockstep(
        stack,
        to_split(retrain.x, retrain.y, torch.device("cpu")),
        None,
        epochs=retrain.epochs,
        lr=retrain.lr,
        batch_size=retrain.batch_size,
        seeds=[retrain.seed] * len(masks),
        weight_decay=retrain.weight_decay,
        masks=[{W1: torch.from_numpy(m.astype(np.float32))} for m in masks],
    )
    rows = []
    y = np.asarray(y)
    params = {k: v.detach() for k, v in stack.params.items()}
    for c in sorted({c for c, _, _ in orders}):
        # each class's networks (and the one with nothing deleted) on that class's images
        which = [0, *(i + 1 for i, (cc, _, _) in enumerate(orders) if cc == c)]
        xc = torch.from_numpy(np.asarray(x[y == c], dtype=np.float32))
        with torch.no_grad():
            sub = {k: v[which] for k, v in params.items()}
            logits = forward(
                sub, xc.expand(len(which), -1, -1), net.activation, stacked_linear
            ).numpy()
        scores = [(float(np.mean(out.argmax(1) == c)), float(np.mean(out[:, c]))) for out in logits]
        for pos, i in enumerate(which[1:], start=1):
            name = orders[i - 1][1]
            rows.append(("roar", c, name, 0, 0.0, 0, *scores[0]))
            rows.append(("roar", c, name, 0, retrain.budget, k, *scores[pos]))
    return rows


def faithfulness_table(deletion: pd.DataFrame) -> pd.DataFrame:
    """Per class and budget > 0: the accuracy drop of each method (random: mean and sd over its
    draws), their ratio to random, and the area between the random and region curves from
    budget 0 up to this budget (accuracy x budget fraction; positive: regions hurt more); the
    accuracy with only each method's top units kept (``insert_*``); and where remove-and-retrain
    ran, each method's drop after retraining (``roar_*``, against the network retrained with
    nothing removed)."""
    if "test" not in deletion.columns:  # a table of one test: the deletion test
        deletion = deletion.assign(test="deletion")
    by_test = {t: d for t, d in deletion.groupby("test")}
    curves = by_test["deletion"].groupby(["method", "class", "budget"])["class_acc"]
    mean, sd = curves.mean().unstack("method"), curves.std()
    missing = {"region", "random"} - set(mean.columns)
    if missing:
        raise ValueError(f"the deletion table lacks the method(s) {sorted(missing)}")
    before = mean.xs(0.0, level="budget")
    kept = {}
    if "insertion" in by_test:
        kept = by_test["insertion"].groupby(["method", "class", "budget"])["class_acc"].mean()
        kept = kept.unstack("method")
    roar = None
    if "roar" in by_test:
        roar = by_test["roar"].groupby(["method", "class", "budget"])["class_acc"].mean()
        roar = roar.unstack("method")
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
            row = {
                "class": int(c),
                "budget": float(b),
                "acc_before": float(before.loc[c, "region"]),
                **{f"drop_{m}": float(drops[m]) for m in METHODS if m in drops},
                "drop_random_sd": float(sd.loc[("random", c, b)]),
                "area_vs_random": float(area[i]),
            }
            if len(kept):
                row |= {
                    f"insert_{m}": float(kept.loc[(c, b), m]) for m in METHODS if m in kept.columns
                }
            if roar is not None:
                for m in (m for m in METHODS if m in roar.columns):
                    at = roar[m].get((c, b), np.nan)
                    row[f"roar_{m}"] = float(roar.loc[(c, 0.0), m] - at)
            rows.append(row)
    out = pd.DataFrame(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio_vs_random"] = out["drop_region"] / out["drop_random"]
    return out
