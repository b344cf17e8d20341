"""Retrain after pruning, with every removed weight held at exactly zero.

One network is trained as usual. Several (the matched baselines of a region run, which always
come as a pair) are trained together in lockstep: one process, one data load, one batched
product per layer, each network with its own weights and mask and the iteration's data order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.workflow.jobs._torchjob import (
    add_common,
    epoch_done,
    epochs_table,
    prepare,
    run_attrs,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--settings", required=True, help="RegionSettings as JSON")
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument(
        "--model",
        type=Path,
        nargs="+",
        required=True,
        help="checkpoint of the previous stage, per network",
    )
    p.add_argument(
        "--pruned",
        type=Path,
        nargs="+",
        required=True,
        help="mask file of this iteration, per network",
    )
    p.add_argument("--stage", nargs="+", default=["region"], help="stage name (the method)")
    p.add_argument("--out-model", type=Path, nargs="+", required=True)
    p.add_argument("--out-epochs", type=Path, nargs="+", required=True)


def run(args: argparse.Namespace) -> None:
    import functools

    import torch

    from regionprune.core import training
    from regionprune.workflow.codehash import code_version
    from regionprune.core.model import model_from_params, params_to_numpy
    from regionprune.core.network import W1
    from regionprune.workflow.settings import RegionSettings, stream_seed
    from regionprune.core.network import Checkpoint
    from regionprune.io.storage import load_checkpoint, load_mask, save_checkpoint
    from regionprune.io.storage import write_table

    n = len(args.model)
    if not len(args.pruned) == len(args.stage) == len(args.out_model) == len(args.out_epochs) == n:
        raise ValueError("--model, --pruned, --stage, --out-model and --out-epochs must pair up")
    rs = RegionSettings.from_json(args.settings)
    ts, device, train, test = prepare(args)
    prevs = [load_checkpoint(p, train=ts.to_dict()) for p in args.model]
    masks = []
    for prev, model, pruned in zip(prevs, args.model, args.pruned):
        mask, kept = load_mask(pruned)
        if (mask & ~prev.mask(W1)).any():
            raise ValueError(f"{pruned} revives weights that {model} had removed")
        masks.append((mask, kept))
    nets = []
    for prev in prevs:
        nets.append(model_from_params(prev.params, ts.activation).to(device))
    as_tensor = lambda m: torch.from_numpy(m).to(device=device, dtype=torch.float32)  # noqa: E731
    seed = stream_seed(ts.seed, args.iteration)
    hyper = {
        "epochs": rs.retrain_epochs,
        "lr": rs.retrain_lr,
        "batch_size": rs.retrain_batch_size,
        "weight_decay": ts.weight_decay,
    }
    if n == 1:
        records = [
            training.train(
                nets[0],
                train,
                test,
                seed=seed,
                masks={W1: as_tensor(masks[0][0])},
                after_epoch=epoch_done,
                **hyper,
            )
        ]
        params = [params_to_numpy(nets[0])]
        results = [training.final_scores(records[0], lambda: training.evaluate(nets[0], test))]
    else:
        stack = training.Lockstep(nets, device)
        records = training.train_lockstep(
            stack,
            train,
            test,
            seeds=[seed] * n,
            masks=[{W1: as_tensor(m)} for m, _ in masks],
            **hyper,
        )
        params = stack.state_dicts()
        every = functools.cache(lambda: training.evaluate_lockstep(stack, test))
        results = [training.final_scores(r, lambda i=i: every()[i]) for i, r in enumerate(records)]
    for i in range(n):
        acc, loss = results[i]
        write_table(epochs_table(records[i], args.stage[i], args.iteration), args.out_epochs[i])
        save_checkpoint(
            args.out_model[i],
            Checkpoint(
                params=params[i],
                masks={W1: masks[i][0]},
                labels=masks[i][1],
                attrs={
                    "stage": args.stage[i],
                    "iteration": args.iteration,
                    "test_acc": acc,
                    "test_loss": loss,
                    "train_loss": records[i][-1]["train_loss"] if records[i] else float("nan"),
                    "settings": {**prevs[i].attrs["settings"], "region": rs.to_dict()},
                    "code_version": code_version("retrain"),
                    "lockstep": n,  # networks trained together (results differ ~1e-8 by n)
                    **run_attrs(args, device),
                },
            ),
        )
