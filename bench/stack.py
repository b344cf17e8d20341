"""Benchmark: can runs that share a seed train as one wide model, and does it pay here?

    .venv/bin/python bench/stack.py --data ../shared/data/mnist [--models 8] [--threads 1]

Runs of one seed share their batch order, so their first layers can be one product
``X @ [W1_a | W1_b | ...]`` (issue 25's design). Three ways to train ``--models`` masked
networks for one epoch on the same batches, each timed against one network's epoch measured in
the same run (medians of ``--repeats``):

  separate   the package's ``training.train``, one network after another (what the grid does)
  lockstep   ``training.Lockstep``: every layer one batched product (``torch.baddbmm``); its
             weights differ from separate training by float rounding, by how many are stacked
  exact      layer 1 as one wide product, the later layers per network: checked here to give
             separate training's weights bit for bit (the wide product's rows are the networks'
             own dot products; the bias gradient and the activation are taken per network, as a
             network alone has them, since a wider reduction or array rounds differently)

An exact stack would leave each run's results independent of which runs share its job, so the
grid could stack runs without tying their identities together; it pays only where one network
leaves the device idle. Prints the ratios and whether ``exact`` is bit-identical.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from regionprune.core.model import build_model
from regionprune.core.network import FIRST, W1, activation, forward
from regionprune.core.training import (  # the masking helpers: exactly train's steps
    SGD,
    Lockstep,
    _mask_grads,
    _zero_masked,
    as_float,
    resolve_device,
    set_determinism,
    to_split,
    train,
    train_lockstep,
)
from regionprune.io.data import load_split

BATCH, LR, SEED = 100, 0.1, 7


class WideFirstLayer(torch.autograd.Function):
    """``F.linear`` of one input with many networks' first layers stacked as rows; the bias
    gradient per network (``width`` rows each), summed as a network alone sums it."""

    @staticmethod
    def forward(ctx, x, w, b, width):
        ctx.save_for_backward(x)
        ctx.width = width
        return F.linear(x, w, b)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        w = ctx.width
        gb = torch.cat([g[:, j : j + w].contiguous().sum(0) for j in range(0, g.shape[1], w)])
        return None, x.t().mm(g).t(), gb, None


def exact_stack(inits, masks, data, act_name: str) -> list[dict[str, np.ndarray]]:
    """One epoch of every network on the same batches: layer 1 wide, the rest per network
    (``network.forward`` from layer 1 on, masks held as ``training.train`` holds them)."""
    act = activation(act_name, torch.zeros(1))
    width = inits[0][W1].shape[0]
    w1 = torch.cat([p[W1] for p in inits]).requires_grad_(True)
    b1 = [p[f"{FIRST}.bias"].clone().requires_grad_(True) for p in inits]
    nets = [  # each network's parameters; its W1 a view of the wide one
        {
            **{k: v.clone().requires_grad_(True) for k, v in p.items() if not k.startswith(FIRST)},
            W1: w1[j * width : (j + 1) * width],
            f"{FIRST}.bias": b1[j],
        }
        for j, p in enumerate(inits)
    ]
    masked = [(w1, torch.cat(masks))]
    opt = SGD([w1, *b1, *(v for n in nets for k, v in n.items() if not k.startswith(FIRST))], LR)
    _zero_masked(masked)
    order = torch.randperm(len(data.y), generator=torch.Generator().manual_seed(SEED))
    xs, ys = data.x.index_select(0, order), data.y.index_select(0, order)
    for i in range(0, len(ys), BATCH):
        y = ys[i : i + BATCH]
        z1 = WideFirstLayer.apply(as_float(xs[i : i + BATCH]), w1, torch.cat(b1), width)
        losses = []
        for j, net in enumerate(nets):
            h = act(z1[:, j * width : (j + 1) * width].contiguous())
            losses.append(F.cross_entropy(forward(net, h, act_name, F.linear, first=1), y))
        opt.zero_grad()
        sum(losses).backward()
        _mask_grads(masked)
        opt.step()
        _zero_masked(masked)
    return [{k: v.detach().cpu().numpy().copy() for k, v in net.items()} for net in nets]


def median_time(fn, repeats: int) -> float:
    return statistics.median(timeit.repeat(fn, number=1, repeat=repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="folder of the MNIST .gz files")
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="the grid trains with 1")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    set_determinism(args.threads)
    dev = resolve_device(args.device)
    data = to_split(*load_split(args.data, "mnist", "train"), dev)
    test = to_split(*load_split(args.data, "mnist", "test", 1000), dev)
    rng = np.random.default_rng(0)
    masks = [
        torch.from_numpy((rng.random((100, 784)) < 0.3).astype(np.float32)).to(dev)
        for _ in range(args.models)
    ]
    models = lambda n=args.models: [build_model("sigmoid", "default", s).to(dev) for s in range(n)]
    inits = [{k: v.detach() for k, v in m.state_dict().items()} for m in models()]

    def separate(n: int) -> list[dict[str, np.ndarray]]:
        out = []
        for m, mask in zip(models(n), masks):
            train(m, data, test, epochs=1, lr=LR, batch_size=BATCH, seed=SEED, masks={W1: mask})
            out.append({k: v.detach().cpu().numpy().copy() for k, v in m.state_dict().items()})
        return out

    def lockstep() -> None:
        stack = Lockstep(models(), dev)
        train_lockstep(
            stack,
            data,
            test,
            epochs=1,
            lr=LR,
            batch_size=BATCH,
            seeds=[SEED] * args.models,
            masks=[{W1: m} for m in masks],
        )

    one = median_time(lambda: separate(1), args.repeats)
    times = {
        "separate": median_time(lambda: separate(args.models), args.repeats),
        "lockstep": median_time(lockstep, args.repeats),
        "exact": median_time(lambda: exact_stack(inits, masks, data, "sigmoid"), args.repeats),
    }
    want, got = separate(args.models), exact_stack(inits, masks, data, "sigmoid")
    same = all((a[k] == b[k]).all() for a, b in zip(want, got) for k in a)
    print(f"{dev}, {args.threads} thread(s): one network's epoch {one:.3f} s")
    for name, t in times.items():
        print(f"  {args.models} networks, {name:9s} {t:7.3f} s = {t / one:5.2f}x one network")
    print(f"  exact stack bit-identical to separate training: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
