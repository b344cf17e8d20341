"""Matched-density baselines: prune W1 by |w| (Han) or at random to the region run's count."""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.core.pruning import CRITERIA


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="this method's previous checkpoint")
    p.add_argument(
        "--target",
        type=Path,
        required=True,
        help="the region run's mask file of this iteration: the density to match",
    )
    p.add_argument("--criterion", choices=CRITERIA, required=True)
    p.add_argument(
        "--train-settings",
        required=True,
        help="TrainSettings as JSON: the run's seed (random criterion)",
    )
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out-mask", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.workflow.codehash import code_version
    from regionprune.core.pruning import criterion_scores, prune_to_count
    from regionprune.core.network import W1
    from regionprune.workflow.settings import RANDOM_STREAM, TrainSettings, stream_seed
    from regionprune.io.storage import load_checkpoint, load_mask, save_mask

    run = TrainSettings.from_json(args.train_settings)
    prev = load_checkpoint(args.model, train=run.to_dict())
    target, _ = load_mask(args.target)
    keep = int(target.sum())
    alive = prev.mask(W1)
    if keep > alive.sum():
        raise ValueError(
            f"the region run keeps {keep} W1 weights at iteration {args.iteration}, more than the "
            f"{int(alive.sum())} that {args.model} has left; densities must not grow"
        )
    seed = stream_seed(run.seed, RANDOM_STREAM + args.iteration)
    mask = prune_to_count(criterion_scores(args.criterion, prev.params[W1], seed), alive, keep)
    logging.getLogger(__name__).info(
        "iteration %d: %s pruning from %d to %d W1 weights, the region run's count",
        args.iteration,
        args.criterion,
        int(alive.sum()),
        keep,
    )
    save_mask(
        args.out_mask,
        mask,
        stage=f"{args.criterion}-pruned",
        iteration=args.iteration,
        code_version=code_version("match"),
    )
