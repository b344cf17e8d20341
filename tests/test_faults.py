"""Faults, injected into the real workflow on a slice of real MNIST: a kill, a concurrent start,
damaged results, fewer cores, a device that is not here.

Every test ends by comparing with one uninterrupted reference run: a fault may cost time, never
a wrong or missing result, and recovering takes the command the messages name and nothing else.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, same_results

from regionprune.config import cuda_here
from test_workflow import snakemake, write_config

pytestmark = pytest.mark.workflow

# two torch threads per job (--cores 1 must not change them); one iteration keeps it short
FAULTS = {"train_threads": 2, "iterations": 1}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, mnist_dir) -> Path:
    """An uninterrupted run, every job with two torch threads."""
    workdir = tmp_path_factory.mktemp("reference")
    write_config(workdir, mnist_dir, **FAULTS)
    snakemake(workdir)
    return workdir


def _command(workdir: Path, cores: int = 2) -> list[str]:
    """The README command on ``workdir``."""
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--cores", str(cores),
    ]  # fmt: skip


def _start(workdir: Path) -> subprocess.Popen:
    """The README command, started in a session of its own so that a kill reaches its jobs."""
    with open(workdir / "console.txt", "w") as console:  # a file: a pipe could fill and block
        return subprocess.Popen(
            _command(workdir), stdout=console, stderr=subprocess.STDOUT, start_new_session=True
        )


def _wait_for(path_glob: str, workdir: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not list(workdir.glob(path_glob)):
        assert proc.poll() is None, f"the run ended before {path_glob} appeared"
        assert time.monotonic() < end, f"{path_glob} did not appear in {timeout}s"
        time.sleep(0.2)


def test_cores_do_not_change_the_numbers(reference, tmp_path, mnist_dir):
    write_config(tmp_path, mnist_dir, **FAULTS)
    subprocess.run(_command(tmp_path, cores=1), check=True, capture_output=True, timeout=900)
    same_results(reference, tmp_path)


def test_a_power_cut_needs_nothing_but_the_same_command(reference, tmp_path, mnist_dir):
    """SIGKILL of snakemake and its jobs inside a retraining; a second start while the first
    lives is refused; after the kill the same command finishes with the reference's results."""
    write_config(tmp_path, mnist_dir, **FAULTS)
    first = _start(tmp_path)
    _wait_for("results/logs/retrain/**/iter1.log", tmp_path, first)
    second = snakemake(tmp_path, check=False)
    assert second.returncode != 0
    said = second.stdout + second.stderr
    assert "another run of this workflow is live in this folder" in said
    assert f"pid {first.pid}" in said
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    snakemake(tmp_path)  # no --unlock, no deleting
    same_results(reference, tmp_path)


def test_ctrl_c_stops_quietly_and_the_rerun_finishes(reference, tmp_path, mnist_dir):
    write_config(tmp_path, mnist_dir, **FAULTS)
    run = _start(tmp_path)
    _wait_for("results/logs/magnitude_prune/**/*.log", tmp_path, run)
    time.sleep(1.0)  # inside the job
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    run.wait(timeout=120)
    out = (tmp_path / "console.txt").read_text()
    assert "Traceback" not in out, out
    logs = "".join(p.read_text() for p in (tmp_path / "results" / "logs").rglob("*.log"))
    assert "KeyboardInterrupt" not in logs
    snakemake(tmp_path)
    same_results(reference, tmp_path)


def _iteration_file(workdir: Path, name: str, k: int = 1) -> Path:
    (path,) = (workdir / "results" / "runs").glob(f"*/*/*/region/iter{k}/{name}")
    return path


@pytest.mark.parametrize(
    ("target", "damage"),
    [
        ("model.h5", lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
        ("mask.h5", lambda p: p.write_bytes(b"garbage" * 300)),
        ("epochs.parquet", lambda p: p.write_bytes(p.read_bytes()[:100])),
    ],
)
def test_a_damaged_result_is_named_with_the_command_that_rebuilds_it(
    reference, tmp_path, target, damage
):
    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    broken = _iteration_file(work, target)
    damage(broken)
    failed = snakemake(work, check=False)
    assert failed.returncode != 0
    rel = broken.relative_to(work)
    text = failed.stdout + failed.stderr
    assert f"{rel} is damaged" in text, text[-3000:]
    assert f"Fix: add --forcerun {rel} to your snakemake command" in text
    for raw in ("Traceback", "OSError", "ArrowInvalid"):
        assert raw not in text, text[-3000:]
    snakemake(work, "--forcerun", str(rel))  # what the message says
    same_results(reference, work)


def test_switching_auto_and_cpu_reruns_nothing_and_cuda_is_refused_here(reference):
    for device in ("cpu", "auto"):
        out = snakemake(reference, "--dry-run", "--config", f"device={device}")
        assert "Nothing to be done" in out.stdout + out.stderr, device
    if cuda_here():
        pytest.skip("a GPU is here")
    refused = snakemake(reference, "--dry-run", "--config", "device=cuda", check=False)
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "device: cuda asked for, but this machine has no CUDA GPU" in said
    assert "Fix: --config device=auto" in said

