"""The deletion test: do the maps tell the truth? (numpy; attributions through Captum).

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

from regionprune.explain.importance import F32, Net, importance_matrix, ranking, region_importance
from regionprune.regions import global_ids, mask_from_labels


def deletion_order(
    groups: NDArray[np.int64], units: NDArray, magnitude: NDArray
) -> NDArray[np.int64]:
    """Flat indices of the surviving weights in the order a method deletes them.

    ``groups`` gives each weight its unit (a region, a pixel column; -1: removed already);
    units go in ``units`` order (a permutation of unit ids, first deleted first), and within a
    unit the larger |w| goes first, so a budget that ends inside a unit takes its strongest part.
    """
    groups = np.asarray(groups).ravel()
    alive = np.flatnonzero(groups >= 0)
    position = np.empty(len(units), dtype=np.int64)
    position[np.asarray(units)] = np.arange(len(units))
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


def region_groups(labels: NDArray[np.int32]) -> NDArray[np.int64]:
    """Each W1 weight's region (row of the region table), -1 where removed: ``(neurons, H*W)``."""
    return global_ids(labels)[0]


def pixel_groups(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Each surviving W1 weight's input pixel, -1 where removed: deleting a pixel's unit zeroes
    all its weights, the same as setting that pixel to 0 in every image."""
    mask = np.asarray(mask, dtype=bool)
    return np.where(mask, np.arange(mask.shape[1])[None, :], -1).astype(np.int64)


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

    def attribution(self, method: str, **kwargs: Any) -> NDArray:
        """``(classes, pixels)`` mean attribution of a Captum method (``explain.attribution``)
        with ``kwargs`` for its ``attribute``; computed once per method."""
        if method not in self._cache:
            from regionprune.explain.attribution import class_attributions, network

            torch_net = network(self.net.params, self.net.activation)
            self._cache[method] = class_attributions(
                torch_net, self.x, self.y, self.n_classes, method, **kwargs
            )
        return self._cache[method]


@dataclass(frozen=True)
class DeletionMethod:
    """A deletion order: its unit (``region`` or ``pixel``), per class the units' scores (the
    highest deleted first; None: a random order per draw, the control), and how it is drawn."""

    unit: str
    scores: Callable[[Ranked], NDArray] | None
    label: str
    style: dict[str, Any]


#: Every deletion method, in the order they run (the random control draws from the stage's
#: seeded generator in this order). A new method is one entry here.
METHODS: dict[str, DeletionMethod] = {
    "region": DeletionMethod("region", lambda r: r.region_importance.T, "regions by importance",
                             {"color": "tab:red", "linestyle": "-", "linewidth": 2.0}),
    "random": DeletionMethod("region", None, "random regions (mean, sd)",
                             {"color": "0.4", "linestyle": "-"}),
    "input_x_gradient": DeletionMethod(
        "pixel", lambda r: r.attribution("InputXGradient"), "input x gradient",
        {"color": "tab:blue", "linestyle": "--", "marker": "o", "markersize": 3.5}),
    "integrated_gradients": DeletionMethod(  # from an all-black image
        "pixel", lambda r: r.attribution("IntegratedGradients", baselines=0.0,
                                         n_steps=r.ig_steps),
        # hollow and larger, so that it stays visible where it lies on input x gradient
        "integrated gradients", {"color": "tab:green", "linestyle": ":", "marker": "s",
                                 "markersize": 6.5, "markerfacecolor": "none",
                                 "linewidth": 1.5}),
}  # fmt: skip
#: Columns of deletion.parquet.
DELETION_COLUMNS = ("class", "method", "draw", "budget", "removed", "class_acc", "class_logit")


def deletion_test(
    net: Net,
    labels: NDArray[np.int32],
    ranked: Ranked,
    x: NDArray[np.float32],
    y: NDArray,
    budgets: list[float],
    random_draws: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Per class, every method's deletion curve on that class's images of ``x``: the class's
    accuracy and mean logit after deleting ``budgets`` of the surviving W1 weights (0 first),
    ranked on ``ranked``'s images. One row per class, method, draw and budget."""
    groups = {"region": region_groups(labels), "pixel": pixel_groups(mask_from_labels(labels))}
    n_units = {"region": int(global_ids(labels)[1].sum()), "pixel": net.w1.shape[1]}
    counts = budget_counts(int((groups["region"] >= 0).sum()), budgets)
    scores = {}
    rows = []
    for c in range(ranked.n_classes):
        xc, yc = x[y == c], y[y == c]
        for name, method in METHODS.items():
            if method.scores is None:
                orders = [rng.permutation(n_units[method.unit]) for _ in range(random_draws)]
            else:
                if name not in scores:
                    scores[name] = method.scores(ranked)
                orders = [ranking(scores[name][c])]
            for draw, units in enumerate(orders):
                order = deletion_order(groups[method.unit], units, net.w1)
                acc, logit = deletion_curve(net, order, counts, xc, yc, c)
                for b, k, a, lg in zip([0.0, *budgets], counts, acc, logit):
                    rows.append((c, name, draw, b, int(k), a, lg))
    return pd.DataFrame(rows, columns=list(DELETION_COLUMNS))


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
                    **{f"drop_{m}": float(drops[m]) for m in METHODS if m in drops},
                    "drop_random_sd": float(sd.loc[("random", c, b)]),
                    "area_vs_random": float(area[i]),
                }
            )
    out = pd.DataFrame(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio_vs_random"] = out["drop_region"] / out["drop_random"]
    return out
