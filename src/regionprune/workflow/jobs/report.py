"""Write the report of this workflow's results (every figure and table, one HTML file) at
once: a kill or a failure leaves an earlier report as it was (not a workflow rule: run it where
you run snakemake, with the same options). It works on a read-only archive too; give -o a
writable place."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = "regionprune report [-o REPORT] [SNAKEMAKE OPTION ...]"
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("report.html"),
        help="the report: .html, or .zip for one with a folder per run",
    )
    p.epilog = (
        "Give the options of your snakemake command (--configfile, --config, "
        "--directory, ...): they choose the workflow's results."
    )
    p.set_defaults(passed_on=[])


def run(args: argparse.Namespace) -> None:
    from regionprune.workflow.reading import write_report

    code = write_report(args.output, args.passed_on)
    if code == 0:
        size = args.output.stat().st_size / 2**20
        where = (
            f"unzip it and open {args.output.stem}/report.html in a browser"
            if args.output.suffix == ".zip"
            else "open it in a browser"
        )
        print(f"Report: {args.output} ({size:.1f} MB); {where}.")
    sys.exit(code)
