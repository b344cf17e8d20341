"""Retrain after region pruning, with every removed weight held at exactly zero."""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.jobs._torchjob import add_common, epochs_table, prepare, run_attrs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--settings", required=True, help="RegionSettings as JSON")
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--model", type=Path, required=True, help="checkpoint of the previous stage")
    p.add_argument("--pruned", type=Path, required=True, help="mask file of this iteration")
    p.add_argument("--stage", default="region", help="stage name: the method")
    p.add_argument("--out-model", type=Path, required=True)
    p.add_argument("--out-epochs", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import torch

    from regionprune import training
    from regionprune.codehash import code_version
    from regionprune.model import MLP, load_params, params_to_numpy
    from regionprune.settings import W1, RegionSettings, stream_seed
    from regionprune.storage import Checkpoint, load_checkpoint, load_mask, save_checkpoint
    from regionprune.storage import write_table

    rs = RegionSettings.from_json(args.settings)
    prev = load_checkpoint(args.model)
    mask, kept = load_mask(args.pruned)
    if (mask & ~prev.mask(W1)).any():
        raise ValueError(f"{args.pruned} revives weights that {args.model} had removed")
    ts, device, train, test = prepare(args)
    net = MLP(activation=ts.activation)
    load_params(net, prev.params)
    net.to(device)
    records = training.train(
        net, train, test, epochs=rs.retrain_epochs, lr=rs.retrain_lr,
        batch_size=rs.retrain_batch_size, seed=stream_seed(ts.seed, args.iteration),
        masks={W1: torch.from_numpy(mask).to(device=device, dtype=torch.float32)},
        weight_decay=ts.weight_decay,
    )  # fmt: skip
    acc, loss = training.evaluate(net, test)
    write_table(epochs_table(records, args.stage, args.iteration), args.out_epochs)
    settings = {**prev.attrs["settings"], "region": rs.to_dict()}
    save_checkpoint(
        args.out_model,
        Checkpoint(
            params=params_to_numpy(net),
            masks={W1: mask},
            labels=kept,
            attrs={
                "stage": args.stage,
                "iteration": args.iteration,
                "test_acc": acc,
                "test_loss": loss,
                "train_loss": records[-1]["train_loss"] if records else float("nan"),
                "settings": settings,
                "code_version": code_version("retrain"),
                **run_attrs(args, device),
            },
        ),
    )
