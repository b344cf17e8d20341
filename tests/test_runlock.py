"""The folder lock: refused while its holder lives, free (and stale locks cleared) once it died."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from regionprune.workflow import runlock

HOLDER = """
import sys, time
from pathlib import Path
from regionprune.workflow import runlock
runlock.hold(Path(sys.argv[1]), ["snakemake", "--cores", "2"])
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["snakemake", "--cores", "2"], False),
        (["snakemake", "-n"], True),
        (["snakemake", "-pn", "--cores", "1"], True),
        (["snakemake", "--dry-run"], True),
        (["snakemake", "--report=r.html"], True),
        (["snakemake", "--unlock"], False),
        (["snakemake", "--configfile", "nice.yaml"], False),  # a value, not a flag
    ],
)
def test_read_only_commands_are_told_apart(argv, expected):
    assert runlock.read_only(argv) is expected


def test_a_live_run_refuses_a_second_one_with_its_pid(holder, tmp_path):
    with pytest.raises(runlock.FolderBusy, match=f"pid {holder.pid}.*do not use --unlock"):
        runlock.hold(tmp_path, ["snakemake", "--cores", "2"])
    with pytest.raises(runlock.FolderBusy):
        runlock.hold(tmp_path, ["snakemake", "--unlock"])
    assert runlock.hold(tmp_path, ["snakemake", "-n"]) is False  # a dry run goes on, unlocked


def test_a_killed_holder_leaves_nothing_and_its_snakemake_locks_are_cleared(holder, tmp_path):
    locks = tmp_path / "locks"
    locks.mkdir()
    for name in ("0.input.lock", "0.output.lock"):
        (locks / name).write_text("results/x\n")
    holder.send_signal(signal.SIGKILL)  # as a power cut or the OOM killer would
    holder.wait()
    time.sleep(0.1)
    try:
        assert runlock.hold(tmp_path, ["snakemake", "--cores", "2"]) is True
        assert not list(locks.iterdir())
    finally:
        runlock.release()
