"""A standard yardstick: Quantus's faithfulness and randomisation metrics on per-image maps.

The deletion test and the sanity check score class maps (a class's mean over its images) with
this project's code. Here the same methods get a map per image and are scored by Quantus
(Hedström et al. 2023), whose metrics reviewers know:

- ``pixel_flipping`` (Bach et al. 2015): pixels set to black most relevant first, ``side``
  pixels a step; the value at each step is the mean softmax probability of the image's class
  (lower along the curve: the map found what the prediction needs);
- ``road`` (Rong et al. 2022): the top pixels replaced by a noisy linear imputation of their
  neighbours instead of black, so that the removal itself leaks no shape; the value is the
  share of images whose prediction survives (lower: more faithful);
- ``mprt`` (Adebayo et al. 2018, Quantus's model-parameter randomisation): Quantus re-draws the
  layers top first (``reset_parameters``, which also refills W1's pruned weights), asks the
  method for new maps, and gives the Spearman correlation of |map| with the trained network's
  (lower: the maps depend on the weights).

Per-image maps (``MAPS``): ``region`` gives each pixel the sum, over the regions that contain
it (one per neuron that still sees it), of the drop in the image's class log-probability when
that region alone is zeroed; ``occlusion`` the drop when the pixel alone is set to 0;
``integrated_gradients`` Captum's, from a black image, on the class's logit (as in the deletion
test); ``random`` a uniform draw per pixel, the control every method must beat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.core.explain.importance import Net, occlusion_per_image, region_effects
from regionprune.core.regions import global_ids

#: Columns of yardstick.parquet after ``run`` and ``iteration``: per method's maps and metric,
#: each step (pixel_flipping, road: ``fraction`` of the pixels removed; mprt: the layers
#: ``randomised`` so far, top first, and how many) and the ``value``, the mean over the images.
YARDSTICK_COLUMNS = ("maps", "metric", "fraction", "randomised", "layers", "value")

#: The fractions of the pixels ROAD removes (Quantus's ``percentages``, in per cent).
ROAD_PERCENT = (1, 2, 5, 10, 20, 50)
#: ROAD's imputation noise (sd, in pixel units), as Rong et al. and Quantus set it.
ROAD_NOISE = 0.01

#: ROAD's neighbours (row, column offset) and their weights: 1/6 beside, 1/12 diagonal.
_ROAD_OFFSETS = np.array([(1, 1), (0, 1), (-1, 1), (1, -1), (0, -1), (-1, -1), (1, 0), (-1, 0)])
_ROAD_WEIGHTS = np.array([1, 2, 1, 1, 2, 1, 2, 2]) / 12


def road_imputation(
    arr: NDArray,
    indices: NDArray,
    noise: float = ROAD_NOISE,
    rng: np.random.RandomState | None = None,
    **_,
) -> NDArray:
    """Quantus's ``noisy_linear_imputation`` (ROAD, Rong et al. 2022) with its linear system
    built in one step instead of element by element, 5x faster, the same values: each removed
    pixel of ``arr`` (channels, H, W) becomes the weighted mean of its 8 neighbours (removed
    neighbours are unknowns of the same system), plus ``noise`` x N(0, 1) drawn from ``rng``
    as Quantus draws it from numpy's global generator (``rng`` None: that generator, which
    Quantus leaves unseeded, so that its ROAD differs from run to run)."""
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    c, h, w = arr.shape
    idx = np.asarray(indices, dtype=np.int64).ravel()
    n = len(idx)
    flat = arr.reshape(c, -1)
    unknown_id = np.full(h * w, -1, dtype=np.int64)
    unknown_id[idx] = np.arange(n)
    r, q = np.divmod(idx, w)
    rr, qq = r[None, :] + _ROAD_OFFSETS[:, :1], q[None, :] + _ROAD_OFFSETS[:, 1:]
    inside = (rr >= 0) & (rr < h) & (qq >= 0) & (qq < w)  # (8, n): neighbour in the image
    neighbour = np.where(inside, rr * w + qq, 0)
    weight = np.broadcast_to(_ROAD_WEIGHTS[:, None], inside.shape)
    row = np.broadcast_to(np.arange(n)[None, :], inside.shape)
    var = np.where(inside, unknown_id[neighbour], -1)
    unknown, known = inside & (var >= 0), inside & (var < 0)
    a = sparse.csc_matrix(
        (
            np.concatenate([weight[unknown], -(weight * inside).sum(0)]),
            (
                np.concatenate([row[unknown], np.arange(n)]),
                np.concatenate([var[unknown], np.arange(n)]),
            ),
        ),
        shape=(n, n),
    )
    b = np.zeros((n, c))
    np.add.at(b, row[known], -weight[known][:, None] * flat[:, neighbour[known]].T)
    solved = np.asarray(spsolve(a, b)).reshape(n, c).T if n else np.zeros((c, 0))
    out = flat.copy()
    out[:, idx] = solved + noise * (np.random if rng is None else rng).randn(*solved.shape)
    return out.reshape(arr.shape)


def region_attributions(net: Net, labels: NDArray[np.int32], x: NDArray, y: NDArray) -> NDArray:
    """``(N, pixels)``: per image, each pixel's regions' ablation effects on the image's class
    log-probability, summed over the regions (of different neurons) that contain the pixel."""
    gid = global_ids(labels)[0]
    effects = region_effects(net, labels, x, y)  # (N, regions)
    member = np.zeros((effects.shape[1], gid.shape[1]))
    rows, pix = np.nonzero(gid >= 0)
    np.add.at(member, (gid[rows, pix], pix), 1.0)
    return effects @ member


def ig_attributions(net: Net, x: NDArray, y: NDArray, steps: int) -> NDArray:
    """``(N, pixels)``: Captum's integrated gradients of each image's class logit, from black
    (``attribution.integrated_gradients``)."""
    from regionprune.core.explain.attribution import integrated_gradients

    return integrated_gradients(net.params, net.activation, x, y, steps, baselines=0.0).astype(
        np.float64
    )


Explain = Callable[[Net, NDArray[np.int32], NDArray, NDArray, int, np.random.Generator], NDArray]

#: Per-image maps, by deletion-method name (``random``: the control).
MAPS: dict[str, Explain] = {
    "region": lambda net, labels, x, y, steps, rng: region_attributions(net, labels, x, y),
    "integrated_gradients": lambda net, labels, x, y, steps, rng: ig_attributions(net, x, y, steps),
    "occlusion": lambda net, labels, x, y, steps, rng: occlusion_per_image(net, x, y),
    "random": lambda net, labels, x, y, steps, rng: rng.random(np.shape(x)),
}


@contextmanager
def _quiet(level: int):
    """Records at ``level`` and below dropped for the duration (``logging.disable``)."""
    import logging

    before = logging.root.manager.disable
    logging.disable(level)
    try:
        yield
    finally:
        logging.disable(before)


def _model(net: Net):
    """The network as Quantus wants it: a torch module on ``(N, 1, H, W)`` images, eval mode."""
    import torch

    from regionprune.core.explain.attribution import network

    return torch.nn.Sequential(torch.nn.Flatten(), network(net.params, net.activation)).eval()


def _net(model, activation: str) -> Net:
    """The Net of a (possibly randomised) Quantus model (``_model``'s layout)."""
    params = {k.split(".", 1)[1]: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return Net.from_params(params, activation)


def spearman_per_image(a: NDArray, b: NDArray, batched: bool = False, **_: object) -> NDArray:
    """MPRT's similarity: Quantus's ``correlation_spearman``, the same computation, also where
    scipy answers a plain float (a batch of one image whose map is constant: NaN), on which
    Quantus's own fails (``'float' object has no attribute 'shape'``; met in the README's grid,
    a heavily pruned network at rate 0.6)."""
    from scipy.stats import spearmanr

    if not batched:
        return spearmanr(a, b)[0]
    corr = np.asarray(spearmanr(a, b, axis=1)[0])
    if corr.ndim:  # the correlations of every row of a and b: each image's pair
        return np.diag(corr[: len(a), len(a) :])
    return np.array([float(corr)])


@contextmanager
def _no_change_check_off(quantus: Any) -> Iterator[None]:
    """Quantus 0.6's ``warn_perturbation_caused_no_change`` as a no-op while inside. It only
    warns (ignored here; ``disable_warnings`` does not reach it), and ROAD calls it for each
    image against the list of all the images perturbed before it: 13,600 ``np.allclose`` per
    stage, a sixth of the yardstick's time. The scores are the same (a test compares)."""
    warn = quantus.helpers.warn
    original = getattr(warn, "warn_perturbation_caused_no_change", None)
    if original is None:  # another Quantus: nothing to skip
        yield
        return
    warn.warn_perturbation_caused_no_change = lambda **_: None
    try:
        yield
    finally:
        warn.warn_perturbation_caused_no_change = original


def undefined_rows(name: str, image_shape: tuple[int, int], layers: list[str]) -> list[tuple]:
    """The rows of maps Quantus cannot score, every step of every metric with the value NaN:
    pixel flipping's ``H`` steps of a row each, ROAD's fractions, MPRT's ``layers`` (the
    network's, top first: the order it re-draws them in)."""
    h, w = image_shape
    rows = [(name, "pixel_flipping", (i + 1) * w / (h * w), "", 0, np.nan) for i in range(h)]
    rows += [(name, "road", p / 100, "", 0, np.nan) for p in ROAD_PERCENT]
    rows += [
        (name, "mprt", np.nan, "+".join(layers[: i + 1]), i + 1, np.nan) for i in range(len(layers))
    ]
    return rows


def yardstick(
    net: Net,
    labels: NDArray[np.int32],
    x: NDArray[np.float32],
    y: NDArray,
    image_shape: tuple[int, int],
    rng: np.random.Generator,
    ig_steps: int = 32,
    seed: int = 0,
    maps: dict[str, Explain] | None = None,
    road_noise: float = ROAD_NOISE,
) -> pd.DataFrame:
    """Every method's per-image maps on ``x`` (pixels in [0, 1], ``y`` their classes) scored by
    Quantus's PixelFlipping, ROAD and MPRT (top-down); one row per maps, metric and step
    (the value NaN for maps that are 0 on every image, which Quantus refuses to order)."""
    import logging
    import warnings

    import quantus

    maps = MAPS if maps is None else maps
    h, w = image_shape
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    x4 = x.reshape(-1, 1, h, w)
    model = _model(net)
    common = {"disable_warnings": True, "display_progressbar": False}
    rows = []
    for k, (name, explain) in enumerate(maps.items()):
        draw = np.random.default_rng(rng.integers(2**63))  # the random maps' own stream
        # ROAD's imputation noise, seeded per maps so that the stage's results repeat
        perturb = partial(road_imputation, rng=np.random.RandomState([seed, k]))
        a4 = explain(net, labels, x, y, ig_steps, draw).reshape(x4.shape).astype(np.float32)
        if not a4.any():
            # every pixel of every image scores 0 (a network pruned until the method sees
            # nothing): no order to score, which Quantus refuses; the scores are not defined
            logging.getLogger(__name__).warning(
                "%s maps are 0 on all %d images: their Quantus scores are NaN", name, len(y)
            )
            rows += undefined_rows(name, image_shape, net.layers[::-1])
            continue

        def explain_func(model, inputs, targets, name=name, draw=draw, **_):
            other = _net(model, net.activation)
            flat = np.asarray(inputs, dtype=np.float32).reshape(len(inputs), -1)
            return (
                maps[name](other, labels, flat, np.asarray(targets), ig_steps, draw)
                .reshape(np.shape(inputs))
                .astype(np.float32)
            )

        # Quantus warns, and logs at INFO on the root logger, about every call it likes; its
        # check that a perturbation changed an image runs even with warnings disabled, against
        # all of ROAD's images so far for each image (np.allclose over a growing list)
        with warnings.catch_warnings(), _quiet(logging.INFO), _no_change_check_off(quantus):
            warnings.simplefilter("ignore")
            # one batch of all images: Quantus 0.6's ROAD averages only its first batch
            call = {
                "model": model,
                "x_batch": x4,
                "y_batch": y,
                "a_batch": a4,
                "device": "cpu",
                "channel_first": True,
                "batch_size": len(y),
            }
            curves = np.asarray(
                quantus.PixelFlipping(features_in_step=w, perturb_baseline="black", **common)(
                    **call
                )
            )
            fractions = np.arange(1, curves.shape[1] + 1) * w / (h * w)
            rows += [
                (name, "pixel_flipping", f, "", 0, v) for f, v in zip(fractions, curves.mean(0))
            ]
            road = quantus.ROAD(
                percentages=list(ROAD_PERCENT), noise=road_noise, perturb_func=perturb, **common
            )(**call)
            rows += [(name, "road", p / 100, "", 0, float(v)) for p, v in road.items()]
            mprt = quantus.MPRT(
                similarity_func=spearman_per_image, layer_order="top_down", seed=seed, **common
            )(**{**call, "a_batch": None}, explain_func=explain_func)
            done = []
            for layer, scores in mprt.items():
                if layer == "original":
                    continue
                done.append(layer.split(".")[-1])
                rows.append(
                    (name, "mprt", np.nan, "+".join(done), len(done), float(np.mean(scores)))
                )
    return pd.DataFrame(rows, columns=list(YARDSTICK_COLUMNS))
