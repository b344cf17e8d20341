"""Training and evaluation with masks held at zero.

The whole data set lives as one float tensor on the device; each epoch draws a shuffled order from
a seeded generator and takes batches by indexing (no DataLoader, no per-sample transforms).
Masked weights are zeroed in the gradient before the step and again after it, so that they are
exactly zero after every optimiser step, whatever the optimiser does.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from regionprune.core.network import forward, layers_of
from regionprune.core.network import W1

log = logging.getLogger(__name__)

Masks = dict[str, torch.Tensor]


def resolve_device(device: str) -> torch.device:
    """``auto``: CPU without CUDA; else the visible GPU with the most free memory, so that
    concurrent jobs on a several-GPU workstation spread out (SLURM shows a job only its own)."""
    if device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        free = [torch.cuda.mem_get_info(i)[0] for i in range(torch.cuda.device_count())]
        return torch.device(f"cuda:{int(np.argmax(free))}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for, but CUDA is not available here")
    return torch.device(device)


#: cuBLAS reproducibility: without a fixed workspace, deterministic algorithms raise at the first
#: CUDA matrix product (PyTorch's notes on reproducibility). Read when CUDA starts.
CUBLAS_WORKSPACE = ":4096:8"


def set_determinism(threads: int) -> None:
    """Bit-identical results for the same device and thread count; call before CUDA starts."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.set_num_threads(max(1, threads))
    # torch.use_deterministic_algorithms(True) also sets the flag of torch's compiler
    # (Inductor), importing its stack: 1.5 s per job here, for code this package never
    # compiles. The kernels' flag alone is what eager mode reads.
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # a torch without it: the public call
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True)
    # deterministic mode also fills every new tensor's memory with NaN, for ops that would read
    # it before writing (none here: results are bit for bit the same without): 7% of an epoch
    torch.utils.deterministic.fill_uninitialized_memory = False


@dataclass
class Split:
    """A data split on the device: pixels stay uint8 (a quarter of float32's memory) and become
    floats in [0, 1] per batch, exactly the values a float copy of the whole set would hold.
    A user's float images stay float32 (already in [0, 1])."""

    x: torch.Tensor  # (N, H*W) uint8, or float32
    y: torch.Tensor  # (N,) int64


def as_float(x: torch.Tensor) -> torch.Tensor:
    if x.dtype != torch.uint8:
        return x.to(torch.float32)
    return x.to(torch.float32).div_(255.0)


def to_split(images: NDArray, labels: NDArray, device: torch.device) -> Split:
    x = torch.from_numpy(images).to(device)
    y = torch.from_numpy(labels.astype(np.int64)).to(device)
    return Split(x, y)


