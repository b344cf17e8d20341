"""Gather one run's stages into tidy tables: stages, epochs, regions, and its summary row."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings-row", required=True, help="the run's settings as a JSON object")
    p.add_argument("--checkpoints", type=Path, nargs="+", required=True,
                   help="baseline, magnitude, then iteration 1..N checkpoints, in order")  # fmt: skip
    p.add_argument("--epochs", type=Path, nargs="+", required=True, help="per-epoch tables")
    p.add_argument("--regions", type=Path, nargs="*", default=[], help="pruned region tables")
    p.add_argument("--out-stages", type=Path, required=True)
    p.add_argument("--out-epochs", type=Path, required=True)
    p.add_argument("--out-regions", type=Path, required=True)
    p.add_argument("--out-run", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from regionprune.metrics import run_row, stage_metrics
    from regionprune.storage import load_checkpoint, read_table, write_table

    row = json.loads(args.settings_row)
    run_id = row["run"]
    stages = pd.DataFrame([stage_metrics(load_checkpoint(p)) for p in args.checkpoints])
    if list(stages["iteration"]) != list(range(-1, len(stages) - 1)):
        raise ValueError(f"checkpoints out of order: iterations {list(stages['iteration'])}")
    regions = [read_table(p).assign(iteration=k) for k, p in enumerate(args.regions, start=1)]
    removed = {k: int(t["pruned"].sum()) for k, t in enumerate(regions, start=1)}
    stages["regions_removed"] = stages["iteration"].map(removed).astype("Int64")
    stages.insert(0, "run", run_id)
    epochs = pd.concat([read_table(p) for p in args.epochs], ignore_index=True)
    epochs.insert(0, "run", run_id)
    regions_df = (
        pd.concat(regions, ignore_index=True)
        if regions
        else pd.DataFrame(columns=["neuron", "region", "iteration"])
    )
    regions_df.insert(0, "run", run_id)
    write_table(stages, args.out_stages)
    write_table(epochs, args.out_epochs)
    write_table(regions_df, args.out_regions)
    write_table(pd.DataFrame([run_row(row, stages)]), args.out_run)
