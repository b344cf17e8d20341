"""One live run per working folder, by an operating-system lock that dies with its holder.

Snakemake guards a folder with lock files in ``.snakemake/locks``; a run killed by SIGKILL, the
OOM killer or a power cut leaves them behind, and the next run refuses until someone runs
``--unlock`` (which, run beside a live run, breaks that run). The workflow therefore also holds an
``flock`` on ``.snakemake/regionprune.lock`` for the life of its main process. The kernel frees it
when that process dies, however it dies. Holding it proves that no other run of this workflow is
live in the folder, so Snakemake's lock files left there are stale and are removed; failing to
get it means a live run, and the new run is refused with one message (dry runs and other
read-only commands go on, as Snakemake allows them, taking nothing: they work on a read-only
archive too).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

LOCK_NAME = "regionprune.lock"
# Snakemake options that read the folder without running or unlocking anything.
READ_ONLY = (
    "--dry-run",
    "--dryrun",
    "--lint",
    "--report",
    "--summary",
    "--detailed-summary",
    "--list-rules",
    "--list",
    "--list-target-rules",
    "--lt",
    "--dag",
    "--rulegraph",
    "--filegraph",
    "--d3dag",
    "--list-changes",
    "--lc",
    "--list-input-changes",
    "--li",
    "--list-params-changes",
    "--lp",
    "--list-code-changes",
    "--print-compilation",
    "--help",
)

_held: list[int] = []  # file descriptors this process holds (kept open: the lock lives with them)


class FolderBusy(RuntimeError):
    """Another live run of the workflow works in this folder."""


def read_only(argv: list[str]) -> bool:
    """Whether a snakemake command line only reads the folder (a dry run, a listing, a report)."""
    for arg in argv[1:]:
        if arg.split("=")[0] in READ_ONLY:
            return True
        if (
            arg.startswith("-")
            and not arg.startswith("--")
            and "n" in arg[1:]
            and arg[1:].isalpha()
        ):
            return True  # -n, -np, -pn
    return False


def hold(snakemake_dir: Path, argv: list[str]) -> bool:
    """Take the folder's lock for this process's lifetime and clear stale Snakemake locks.

    Returns False, taking and writing nothing, for a read-only command (Snakemake lets it go on
    beside a live run, and it works on a read-only disk); raises ``FolderBusy`` for any other
    command while a run is live, or where the folder cannot be written.
    """
    if read_only(argv):
        return False
    path = snakemake_dir / LOCK_NAME
    try:
        snakemake_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        raise FolderBusy(
            f"this folder cannot be written ({err.strerror}: {err.filename}), so nothing can run "
            "here. Fix: to read a finished archive, check it (regionprune check -d <folder>) or "
            "report it elsewhere (regionprune report -d <folder> -o <file>); to run, copy it to "
            "a writable disk."
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FolderBusy(
            f"another run of this workflow is live in this folder ({holder}). Wait for it to "
            "finish or stop it (Ctrl-C); do not use --unlock, which would break it. A run that "
            "was killed holds nothing: run the same command again."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}: {' '.join(argv)}\n".encode(), 0)
    _held.append(fd)
    clear_stale_locks(snakemake_dir)
    return True


def clear_stale_locks(snakemake_dir: Path) -> list[Path]:
    """Remove Snakemake's lock files; call only while holding this folder's lock."""
    locks = snakemake_dir / "locks"
    stale = sorted(locks.glob("*.lock")) if locks.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def release() -> None:
    """Give up the lock (the kernel does this anyway when the process ends)."""
    while _held:
        os.close(_held.pop())
