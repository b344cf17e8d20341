"""Obtain a data set's IDX files (local folder or download) and verify their content MD5."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("--local-dir", type=Path, default=None, help="take the files from here")
    p.add_argument("--mirror", action="append", default=None, help="base URL (repeatable)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per download attempt")


def run(args: argparse.Namespace) -> None:
    from regionprune.data import fetch

    fetch(args.dataset, args.out_dir, args.local_dir, args.mirror, args.timeout)
