"""Pixel attributions of the same network, the reference the regions are tested against in the
deletion test, the sanity check and the yardstick: integrated gradients and input x gradient,
as Captum defines them (a test checks every one against Captum's own), computed through
layer 1's linearity, so that its 784-wide product runs once per image, not once per step.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from regionprune.core.model import MLP, model_from_params


def network(params: dict[str, NDArray], activation: str) -> MLP:
    """The MLP holding ``params`` (W1 already masked), sized by them, in eval mode on CPU; its
    weights need no gradient (attributions differentiate by the input: the same values, and
    backward skips the weights' gradients)."""
    model = model_from_params(
        {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}, activation
    ).eval()
    return model.requires_grad_(False)


def gauss_legendre(n_steps: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Captum's default integration rule for integrated gradients: the ``n_steps`` weights and
    points (alphas) of Gauss-Legendre quadrature on [0, 1] (a test checks them against
    Captum's ``approximation_parameters("gausslegendre")``)."""
    points, weights = np.polynomial.legendre.leggauss(n_steps)
    return 0.5 * weights, 0.5 * (points + 1.0)


def _gradient_times_path(
    params: dict[str, NDArray],
    activation_name: str,
    x: NDArray[np.float32],
    target: NDArray,
    weights: NDArray,
    alphas: NDArray,
    baselines: float,
    batch: int,
) -> NDArray[np.float32]:
    """``(x - baselines) * sum_k weights[k] * grad logit_target(baselines + alphas[k] (x -
    baselines))``, per image, on the MLP of ``params`` (W1 already masked).

    Along that path layer 1's pre-activation is ``z1(baselines) + alpha W1 (x - baselines)``
    and the input gradient is ``W1^T dlogit/dz1``: layer 1 runs once per image and only the
    layers after it run per point."""
    import torch.nn.functional as F

    from regionprune.core.network import FIRST, W1, activation, forward

    p = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in params.items()}
    weights = torch.tensor(np.asarray(weights), dtype=torch.float32)
    alpha = torch.tensor(np.asarray(alphas), dtype=torch.float32)[:, None, None]
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    target = torch.from_numpy(np.asarray(target, dtype=np.int64))
    w1, b1 = p[W1], p[f"{FIRST}.bias"]
    act = activation(activation_name, w1)
    delta = x - baselines
    start = F.linear(torch.full((1, x.shape[1]), float(baselines)), w1, b1)  # z1 at the baseline
    out = torch.empty_like(x)
    with torch.enable_grad():
        for i in range(0, len(x), batch):
            z1 = (start + alpha * F.linear(delta[i : i + batch], w1)).requires_grad_()
            logits = forward(p, act(z1), activation_name, F.linear, first=1)  # (S, n, classes)
            index = target[i : i + batch, None].expand(len(weights), -1, 1)
            (grad,) = torch.autograd.grad(logits.gather(-1, index).sum(), z1)
            out[i : i + batch] = delta[i : i + batch] * (
                torch.einsum("s,snh->nh", weights, grad) @ w1
            )
    return out.numpy()


def integrated_gradients(
    params: dict[str, NDArray],
    activation_name: str,
    x: NDArray[np.float32],
    target: NDArray,
    n_steps: int = 32,
    baselines: float = 0.0,
    batch: int = 1000,
) -> NDArray[np.float32]:
    """``(N, inputs)``: Captum's ``IntegratedGradients`` (its default Gauss-Legendre rule) of
    each image's logit ``target[i]`` from the image ``baselines`` (a grey level; 0: black), on
    the MLP of ``params`` (W1 already masked)."""
    weights, alphas = gauss_legendre(n_steps)
    return _gradient_times_path(
        params, activation_name, x, target, weights, alphas, baselines, batch
    )


def input_x_gradient(
    params: dict[str, NDArray], activation_name: str, x: NDArray[np.float32], target: NDArray
) -> NDArray[np.float32]:
    """``(N, inputs)``: Captum's ``InputXGradient``, each image times the gradient of its logit
    ``target[i]``: the path method above with one point, the image itself."""
    return _gradient_times_path(
        params, activation_name, x, target, np.ones(1), np.ones(1), 0.0, 1000
    )


def region_integrated_gradients(
    params: dict[str, NDArray],
    activation_name: str,
    gid: NDArray[np.int64],
    x: NDArray[np.float32],
    y: NDArray,
    n_classes: int,
    n_steps: int = 32,
) -> NDArray[np.float64]:
    """``(classes, regions)``: integrated gradients of each class's mean log-probability over its
    images with respect to a scale on every region's weights, from all of W1 off (scale 0) to
    the network (scale 1): a region's share of the class's log-probability, by gradients instead
    of by ablation. The same number as summing the weight-wise integrated gradients
    ``w * mean_path(d logp / d w)`` over the region's weights; the regions' sum is the whole
    change from W1 = 0 (completeness). ``gid`` gives each W1 weight its region (-1: removed)."""
    import torch.nn.functional as F

    from regionprune.core.network import FIRST, W1, activation, forward

    p = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in params.items()}
    gid = np.asarray(gid, dtype=np.int64)
    n_regions = int(gid.max()) + 1 if gid.size else 0
    # x @ share is each region's part of its neuron's pre-activation (N, regions); layer 1 at
    # region scales s is then bias + (part * s) @ member, member (regions, H1) the neuron's
    rows, pix = np.nonzero(gid >= 0)
    share = np.zeros((gid.shape[1], n_regions), dtype=np.float32)
    share[pix, gid[rows, pix]] = np.asarray(params[W1], dtype=np.float32)[rows, pix]
    member = np.zeros((n_regions, gid.shape[0]), dtype=np.float32)
    member[gid[rows, pix], rows] = 1.0
    share_t, member_t = torch.from_numpy(share), torch.from_numpy(member)
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((n_classes, n_regions))
    act = activation(activation_name, p[W1])
    weights, alphas = (torch.tensor(v, dtype=torch.float32) for v in gauss_legendre(n_steps))
    ones, baseline = torch.ones(n_regions), 0.0
    with torch.enable_grad():
        for c in range(n_classes):
            part = torch.from_numpy(np.ascontiguousarray(x[y == c], dtype=np.float32)) @ share_t
            # Captum's IntegratedGradients of the class's mean log-probability with respect to
            # the scales, from all 0 (``baseline``) to all 1 (a test checks it against Captum's)
            scale = (baseline + alphas[:, None] * (ones - baseline)).requires_grad_()
            z1 = (part[None] * scale[:, None, :]) @ member_t + p[f"{FIRST}.bias"]
            logits = forward(p, act(z1), activation_name, F.linear, first=1)
            logp = torch.log_softmax(logits, dim=-1)[..., c].mean(dim=1)  # (steps,)
            (grad,) = torch.autograd.grad(logp.sum(), scale)
            out[c] = ((weights[:, None] * grad).sum(0) * (ones - baseline)).double().numpy()
    return out