def _masked(
    params: dict[str, torch.Tensor], masks: Masks
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(parameter, its mask) pairs, looked up once rather than at every step."""
    for name in masks:
        if name not in params:
            raise KeyError(f"mask for unknown parameter {name!r}")
    return [(params[name], mask) for name, mask in masks.items()]


@torch.no_grad()
def _zero_masked(masked: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Hold the masked weights at zero (after each step)."""
    for param, mask in masked:
        param.mul_(mask)


def _mask_grads(masked: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Keep the masked weights' gradients out of the step."""
    for param, mask in masked:
        param.grad.mul_(mask)


@torch.no_grad()
def evaluate(model: nn.Module, data: Split, batch_size: int = 10_000) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) on a split."""
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(data.y), batch_size):
        logits = model(as_float(data.x[i : i + batch_size]))
        y = data.y[i : i + batch_size]
        correct += int((logits.argmax(1) == y).sum())
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
    n = len(data.y)
    return correct / n, loss / n


class SGD:
    """Plain SGD with an optional L2 penalty: ``torch.optim.SGD(params, lr, weight_decay)``'s
    arithmetic, bit for bit (a test trains against torch's), without the 2.3 s import of
    ``torch._dynamo`` that constructing any ``torch.optim`` optimiser costs each process."""

    def __init__(self, params: list[torch.Tensor], lr: float, weight_decay: float = 0.0):
        self.params, self.lr, self.weight_decay = list(params), lr, weight_decay

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            g = p.grad if self.weight_decay == 0 else p.grad.add(p, alpha=self.weight_decay)
            p.add_(g, alpha=-self.lr)


#: Each activation's derivative from its output, the ATen kernel autograd's backward calls.
ACTIVATION_GRADS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.ops.aten.sigmoid_backward,
    "tanh": torch.ops.aten.tanh_backward,
    "relu": lambda grad, out: torch.ops.aten.threshold_backward(grad, out, 0),
}


@torch.no_grad()
def backprop(
    params: dict[str, torch.Tensor], activation_name: str, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy's batch mean of the network ``params`` on ``(x, y)``, with every parameter's
    gradient set as its ``.grad``.

    The ATen kernels that ``F.cross_entropy(...).backward()`` runs, on the same tensors in the
    same layouts, so the same bits (tests: against autograd for every activation and several
    depths, and against torch.nn.utils.prune with torch's SGD), without building and walking
    autograd's graph at every step: a 784-100-50-10 epoch 0.60-0.63 s -> 0.41-0.47 s here."""
    aten = torch.ops.aten
    inputs: list[torch.Tensor] = []  # each layer's input: the image, then each activation's output

    def linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        inputs.append(h)
        return F.linear(h, w, b)

    logits = forward(params, x, activation_name, linear)
    # F.cross_entropy: log_softmax, then the negative log-likelihood's mean over the batch
    log_p = torch.log_softmax(logits, 1)
    loss, total_weight = aten.nll_loss_forward(log_p, y, None, 1, -100)
    grad = aten.nll_loss_backward(torch.ones_like(loss), log_p, y, None, 1, -100, total_weight)
    grad = aten._log_softmax_backward_data(grad, log_p, 1, log_p.dtype)
    layers = layers_of(params)
    act_grad = ACTIVATION_GRADS[activation_name]
    for i in range(len(layers) - 1, -1, -1):
        weight, bias = params[f"{layers[i]}.weight"], params[f"{layers[i]}.bias"]
        # addmm's backward: the weight's as grad.T @ input (its layout), the bias's a column sum
        weight.grad = grad.t().mm(inputs[i])
        bias.grad = grad.sum([0], True).view(bias.shape)
        if i > 0:
            grad = act_grad(grad.mm(weight), inputs[i])
    return loss


def _gradient_step(
    model: nn.Module, params: dict[str, torch.Tensor], opt: SGD
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(x, y) -> loss`` that leaves every parameter's gradient in its ``.grad``: ``backprop``
    for a plain network, autograd through the module for one whose forward is not just its
    layers (hooks, such as torch.nn.utils.prune's ``weight = weight_orig * weight_mask``)."""
    layers = getattr(model, "layers", ())
    plain = set(params) == {f"{layer}.{k}" for layer in layers for k in ("weight", "bias")}
    hooked = any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    if plain and not hooked:
        return lambda x, y: backprop(params, model.activation, x, y)

    def autograd_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        return loss.detach()

    return autograd_step


def train(
    model: nn.Module,
    train_data: Split,
    test_data: Split,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    masks: Masks | None = None,
    weight_decay: float = 0.0,
    after_step: Callable[[nn.Module], None] | None = None,
    after_epoch: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Plain SGD on cross-entropy (with an optional L2 penalty); one record per epoch (train
    loss, test accuracy and loss, seconds). Masked weights stay exactly zero: their gradient is
    masked before the step, and the decay of a zero weight is zero. ``after_step`` is called
    with the model after each step, ``after_epoch`` with the epoch's number after each epoch."""
    params = dict(model.named_parameters())
    masked = _masked(params, masks or {})
    _zero_masked(masked)
    opt = SGD(list(params.values()), lr=lr, weight_decay=weight_decay)
    step = _gradient_step(model, params, opt)
    gen = torch.Generator().manual_seed(seed)
    n = len(train_data.y)
    records = []
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(train_data.x.device)
        # the epoch's images in its order, gathered once (uint8: 47 MB for MNIST); each batch
        # is then a slice, the same rows as indexing the set with the batch's part of `order`
        xs, ys = train_data.x.index_select(0, order), train_data.y.index_select(0, order)
        total = torch.zeros((), device=train_data.x.device)
        for i in range(0, n, batch_size):
            y = ys[i : i + batch_size]
            loss = step(as_float(xs[i : i + batch_size]), y)
            _mask_grads(masked)
            opt.step()
            _zero_masked(masked)
            total += loss * len(y)
            if after_step is not None:
                after_step(model)
        acc, test_loss = evaluate(model, test_data)
        rec = {
            "epoch": epoch,
            "train_loss": float(total) / n,
            "test_acc": acc,
            "test_loss": test_loss,
            "seconds": time.perf_counter() - start,
        }
        log.info(
            "epoch %d/%d  train loss %.4f  test acc %.4f  (%.2f s)",
            epoch,
            epochs,
            rec["train_loss"],
            acc,
            rec["seconds"],
        )
        records.append(rec)
        if after_epoch is not None:
            after_epoch(epoch)
    return records


def final_scores(
    records: list[dict[str, float]], evaluate_now: Callable[[], tuple[float, float]]
) -> tuple[float, float]:
    """(test accuracy, mean test cross-entropy) of a trained network: its last epoch's, measured
    on the weights it ended with (the same numbers as evaluating again, without the pass over
    the test set: 36 ms of a 0.8 s one-epoch retraining); ``evaluate_now()`` when no epoch ran."""
    if records:
        return records[-1]["test_acc"], records[-1]["test_loss"]
    return evaluate_now()


def stacked_linear(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """One layer of M stacked networks: ``h`` (M, B, in), ``w`` (M, out, in), ``b`` (M, out)."""
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


class Lockstep:
    """Several MLPs of one activation as stacked tensors, trained together by batched products.

    Model m keeps its own initial weights, data order (seed) and masks; one step of all models
    is one ``baddbmm`` per layer instead of M small matrix products. Each model's loss is its own
    batch mean, and the step minimises their sum, so every model's gradient is exactly its own.
    Results equal separate training up to float rounding (``bmm`` sums in another order than
    ``addmm``); the tests bound the difference.
    """

    def __init__(self, models: list[nn.Module], device: torch.device):
        acts = {m.activation for m in models}
        if len(acts) != 1:
            raise ValueError("lockstep models must share one activation")
        self.activation = models[0].activation
        self.params: dict[str, torch.Tensor] = {}
        for name in dict(models[0].named_parameters()):
            stacked = torch.stack([dict(m.named_parameters())[name].detach() for m in models])
            self.params[name] = stacked.to(device).requires_grad_(True)

    def __len__(self) -> int:
        return self.params[W1].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (M, B, inputs), or (B, inputs) shared by all models; logits (M, B, classes)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(len(self), -1, -1)
        return forward(self.params, x, self.activation, stacked_linear)

    def state_dicts(self) -> list[dict[str, np.ndarray]]:
        return [
            {k: v[m].detach().cpu().numpy().copy() for k, v in self.params.items()}
            for m in range(len(self))
        ]


@torch.no_grad()
def evaluate_lockstep(
    stack: Lockstep, data: Split, batch_size: int = 10_000
) -> list[tuple[float, float]]:
    """(accuracy, mean cross-entropy) of every model on a split."""
    correct = torch.zeros(len(stack))
    loss = torch.zeros(len(stack))
    for i in range(0, len(data.y), batch_size):
        logits = stack.forward(as_float(data.x[i : i + batch_size]))  # (M, B, C)
        y = data.y[i : i + batch_size]
        correct += (logits.argmax(2) == y).sum(1).cpu().float()
        ce = F.cross_entropy(logits.transpose(1, 2), y.expand(len(stack), -1), reduction="none")
        loss += ce.sum(1).cpu()
    n = len(data.y)
    return [(float(c) / n, float(lo) / n) for c, lo in zip(correct, loss)]


def train_lockstep(
    stack: Lockstep,
    train_data: Split,
    test_data: Split | None,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seeds: list[int],
    masks: list[Masks] | None = None,
    weight_decay: float = 0.0,
) -> list[list[dict[str, float]]]:
    """Plain SGD (optionally with an L2 penalty) of every model in the stack at once; per model,
    one record per epoch (test accuracy and loss NaN without ``test_data``)."""
    m = len(stack)
    if len(seeds) != m:
        raise ValueError(f"{len(seeds)} seeds for {m} models")
    stacked_masks: dict[str, torch.Tensor] = {}
    if masks:
        if len(masks) != m:
            raise ValueError(f"{len(masks)} mask sets for {m} models")
        for name in masks[0]:
            stacked_masks[name] = torch.stack([mk[name] for mk in masks]).to(train_data.x.device)
    masked = [(stack.params[name], mask) for name, mask in stacked_masks.items()]
    _zero_masked(masked)
    opt = SGD(list(stack.params.values()), lr=lr, weight_decay=weight_decay)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    n = len(train_data.y)
    records: list[list[dict[str, float]]] = [[] for _ in range(m)]
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(train_data.x.device)
        shared = len(set(seeds)) == 1  # one batch order: each batch is read once, for all
        total = torch.zeros(m, device=train_data.x.device)
        for i in range(0, n, batch_size):
            idx = order[:, i : i + batch_size]  # (M, B): each model its own batch
            xb = as_float(train_data.x[idx[0]] if shared else train_data.x[idx])
            logits = stack.forward(xb)
            per_model = F.cross_entropy(
                logits.transpose(1, 2), train_data.y[idx], reduction="none"
            ).mean(1)
            opt.zero_grad()
            per_model.sum().backward()
            _mask_grads(masked)
            opt.step()
            _zero_masked(masked)
            total += per_model.detach() * idx.shape[1]
        seconds = time.perf_counter() - start
        scores = (
            evaluate_lockstep(stack, test_data) if test_data is not None else [(np.nan, np.nan)] * m
        )
        for k, (acc, test_loss) in enumerate(scores):
            records[k].append(
                {
                    "epoch": epoch,
                    "train_loss": float(total[k]) / n,
                    "test_acc": acc,
                    "test_loss": test_loss,
                    "seconds": seconds,
                }
            )
        log.info("lockstep epoch %d/%d of %d models (%.2f s)", epoch, epochs, m, seconds)
    return records
