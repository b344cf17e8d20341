"""Train the baseline network (the paper: 15 epochs of plain SGD, lr 0.1, batch 100)."""

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
    p.add_argument("--out-model", type=Path, required=True)
    p.add_argument("--out-epochs", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    from regionprune.core import training
    from regionprune.workflow.codehash import code_version
    from regionprune.io.data import describe
    from regionprune.core.model import build_model, params_to_numpy
    from regionprune.workflow.settings import stream_seed
    from regionprune.core.network import Checkpoint
    from regionprune.io.storage import save_checkpoint, write_table

    ts, device, train, test = prepare(args)
    info = describe(args.data_dir, ts.dataset)  # inputs and classes come from the data
    net = build_model(ts.activation, ts.init, ts.seed, info.sizes(ts.hidden)).to(device)
    records = training.train(
        net,
        train,
        test,
        epochs=ts.epochs,
        lr=ts.lr,
        batch_size=ts.batch_size,
        seed=stream_seed(ts.seed, 0),
        weight_decay=ts.weight_decay,
        after_epoch=epoch_done,
    )
    acc, loss = training.final_scores(records, lambda: training.evaluate(net, test))
    write_table(epochs_table(records, "baseline", -1), args.out_epochs)
    save_checkpoint(
        args.out_model,
        Checkpoint(
            params=params_to_numpy(net),
            attrs={
                "stage": "baseline",
                "iteration": -1,
                "test_acc": acc,
                "test_loss": loss,
                "train_loss": records[-1]["train_loss"],
                "settings": {"train": ts.to_dict()},
                "code_version": code_version("baseline"),
                **run_attrs(args, device),
            },
        ),
    )
