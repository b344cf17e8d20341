"""The paper's fully connected network and its conversion to and from numpy arrays."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from regionprune.settings import LAYER_SIZES

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


class MLP(nn.Module):
    """``fc1 -> act -> fc2 -> act -> fc3``; logits out (cross-entropy applies the softmax)."""

    def __init__(self, sizes: tuple[int, ...] = LAYER_SIZES, activation: str = "sigmoid"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}")
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])
        self.act = _ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


def build_model(activation: str, init: str, seed: int) -> MLP:
    """A fresh network; ``init='default'`` keeps PyTorch's own initialisation (the paper's)."""
    torch.manual_seed(seed)
    model = MLP(activation=activation)
    if init != "default":
        scheme = getattr(nn.init, f"{init}_")  # xavier_uniform_, kaiming_normal_, ...
        gain_arg = "nonlinearity" if init.startswith("kaiming") else None
        for layer in (model.fc1, model.fc2, model.fc3):
            if gain_arg:
                nonlinearity = "relu" if activation == "relu" else "leaky_relu"
                scheme(layer.weight, nonlinearity=nonlinearity)
            else:
                scheme(layer.weight, gain=nn.init.calculate_gain(activation))
            nn.init.zeros_(layer.bias)
    return model


def params_to_numpy(model: nn.Module) -> dict[str, NDArray[np.float32]]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def load_params(model: nn.Module, params: dict[str, NDArray[np.float32]]) -> None:
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in params.items()})
