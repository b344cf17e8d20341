"""List the results of this workflow that are missing or damaged, and the flag that rebuilds
them (not a workflow rule: run it where you run snakemake, with the same options)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.usage = "regionprune check [SNAKEMAKE OPTION ...]"
    p.epilog = (
        "Give the options of your snakemake command (--configfile, --config, "
        "--directory, ...): they choose the workflow's results."
    )
    p.set_defaults(passed_on=[])


def run(args: argparse.Namespace) -> None:
    from regionprune.workflow.check import run_check

    sys.exit(run_check(args.passed_on))
