"""The sanity check of Adebayo et al. (2018), cascading model-parameter randomisation: a map
that explains the network must change when the network's weights are replaced by random ones.

Top layer first, each layer's weights and bias are re-drawn from PyTorch's default
initialisation of ``nn.Linear`` (uniform in +-1/sqrt(fan_in)), cumulatively (the top layer, then
the top two, ... then all); W1 keeps the stage's mask, so that the randomised network has the
pruned network's connections. After each step every method's class maps (``SANITY_METHODS``:
the ``(classes, pixels)`` maps the evidence figures and the deletion test use) are compared
with the trained network's, per class, by Spearman's rank correlation (scipy) and SSIM
(scikit-image) of the signed maps. A method passes where both fall towards 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.core.explain.importance import (
    Net,
    class_means,
    evidence_maps,
    importance_matrix,
    occlusion,
    region_importance,
)
from regionprune.core.network import W1

#: Columns of sanity.parquet after ``run`` and ``iteration``.
SANITY_COLUMNS = ("maps", "randomised", "layers", "class", "spearman", "ssim")

Maps = Callable[[Net, NDArray[np.int32], NDArray[np.float32], NDArray, int, int], NDArray]


def region_maps(net: Net, labels, x, y, n_classes: int, ig_steps: int) -> NDArray:
    """Every region painted with its importance for each class (``evidence_maps``)."""
    table = region_importance(net, labels, x, y, n_classes)
    imp = importance_matrix(table, len(table) // n_classes, n_classes)
    return evidence_maps(labels, imp).reshape(n_classes, -1)


def ig_maps(net: Net, labels, x, y, n_classes: int, ig_steps: int) -> NDArray:
    """Integrated gradients from a black image, each class's mean over its images."""
    from regionprune.core.explain.attribution import integrated_gradients

    per_image = integrated_gradients(net.params, net.activation, x, y, ig_steps, baselines=0.0)
    return class_means(per_image, y, n_classes)


def occlusion_maps(net: Net, labels, x, y, n_classes: int, ig_steps: int) -> NDArray:
    """Occlusion: each pixel set to 0, the class's log-probability drop."""
    return occlusion(net, x, y, n_classes)


#: The maps the sanity check randomises the network under, by deletion-method name.
SANITY_METHODS: dict[str, Maps] = {
    "region": region_maps,
    "integrated_gradients": ig_maps,
    "occlusion": occlusion_maps,
}


def randomise(net: Net, layers: list[str], rng: np.random.Generator) -> Net:
    """``net`` with the weights and biases of ``layers`` re-drawn from PyTorch's default
    ``nn.Linear`` initialisation (uniform in +-1/sqrt(fan_in)); W1 keeps its zeros."""
    params = dict(net.params)
    for name in layers:
        w = params[f"{name}.weight"]
        bound = 1.0 / np.sqrt(w.shape[1])
        new_w = rng.uniform(-bound, bound, w.shape).astype(np.float32)
        if f"{name}.weight" == W1:
            new_w = new_w * (w != 0)
        params[f"{name}.weight"] = new_w
        params[f"{name}.bias"] = rng.uniform(-bound, bound, w.shape[0]).astype(np.float32)
    return Net(params, net.activation)


def ssim(a: NDArray, b: NDArray) -> float:
    """Structural similarity of two maps of one shape (scikit-image), on their joint range;
    the window is the largest odd size up to 7 that fits."""
    from skimage.metrics import structural_similarity

    side = min(a.shape)
    win = min(7, side if side % 2 else side - 1)
    span = float(max(a.max(), b.max()) - min(a.min(), b.min()))
    if win < 3 or span == 0:
        return float("nan")
    return float(structural_similarity(a, b, data_range=span, win_size=win))


def spearman(a: NDArray, b: NDArray) -> float:
    """Spearman's rank correlation of two maps' pixels (scipy; NaN where one is constant)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(np.ravel(a), np.ravel(b)).statistic)


def cascade(
    net: Net,
    labels: NDArray[np.int32],
    x: NDArray[np.float32],
    y: NDArray,
    n_classes: int,
    image_shape: tuple[int, int],
    rng: np.random.Generator,
    ig_steps: int = 32,
    methods: dict[str, Maps] | None = None,
) -> pd.DataFrame:
    """The cascading randomisation: per method, per randomisation step (``randomised``: the
    layers re-drawn so far, top first; ``layers``: how many) and class, the rank correlation
    and SSIM between the trained and the randomised network's class maps on ``x``."""
    methods = SANITY_METHODS if methods is None else methods
    trained = {m: f(net, labels, x, y, n_classes, ig_steps) for m, f in methods.items()}
    top_first = list(reversed(net.layers))
    rows = []
    current = net
    for i, layer in enumerate(top_first, start=1):
        current = randomise(current, [layer], rng)
        step = "+".join(top_first[:i])
        for m, f in methods.items():
            maps = f(current, labels, x, y, n_classes, ig_steps)
            for c in range(n_classes):
                a = trained[m][c].reshape(image_shape)
                b = maps[c].reshape(image_shape)
                rows.append((m, step, i, c, spearman(a, b), ssim(a, b)))
    return pd.DataFrame(rows, columns=list(SANITY_COLUMNS))
