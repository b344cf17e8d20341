"""Gather one run's stages into tidy tables: iterations, epochs, regions, neurons, pixels, run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings-row", required=True, help="the run's settings as a JSON object")
    p.add_argument(
        "--blank-pixels",
        type=Path,
        required=True,
        help="the blank_pixels table of the run's training images",
    )
    p.add_argument(
        "--train-settings",
        required=True,
        help="TrainSettings as JSON: the data set, for the image shape",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="the data set's folder: its image shape and classes",
    )
    p.add_argument(
        "--region-settings",
        required=True,
        help="RegionSettings as JSON: the connectivity of the readability measures",
    )
    p.add_argument(
        "--checkpoints",
        type=Path,
        nargs="+",
        required=True,
        help="baseline, first pruning, then iteration 1..N checkpoints, in order",
    )
    p.add_argument("--epochs", type=Path, nargs="+", required=True, help="per-epoch tables")
    p.add_argument("--regions", type=Path, nargs="*", default=[], help="pruned region tables")
    p.add_argument("--out-iterations", type=Path, required=True)
    p.add_argument("--out-epochs", type=Path, required=True)
    p.add_argument("--out-regions", type=Path, required=True)
    p.add_argument("--out-neurons", type=Path, required=True)
    p.add_argument("--out-pixels", type=Path, required=True)
    p.add_argument("--out-run", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from regionprune.io.data import describe, read_blank_pixels
    from regionprune.core.metrics import neuron_table, pixel_usage, stage_metrics
    from regionprune.workflow.tables import run_row
    from regionprune.core.regions import label_neurons
    from regionprune.core.network import W1
    from regionprune.workflow.settings import RegionSettings, TrainSettings
    from regionprune.io.storage import load_checkpoint, read_table, write_table

    connectivity = RegionSettings.from_json(args.region_settings).connectivity
    row = json.loads(args.settings_row)
    run_id = row["run"]
    ts = TrainSettings.from_json(args.train_settings)
    shape = describe(args.data_dir, ts.dataset).image_shape
    inactive = read_blank_pixels(args.blank_pixels)
    ckpts = [load_checkpoint(p, train=ts.to_dict()) for p in args.checkpoints]
    # every stage labelled once, afresh, the same way for every method (metrics.stage_metrics)
    labels = [label_neurons(c.mask(W1), shape, connectivity) for c in ckpts]
    stages = pd.DataFrame([stage_metrics(c, lab, inactive) for c, lab in zip(ckpts, labels)])
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
    final_mask = ckpts[-1].mask(W1)
    neurons = neuron_table(labels[-1], ckpts[-1].params[W1])
    neurons.insert(0, "run", run_id)
    pixels = pixel_usage(final_mask, shape, inactive)
    pixels.insert(0, "run", run_id)
    write_table(stages, args.out_iterations)
    write_table(epochs, args.out_epochs)
    write_table(regions_df, args.out_regions)
    write_table(neurons, args.out_neurons)
    write_table(pixels, args.out_pixels)
    write_table(pd.DataFrame([run_row(row, stages)]), args.out_run)
