"""Finished results that cannot be read: one error that names the file and how to rebuild it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


class DamagedFile(RuntimeError):
    """A finished result that cannot be read: truncated, overwritten, or not ours."""

    def __init__(self, path: str | os.PathLike[str], reason: object):
        self.path = Path(path)
        super().__init__(
            f"{path} is damaged ({reason}). Fix: add --forcerun {path} to your snakemake "
            "command; it rebuilds this file and everything computed from it."
        )


@contextlib.contextmanager
def reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a failure to read ``path`` (h5py, pyarrow, gzip) into ``DamagedFile``.

    A missing file stays ``FileNotFoundError``: that is Snakemake's to notice, not damage.
    """
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError, EOFError) as err:
        raise DamagedFile(path, str(err).splitlines()[0] if str(err) else type(err).__name__) from err
