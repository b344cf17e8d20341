"""Write or check the files derived from the settings classes: the config schema, config.yaml
and docs/configuration.md (not a workflow rule: run it after changing a setting)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--write", action="store_true", help="write the derived files")
    what.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a derived file differs from what the classes give",
    )
    p.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the repository root (default: the current folder)",
    )


def run(args: argparse.Namespace) -> None:
    from regionprune.workflow.derived import DERIVED, stale_files
    from regionprune.io.storage import write_text

    stale = stale_files(args.root)
    if args.write:
        for rel in stale:
            write_text(DERIVED[rel](), args.root / rel)
            print(f"wrote {rel}")
    elif stale:
        raise ValueError(
            f"out of date with the settings classes: {', '.join(stale)}."
            " Fix: python -m regionprune settings --write"
        )
