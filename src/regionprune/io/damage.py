"""Results that cannot be read or written: one error that names the file and the fix."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path


class DamagedFile(RuntimeError):
    """A finished result that cannot be read: truncated, overwritten, or not ours."""

    def __init__(self, path: str | os.PathLike[str], reason: object):
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(
            f"{path} is damaged ({reason}). Fix: add --forcerun {path} to your snakemake "
            "command; it rebuilds this file and everything computed from it."
        )


class ForeignFile(DamagedFile):
    """A readable result that another run made (another seed, other training settings): copied
    or moved over this run's file. Its checksum holds, so only its recorded settings tell."""

    def __init__(self, path: str | os.PathLike[str], differences: dict[str, tuple[object, object]]):
        theirs = ", ".join(f"{k} {v[0]!r}" for k, v in differences.items())
        ours = ", ".join(f"{k} {v[1]!r}" for k, v in differences.items())
        self.path = Path(path)
        self.reason = f"made by another run: {theirs}; this run has {ours}"
        RuntimeError.__init__(
            self,
            f"{path} belongs to another run: it was made with {theirs}, where this run has {ours}."
            f" Fix: add --forcerun {path} to your snakemake command; it rebuilds this file and "
            "everything computed from it.",
        )


class MisplacedFile(DamagedFile):
    """A readable result of another stage (or run) copied or moved over this one: it records
    the place it was written at (``provenance.place``), and that is not where it is read."""

    def __init__(self, path: str | os.PathLike[str], written_as: str):
        self.path = Path(path)
        self.reason = f"written as {written_as}"
        RuntimeError.__init__(
            self,
            f"{path} belongs to another stage: it was written as {written_as}. Fix: add "
            f"--forcerun {path} to your snakemake command; it rebuilds this file and everything "
            "computed from it.",
        )


def check_belongs(
    path: str | os.PathLike[str], recorded: dict | None, expected: dict, group: str = "train"
) -> None:
    """Raise ``ForeignFile`` where settings ``recorded`` in a result differ from those of the
    run that reads it (``expected``; settings only one side knows are not compared)."""
    if not recorded:
        return
    differences = {
        f"{group}.{k}": (recorded[k], expected[k])
        for k in sorted(recorded)
        if k in expected and recorded[k] != expected[k]
    }
    if differences:
        raise ForeignFile(path, differences)


@contextlib.contextmanager
def reading(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a failure to read ``path`` (h5py, pyarrow, gzip) into ``DamagedFile``.

    Inside, only reading happens, so any error is the file's: a damaged HDF5 file can fail in
    h5py with OSError, KeyError, RuntimeError or even TypeError. A missing file stays
    ``FileNotFoundError``: that is Snakemake's to notice, not damage.
    """
    try:
        yield
    except (FileNotFoundError, DamagedFile, MemoryError):
        raise
    except Exception as err:
        raise DamagedFile(
            path, str(err).splitlines()[0] if str(err) else type(err).__name__
        ) from err


class DiskFull(RuntimeError):
    """A result could not be written: the disk (or the user's quota) is full."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        super().__init__(
            f"no space left on the device to write {path}; nothing of it was kept. Fix: free "
            f"space (df -h {self.path.parent}), then run the same command again."
        )


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` says the disk or quota is full (pyarrow's errors carry no errno)."""
    return isinstance(err, OSError) and (
        err.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(err)
    )
