"""What each result was made from, and where it belongs.

A job reads its inputs through the loaders (``storage``, ``data``); each loader notes the file
and its content checksum here (``note``). The writers record, in every result, the inputs this
job has read so far (``inputs``: path -> ``sha256:...`` or ``md5:...``) and the result's place
in the results tree (``place``: from its run folder on, ``runs/<training>/.../iter2/model.h5``).
A loader refuses a result whose recorded place is not where it was read from: a file of another
stage or run copied over this one passes every checksum, but not this (``MisplacedFile``).
``regionprune check`` compares the recorded inputs with the files there now.

One job per process (the job server forks one per job; ``cli.main`` calls ``reset`` first).
"""

from __future__ import annotations

import os
from pathlib import Path

from regionprune.io.damage import MisplacedFile

#: The folder below which each run's results lie; a result's place starts there.
RUNS = "runs"

_read: dict[str, str] = {}  # path as the job was given it -> content checksum


def reset() -> None:
    """Forget what was read: a new job starts."""
    _read.clear()


def note(path: str | os.PathLike[str], checksum: str) -> None:
    """A loader read ``path``, whose content has ``checksum`` (``sha256:<hex>``, ``md5:<hex>``)."""
    _read[str(Path(path))] = checksum


def inputs() -> dict[str, str]:
    """The files this job has read so far, with their content checksums."""
    return dict(sorted(_read.items()))


def place(path: str | os.PathLike[str]) -> str | None:
    """A result's place: its path from the last ``runs`` folder on (independent of where the
    results folder lies); None outside a run's folder (the data, the summary tables)."""
    parts = Path(path).parts
    if RUNS not in parts[:-1]:
        return None
    start = len(parts) - 1 - parts[::-1].index(RUNS)
    return "/".join(parts[start:])


def check_place(path: str | os.PathLike[str], recorded: str | None) -> None:
    """Refuse a result read from ``path`` that was written at another place (``MisplacedFile``);
    results that record none (written before this check) pass."""
    here = place(path)
    if recorded and here and recorded != here:
        raise MisplacedFile(path, recorded)
