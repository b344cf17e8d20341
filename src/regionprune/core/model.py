"""The network as a torch module (training), built and converted to and from numpy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from regionprune.core.network import ACTIVATIONS, INITS, forward, layer_names, sizes_of

#: The paper's network, 784 - 100 - 50 - 10 (MNIST's pixels and classes, ``settings.PAPER_HIDDEN``).
PAPER_SIZES = (784, 100, 50, 10)


class MLP(nn.Module):
    """The network of ``network.forward`` as a torch module: one ``nn.Linear`` per layer,
    ``sizes`` the widths from the inputs to the classes (at least one hidden layer)."""

    def __init__(self, sizes: Sequence[int] = PAPER_SIZES, activation: str = "sigmoid"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        sizes = tuple(int(s) for s in sizes)
        for layer, n_in, n_out in zip(layer_names(len(sizes) - 1), sizes[:-1], sizes[1:]):
            setattr(self, layer, nn.Linear(n_in, n_out))
        self.sizes = sizes
        self.activation = activation

    @property
    def layers(self) -> tuple[str, ...]:
        return layer_names(len(self.sizes) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # each layer is called as a module (nn.Linear: F.linear, the same bits), so that its
        # hooks run: torch.nn.utils.prune recomputes a pruned weight from its mask in one
        layers = {}
        for name in self.layers:
            layers[f"{name}.weight"], layers[f"{name}.bias"] = getattr(self, name), None
        return forward(layers, x, self.activation, _call)


def _call(h: torch.Tensor, layer: nn.Module, _bias: None) -> torch.Tensor:
    return layer(h)


def build_model(activation: str, init: str, seed: int, sizes: Sequence[int] = PAPER_SIZES) -> MLP:
    """A fresh network; ``init='default'`` keeps PyTorch's own initialisation (the paper's)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    torch.manual_seed(seed)
    model = MLP(sizes, activation=activation)
    if init != "default":
        scheme = getattr(nn.init, f"{init}_")  # xavier_uniform_, kaiming_normal_, ...
        gain_arg = "nonlinearity" if init.startswith("kaiming") else None
        for layer in (getattr(model, name) for name in model.layers):
            if gain_arg:
                nonlinearity = "relu" if activation == "relu" else "leaky_relu"
                scheme(layer.weight, nonlinearity=nonlinearity)
            else:
                scheme(layer.weight, gain=nn.init.calculate_gain(activation))
            nn.init.zeros_(layer.bias)
    return model


def model_from_params(params: dict[str, NDArray], activation: str) -> MLP:
    """The MLP that holds ``params``, sized by them (any depth and widths)."""
    model = MLP(sizes_of(params), activation=activation)
    load_params(model, params)
    return model


def params_to_numpy(model: nn.Module) -> dict[str, NDArray[np.float32]]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_params(model: nn.Module, params: dict[str, NDArray[np.float32]]) -> None:
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in params.items()})
