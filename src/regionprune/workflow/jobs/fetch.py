"""Obtain a data set's IDX files (local folder or download) and verify their content MD5."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", help="the data set to fetch")
    p.add_argument(
        "--source",
        default="{}",
        help="DataSource as JSON: local_dir, mirrors, timeout (default: download)",
    )
    p.add_argument("--out-dir", type=Path, required=True, help="where the four files go")


def run(args: argparse.Namespace) -> None:
    from regionprune.workflow.config import DataSource
    from regionprune.io.data import fetch

    source = DataSource.from_json(args.source)
    folder = source.folder(args.dataset)
    fetch(
        args.dataset, args.out_dir, Path(folder) if folder else None, source.mirrors, source.timeout
    )
