"""Region pruning: rank all regions of all neurons together and remove the lowest-scoring ones."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", type=Path, required=True, help="label file of this iteration")
    p.add_argument("--table", type=Path, required=True, help="region table of this iteration")
    p.add_argument("--rate", type=float, required=True, help="fraction of regions to remove")
    p.add_argument("--score", default="mean_abs", help="region score to rank by")
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out-labels", type=Path, required=True, help="labels of the kept regions")
    p.add_argument("--out-table", type=Path, required=True, help="table with score and pruned")


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.codehash import code_version
    from regionprune.pruning import prune_lowest_fraction
    from regionprune.regions import region_scores, remove_regions
    from regionprune.storage import load_labels, read_table, save_labels, write_table

    labels = load_labels(args.labels)
    table = read_table(args.table)
    scores = region_scores(table, args.score)
    removed = prune_lowest_fraction(scores, args.rate)
    kept = remove_regions(labels, removed)
    logging.getLogger(__name__).info(
        "iteration %d: removed %d of %d regions (%d weights) by lowest %s",
        args.iteration, removed.sum(), len(table), table["size"][removed].sum(), args.score,
    )  # fmt: skip
    table = table.assign(score=scores, pruned=removed)
    write_table(table, args.out_table)
    save_labels(
        args.out_labels,
        kept,
        stage="region-pruned",
        iteration=args.iteration,
        rate=args.rate,
        score=args.score,
        code_version=code_version("prune"),
    )
