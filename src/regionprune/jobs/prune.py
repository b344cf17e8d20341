"""Region pruning: remove the lowest-scoring regions, of all neurons together or per neuron."""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.settings import SCOPES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", type=Path, required=True, help="label file of this iteration")
    p.add_argument("--table", type=Path, required=True, help="region table of this iteration")
    p.add_argument("--rate", type=float, required=True, help="fraction of regions to remove")
    p.add_argument("--score", default="mean_abs", help="region score to rank by")
    p.add_argument("--scope", choices=SCOPES, default="global")
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out-mask", type=Path, required=True, help="mask and kept regions' labels")
    p.add_argument("--out-table", type=Path, required=True, help="table with score and pruned")


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.codehash import code_version
    from regionprune.pruning import prune_lowest_fraction, prune_lowest_fraction_per_group
    from regionprune.regions import mask_from_labels, region_scores, remove_regions
    from regionprune.storage import load_labels, read_table, save_mask, write_table

    labels = load_labels(args.labels)
    table = read_table(args.table)
    scores = region_scores(table, args.score)
    if args.scope == "global":
        removed = prune_lowest_fraction(scores, args.rate)
    else:
        removed = prune_lowest_fraction_per_group(scores, table["neuron"].to_numpy(), args.rate)
    kept = remove_regions(labels, removed)
    logging.getLogger(__name__).info(
        "iteration %d: removed %d of %d regions (%d weights) by lowest %s, %s",
        args.iteration, removed.sum(), len(table), table["size"][removed].sum(), args.score,
        args.scope,
    )  # fmt: skip
    table = table.assign(score=scores, pruned=removed)
    write_table(table, args.out_table)
    save_mask(
        args.out_mask,
        mask_from_labels(kept),
        kept,
        stage="region-pruned",
        iteration=args.iteration,
        rate=args.rate,
        score=args.score,
        scope=args.scope,
        code_version=code_version("prune"),
    )
