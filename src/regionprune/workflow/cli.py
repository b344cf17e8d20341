"""``python -m regionprune <job> ...``: the command each workflow rule runs."""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import re
import sys

from regionprune import INTERRUPTED
from regionprune.workflow.codehash import JOB_PACKAGE

JOBS = (
    "fetch",
    "blank_pixels",
    "baseline",
    "magnitude",
    "label",
    "prune",
    "match",
    "retrain",
    "collect",
    "evidence",
    "evidence_checks",
    "evidence_figures",
    "figures",
    "summary",
    "grid_figures",
    "settings",
    "check",
    "report",
)

log = logging.getLogger("regionprune")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows an option's default where it has one (not for required options)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default in (None, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def first_sentence(doc: str) -> str:
    """A docstring's first sentence, on one line (its first line may end mid-sentence): up to
    the first full stop that ends the text or comes before a capital (not "Figs. 1")."""
    words = " ".join(doc.split("\n\n")[0].split())
    end = re.search(r"[.!?](?=\s+[A-Z]|$)", words)
    return words[: end.end()] if end else words


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """Every job's command line; built once per process (the job server builds it before it
    forks its jobs: 9 ms a build)."""
    parser = argparse.ArgumentParser(prog="regionprune", description=__doc__)
    sub = parser.add_subparsers(dest="job", required=True, metavar="JOB")
    for name in JOBS:
        module = importlib.import_module(f"{JOB_PACKAGE}.{name}")
        doc = (module.__doc__ or name).strip()
        p = sub.add_parser(name, help=first_sentence(doc), description=doc, formatter_class=_Help)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if hasattr(args, "passed_on"):  # a command that hands its options on (check -> snakemake)
        args.passed_on = unknown
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from regionprune.workflow import failpoint
    from regionprune.io import provenance, storage
    from regionprune.io.damage import DamagedFile, DiskFull, is_disk_full
    from regionprune.io.data import DataError

    provenance.reset()  # what this job reads, its results record (a forked job starts afresh)
    storage.after_write = failpoint.after_write
    try:
        args.run(args)
    except OSError as err:  # a full disk outside the result writers (fetch's copies)
        if not is_disk_full(err):
            raise
        log.error("%s", DiskFull(err.filename or "this job's output"))
        sys.exit(1)
    except (DataError, DamagedFile, DiskFull, ValueError) as err:
        # Expected failures (bad data, damaged results, bad settings): the message says what and
        # how to fix.
        log.error("%s", err)
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C: Snakemake reports it; a traceback would say nothing
        log.error(INTERRUPTED)
        sys.exit(130)
