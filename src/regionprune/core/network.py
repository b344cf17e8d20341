"""The network, defined once: a forward pass over a dict of parameters.

``fc1 -> act -> fc2 -> act -> ... -> fcL`` (logits; cross-entropy applies the softmax): as many
layers as the parameters hold (the paper's 784-100-50-10 has three). Training one
network (``model.MLP``), training several stacked in lockstep (``training.Lockstep``) and the
numpy decision-basis math (``explain``) all run ``forward``; they differ only in how a layer's
product is taken (``linear``: ``numpy_linear``, ``torch.nn.functional.linear``, a batched
``baddbmm``), each the operation that backend used before, so that results are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: The paper's layers, input -> hidden 1 -> hidden 2 -> logits; parameters are
#: ``<layer>.weight`` and ``<layer>.bias`` (PyTorch's names, as in the checkpoints). A network of
#: other depth names its layers the same way (``layer_names``).
LAYERS = ("fc1", "fc2", "fc3")
#: The layer region pruning works on: always the first (input -> hidden layer 1).
FIRST = LAYERS[0]
W1 = f"{FIRST}.weight"
#: Weight initialisations: PyTorch's own (``default``, the paper's) or one of ``torch.nn.init``'s.
INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


def layer_names(n_layers: int) -> tuple[str, ...]:
    """``fc1 ... fc<n>``: the names of a network's ``n_layers`` linear layers."""
    if n_layers < 2:
        raise ValueError(f"a network needs at least one hidden layer, got {n_layers} layer(s)")
    return tuple(f"fc{i}" for i in range(1, n_layers + 1))


def layers_of(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The layers a parameter dict holds, input first (``fc1.weight``, ``fc2.weight``, ...)."""
    n = 0
    while f"fc{n + 1}.weight" in params:
        n += 1
    return layer_names(n)


def sizes_of(params: Mapping[str, Any]) -> tuple[int, ...]:
    """The layer widths a parameter dict holds: inputs, every hidden layer, classes."""
    layers = layers_of(params)
    return (params[W1].shape[1], *(params[f"{name}.weight"].shape[0] for name in layers))


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` as ``1 / (1 + e)`` where z >= 0 and ``e / (1 + e)`` where z < 0,
    with ``e = exp(-|z|)`` (never overflows), in z's dtype: two arrays and seven passes (the
    decision basis's ablations apply it to arrays of millions of values; ``np.where`` over both
    quotients took five times as long, with the same bits)."""
    e = np.abs(z, out=np.empty_like(z))  # an array also where z is a scalar
    np.negative(e, out=e)
    np.exp(e, out=e)
    d = e + 1
    np.copyto(e, 1, where=z >= 0)  # the numerator
    return np.divide(e, d, out=e)


#: Every activation: its numpy function, and the name of its torch function.
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "sigmoid": (_np_sigmoid, "sigmoid"),
    "relu": (lambda z: np.maximum(z, 0, dtype=z.dtype), "relu"),
    "tanh": (np.tanh, "tanh"),
}


def activation(name: str, like: Any) -> Callable[[Any], Any]:
    """The activation ``name`` for arrays like ``like`` (numpy, or torch tensors)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    numpy_fn, torch_name = ACTIVATIONS[name]
    if isinstance(like, np.ndarray):
        return numpy_fn
    import torch

    return getattr(torch, torch_name)


def numpy_linear(h: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``h @ w.T + b`` (any leading axes of ``h``)."""
    return h @ w.T + b


Linear = Callable[[Any, Any, Any], Any]


def forward(
    params: Mapping[str, Any],
    x: Any,
    activation_name: str,
    linear: Linear = numpy_linear,
    first: int = 0,
) -> Any:
    """Logits from ``x``, the input of layer ``first`` (0: the image; 1: layer 1's activation
    ...): each layer's product, then the activation after every layer but the last."""
    act = activation(activation_name, x)
    layers = layers_of(params)
    h = x
    for i in range(first, len(layers)):
        h = linear(h, params[f"{layers[i]}.weight"], params[f"{layers[i]}.bias"])
        if i < len(layers) - 1:
            h = act(h)
    return h


@dataclass
class Checkpoint:
    """A network's parameters at one stage, its masks, region labels and metadata."""

    params: dict[str, NDArray[np.float32]]
    masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    labels: NDArray[np.int32] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def mask(self, name: str) -> NDArray[np.bool_]:
        """The mask of a parameter; all True where none is stored."""
        if name in self.masks:
            return self.masks[name]
        return np.ones(self.params[name].shape, dtype=bool)
