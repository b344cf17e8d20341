"""First pruning of W1: the given fraction with the smallest |w| (Han et al.), or at random."""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.workflow.jobs._torchjob import add_common, prepare, run_attrs
from regionprune.core.pruning import CRITERIA


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common(p)
    p.add_argument("--settings", required=True, help="MagnitudeSettings as JSON")
    p.add_argument("--baseline", type=Path, required=True, help="baseline checkpoint")
    p.add_argument(
        "--blank-pixels",
        type=Path,
        default=None,
        help="the blank_pixels table: needed with drop_inactive",
    )
    p.add_argument(
        "--criterion",
        choices=CRITERIA,
        default="magnitude",
        help="random: the random method's own start, at the same rate",
    )
    p.add_argument("--out-model", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.core import training
    from regionprune.workflow.codehash import code_version
    from regionprune.io.data import read_blank_pixels
    from regionprune.core.model import model_from_params
    from regionprune.core.pruning import criterion_scores, density, prune_fraction
    from regionprune.core.network import W1
    from regionprune.workflow.settings import RANDOM_STREAM, MagnitudeSettings, stream_seed
    from regionprune.core.network import Checkpoint
    from regionprune.io.storage import load_checkpoint, save_checkpoint

    ms = MagnitudeSettings.from_json(args.settings)
    ts, device, _, test = prepare(args, need_train=False)
    base = load_checkpoint(args.baseline, train=ts.to_dict())
    scores = criterion_scores(args.criterion, base.params[W1], stream_seed(ts.seed, RANDOM_STREAM))
    inactive = None
    if ms.drop_inactive:
        if args.blank_pixels is None:
            raise ValueError(
                "magnitude.drop_inactive needs --blank-pixels (the blank_pixels table)"
            )
        inactive = read_blank_pixels(args.blank_pixels)
        logging.getLogger(__name__).info(
            "dropping the weights of %d never-active input pixels first", int(inactive.sum())
        )
    mask = prune_fraction(scores, ms.rate, base.mask(W1), first=inactive)
    params = dict(base.params)
    params[W1] = params[W1] * mask
    net = model_from_params(params, ts.activation)
    acc, loss = training.evaluate(net.to(device), test)
    logging.getLogger(__name__).info(
        "W1 density %.4f after %s pruning at rate %g; test acc %.4f (baseline %.4f)",
        density(mask),
        args.criterion,
        ms.rate,
        acc,
        base.attrs["test_acc"],
    )
    save_checkpoint(
        args.out_model,
        Checkpoint(
            params=params,
            masks={W1: mask},
            attrs={
                "stage": args.criterion,
                "iteration": 0,
                "test_acc": acc,
                "test_loss": loss,
                "settings": {"train": ts.to_dict(), "magnitude": ms.to_dict()},
                "criterion": args.criterion,
                "code_version": code_version("magnitude"),
                **run_attrs(args, device),
            },
        ),
    )
