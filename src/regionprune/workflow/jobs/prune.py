"""Region pruning: remove small regions, the lowest-scoring fraction (of all neurons together
or per neuron), and every neuron's regions beyond its cap."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", type=Path, required=True, help="label file of this iteration")
    p.add_argument("--table", type=Path, required=True, help="region table of this iteration")
    p.add_argument(
        "--settings",
        required=True,
        help="RegionSettings as JSON (rate, score, scope; min_size, max_regions)",
    )
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out-mask", type=Path, required=True, help="mask and kept regions' labels")
    p.add_argument(
        "--out-table",
        type=Path,
        required=True,
        help="the region table with score, pruned and removed_by",
    )


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.core.carving import REASONS, decide
    from regionprune.workflow.codehash import code_version
    from regionprune.core.regions import mask_from_labels, remove_regions
    from regionprune.workflow.settings import RegionSettings
    from regionprune.io.storage import load_labels, read_table, save_mask, write_table

    rs = RegionSettings.from_json(args.settings)
    labels = load_labels(args.labels)
    table = read_table(args.table)
    scores, removed, reason = decide(table, **rs.decide_args())
    kept = remove_regions(labels, removed)
    by = {r: int((reason == r).sum()) for r in REASONS}
    logging.getLogger(__name__).info(
        "iteration %d: removed %d of %d regions (%d weights) by lowest %s, %s (%s)",
        args.iteration,
        removed.sum(),
        len(table),
        table["size"][removed].sum(),
        rs.score,
        rs.scope,
        ", ".join(f"{n} by {r}" for r, n in by.items() if n),
    )
    write_table(table.assign(score=scores, pruned=removed, removed_by=reason), args.out_table)
    save_mask(
        args.out_mask,
        mask_from_labels(kept),
        kept,
        stage="region-pruned",
        iteration=args.iteration,
        rate=rs.rate,
        score=rs.score,
        scope=rs.scope,
        variant=rs.variant,
        code_version=code_version("prune"),
    )
