"""Figures across the grid: accuracy against W1 density, the readability frontier, pruning-ratio
histograms, pixel usage."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=Path, required=True, help="summary runs.parquet")
    p.add_argument("--iterations", type=Path, required=True, help="summary iterations.parquet")
    p.add_argument("--neurons", type=Path, required=True, help="summary neurons.parquet")
    p.add_argument("--pixels", type=Path, required=True, help="summary pixels.parquet")
    p.add_argument(
        "--data-root",
        type=Path,
        required=True,
        help="the folder of the data sets' folders: their image shapes",
    )
    p.add_argument("--out-dir", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    from regionprune.workflow.figures import grid as G
    from regionprune.io.data import describe
    from regionprune.workflow.tables import grid_keys
    from regionprune.workflow.figures.run import save_figure
    from regionprune.io.storage import read_table

    runs = read_table(args.runs)
    iterations = read_table(args.iterations)
    keys = grid_keys(runs)
    shapes = {
        str(ds): describe(args.data_root / str(ds), str(ds)).image_shape
        for ds in runs["train_dataset"].unique()
    }
    figs = {
        "accuracy_density": G.accuracy_density_figure(runs, iterations, keys),
        "frontier": G.frontier_figure(runs, iterations, keys),
        "ratio_histograms": G.ratio_histograms_figure(runs, read_table(args.neurons), keys),
        "pixel_usage": G.pixel_usage_figure(runs, read_table(args.pixels), keys, shapes),
    }
    for name, fig in figs.items():
        save_figure(fig, args.out_dir, name)
