"""Concatenate every run's tables into results/summary/; the grid and paper tables in Markdown."""

from __future__ import annotations

import argparse
from pathlib import Path

TABLES = ("runs", "iterations", "epochs", "neurons", "pixels")


def add_arguments(p: argparse.ArgumentParser) -> None:
    for t in TABLES:
        p.add_argument(f"--{t}", type=Path, nargs="+", required=True, help=f"per-run {t}.parquet")
        p.add_argument(f"--out-{t}", type=Path, required=True)
    p.add_argument(
        "--faithfulness",
        type=Path,
        nargs="*",
        default=[],
        help="per-stage evidence/faithfulness.parquet",
    )
    p.add_argument("--out-faithfulness", type=Path, required=True)
    p.add_argument(
        "--sanity", type=Path, nargs="*", default=[], help="per-stage evidence/sanity.parquet"
    )
    p.add_argument("--out-sanity", type=Path, required=True)
    p.add_argument(
        "--yardstick", type=Path, nargs="*", default=[], help="per-stage evidence/yardstick.parquet"
    )
    p.add_argument("--out-yardstick", type=Path, required=True)
    p.add_argument(
        "--evidence-settings",
        default="{}",
        help="EvidenceSettings as JSON: the budget the Markdown reports",
    )
    p.add_argument("--out-markdown", type=Path, required=True)
    p.add_argument(
        "--out-html",
        type=Path,
        required=True,
        help="the same page as HTML, which Snakemake's report shows inline",
    )


def run(args: argparse.Namespace) -> None:
    import pandas as pd

    from regionprune.workflow.markdown import (
        faithfulness_markdown,
        grid_markdown,
        paper_table,
        readability_markdown,
        retrain_markdown,
        sanity_markdown,
        to_html,
        yardstick_markdown,
    )
    from regionprune.core.explain.sanity import SANITY_COLUMNS
    from regionprune.core.explain.yardstick import YARDSTICK_COLUMNS
    from regionprune.workflow.config import EvidenceSettings
    from regionprune.workflow.labels import settings_by_run, tidy
    from regionprune.workflow.tables import grid_table
    from regionprune.io.storage import read_table, write_table, write_text

    tables = {
        t: pd.concat([read_table(p) for p in getattr(args, t)], ignore_index=True) for t in TABLES
    }
    # each table keyed by the run's short label, with its folder as run_path and its settings
    keyed = settings_by_run(tables["runs"])
    tables = {t: tidy(df, keyed) for t, df in tables.items()}
    for t, df in tables.items():
        write_table(df, getattr(args, f"out_{t}"))
    runs = tables["runs"]

    def stages(paths: list[Path], columns: list[str]) -> pd.DataFrame:
        """Every explained stage's table, keyed as the run tables are."""
        table = (
            pd.concat([read_table(p) for p in paths], ignore_index=True)
            if paths
            else pd.DataFrame(columns=["run", "iteration", *columns])
        )
        return tidy(table, keyed, per_stage=True)

    faithful = stages(args.faithfulness, ["class", "budget"])
    write_table(faithful, args.out_faithfulness)
    sanity = stages(args.sanity, list(SANITY_COLUMNS))
    write_table(sanity, args.out_sanity)
    yardstick = stages(args.yardstick, list(YARDSTICK_COLUMNS))
    write_table(yardstick, args.out_yardstick)
    budget = EvidenceSettings.from_json(args.evidence_settings).budget
    page = (
        "# Results\n\n"
        "## The grid: mean +- standard deviation over seeds, after the last iteration\n\n"
        "(The mean alone for a setting run with one seed.)\n"
        "Accuracy and neurons >=90% pruned in %; regions per neuron and largest-region share over\n"
        "the hidden neurons that keep any input weight; pixels: input pixels still in use.\n\n"
        + grid_markdown(grid_table(runs))
        + "\n## Each run beside the paper\n\n"
        "Test accuracy and the per-neuron split of input-weight pruning (fractions of the hidden\n"
        "neurons that lost at least 90% / at most 40% of their input weights), after the last\n"
        "iteration. Made by `snakemake`; the numbers come from `runs.parquet`.\n\n"
        + paper_table(runs)
        + "\n## How readable each run's maps are\n\n"
        "Variant: `paper` for the paper's region pruning, else the carving's name. Over the\n"
        "hidden neurons that keep any input weight: connected regions per neuron, the regions'\n"
        "median and 90th-percentile size in pixels, the median inverse participation ratio of a\n"
        "neuron's weights (1/n for n equal weights: higher is more local), and the largest\n"
        "region's share of the neuron's weights; input pixels still in use, and how many of them\n"
        "(and how many weights) lie on pixels that are blank in every training image, whose\n"
        "weights never had a gradient (MNIST: 67 such pixels).\n\n"
        + readability_markdown(runs)
        + faithfulness_markdown(faithful, budget)
        + retrain_markdown(faithful, budget)
        + sanity_markdown(sanity)
        + yardstick_markdown(yardstick)
    )
    write_text(page, args.out_markdown)
    write_text(to_html(page), args.out_html)
