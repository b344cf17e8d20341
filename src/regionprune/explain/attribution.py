"""Standard pixel attributions of the same network (Captum), the reference the regions are
tested against in the deletion test (``deletion.METHODS`` names the Captum methods it uses)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from regionprune.model import MLP, model_from_params


def network(params: dict[str, NDArray], activation: str) -> MLP:
    """The MLP holding ``params`` (W1 already masked), sized by them, in eval mode on CPU; its
    weights need no gradient (attributions differentiate by the input: the same values, and
    backward skips the weights' gradients)."""
    model = model_from_params(
        {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}, activation
    ).eval()
    return model.requires_grad_(False)


def summed_logit(net: MLP, c: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """The forward Captum is given: class ``c``'s logit summed over the batch, one number.

    Images do not interact in an eval-mode MLP, so its gradient with respect to each image is
    that image's own logit gradient: the same values, bit for bit, as Captum's ``target=c``
    (a test checks). ``target=c`` makes Captum ask autograd for one gradient per image and
    integration step (``torch.unbind`` of the outputs, 16,000 of them per batch of integrated
    gradients), which cost three times the arithmetic; Captum's own notes on ``_select_targets``
    advise returning the target from the forward instead."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return net(x)[:, c].sum().reshape(1)

    return forward


def class_attributions(
    net: MLP,
    x: NDArray[np.float32],
    y: NDArray,
    n_classes: int,
    method: str,
    batch: int = 500,
    **kwargs: Any,
) -> NDArray[np.float64]:
    """``(classes, inputs)``: per class c, the mean attribution to class c's logit over the
    images of class c (positive: the pixel's value raises the class's logit). ``method`` is a
    Captum attribution class (``IntegratedGradients``); ``kwargs`` go to its ``attribute``."""
    import captum.attr

    explainer_class = getattr(captum.attr, method, None)
    if explainer_class is None:
        raise ValueError(f"captum.attr has no attribution method {method!r}")
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((n_classes, x.shape[1]))
    for c in range(n_classes):
        xc = torch.from_numpy(np.ascontiguousarray(x[y == c], dtype=np.float32)).requires_grad_()
        if len(xc) == 0:
            raise ValueError(f"class {c} has no images to attribute")
        explainer = explainer_class(summed_logit(net, c))
        total = torch.zeros(x.shape[1], dtype=torch.float64)
        for i in range(0, len(xc), batch):
            a = explainer.attribute(xc[i : i + batch], **kwargs)
            total += a.detach().double().sum(dim=0)
        out[c] = (total / len(xc)).numpy()
    return out


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
    import captum.attr
    import torch.nn.functional as F

    from regionprune.network import FIRST, W1, activation, forward

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
    for c in range(n_classes):
        part = torch.from_numpy(np.ascontiguousarray(x[y == c], dtype=np.float32)) @ share_t

        def logp(scale: torch.Tensor, part: torch.Tensor = part, c: int = c) -> torch.Tensor:
            z1 = (part[None] * scale[:, None, :]) @ member_t + p[f"{FIRST}.bias"]
            logits = forward(p, act(z1), activation_name, F.linear, first=1)
            return torch.log_softmax(logits, dim=-1)[..., c].mean(dim=1)

        ig = captum.attr.IntegratedGradients(logp)
        ones = torch.ones(1, n_regions)
        a = ig.attribute(ones, baselines=0.0, n_steps=n_steps, internal_batch_size=n_steps)
        out[c] = a.detach().double().numpy()[0]
    return out
