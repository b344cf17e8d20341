"""Standard pixel attributions of the same network (Captum), the reference the regions are
tested against: input x gradient, and integrated gradients from an all-black baseline."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from regionprune.model import MLP, load_params

#: Pixel-attribution methods of the deletion test, by the name its tables use.
PIXEL_METHODS = ("input_x_gradient", "integrated_gradients")


def network(params: dict[str, NDArray], activation: str) -> MLP:
    """The MLP holding ``params`` (W1 already masked), sized by them, in eval mode on CPU."""
    sizes = (params["fc1.weight"].shape[1], params["fc1.weight"].shape[0],
             params["fc2.weight"].shape[0], params["fc3.weight"].shape[0])  # fmt: skip
    net = MLP(sizes=sizes, activation=activation)
    load_params(net, {k: np.asarray(v, dtype=np.float32) for k, v in params.items()})
    return net.eval()


def class_attributions(
    net: MLP,
    x: NDArray[np.float32],
    y: NDArray,
    n_classes: int,
    method: str,
    steps: int = 32,
    batch: int = 500,
) -> NDArray[np.float64]:
    """``(classes, inputs)``: per class c, the mean attribution to class c's logit over the
    images of class c (positive: the pixel's value raises the class's logit)."""
    from captum.attr import InputXGradient, IntegratedGradients

    if method not in PIXEL_METHODS:
        raise ValueError(f"pixel attribution must be one of {PIXEL_METHODS}, got {method!r}")
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((n_classes, x.shape[1]))
    explainer = InputXGradient(net) if method == "input_x_gradient" else IntegratedGradients(net)
    for c in range(n_classes):
        xc = torch.from_numpy(np.ascontiguousarray(x[y == c], dtype=np.float32)).requires_grad_()
        if len(xc) == 0:
            raise ValueError(f"class {c} has no images to attribute")
        total = torch.zeros(x.shape[1], dtype=torch.float64)
        for i in range(0, len(xc), batch):
            xb = xc[i : i + batch]
            if method == "input_x_gradient":
                a = explainer.attribute(xb, target=c)
            else:
                a = explainer.attribute(xb, baselines=0.0, target=c, n_steps=steps)
            total += a.detach().double().sum(dim=0)
        out[c] = (total / len(xc)).numpy()
    return out
