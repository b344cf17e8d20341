"""Concatenate every run's tables into results/summary/ and write the paper comparison."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=Path, nargs="+", required=True, help="per-run run.parquet")
    p.add_argument("--stages", type=Path, nargs="+", required=True, help="per-run stages.parquet")
    p.add_argument("--epochs", type=Path, nargs="+", required=True, help="per-run epochs.parquet")
    p.add_argument("--out-runs", type=Path, required=True)
    p.add_argument("--out-stages", type=Path, required=True)
    p.add_argument("--out-epochs", type=Path, required=True)
    p.add_argument("--out-markdown", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from regionprune.metrics import paper_table
    from regionprune.storage import read_table, write_table, write_text

    def cat(paths: list[Path]) -> pd.DataFrame:
        return pd.concat([read_table(p) for p in paths], ignore_index=True)

    runs = cat(args.runs)
    write_table(runs, args.out_runs)
    write_table(cat(args.stages), args.out_stages)
    write_table(cat(args.epochs), args.out_epochs)
    write_text(
        "# Results beside the paper\n\n"
        "Test accuracy and the per-neuron split of input-weight pruning (fractions of the hidden\n"
        "neurons that lost at least 90% / at most 40% of their input weights), after the last\n"
        "iteration. Made by `snakemake`; the numbers come from `runs.parquet`.\n\n"
        + paper_table(runs),
        args.out_markdown,
    )
