"""Faults, injected into the real workflow on a slice of real MNIST: power cuts at named points,
Ctrl-C, a concurrent start, a full disk, fewer cores, a device that is not here, and bad settings
(damaged, deleted, foreign and stale results: test_rebuild.py).

Every test ends by comparing with one uninterrupted reference run: a fault may cost time, never
a wrong or missing result, and recovering takes the command the messages name and nothing else.
Bad settings must be refused before any job runs, leaving no results folder.
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
from conftest import same_results, shared_folder

from regionprune.workflow import failpoint
from regionprune.workflow.config import cuda_here
from regionprune.io.storage import load_checkpoint
from test_workflow import LIGHT, snakemake, workflow_options, write_config

pytestmark = pytest.mark.workflow

# two torch threads per job (--cores 1 must not change them); one iteration keeps it short
#: The README test config with one iteration and two torch threads, LIGHT: a fault test reruns
#: what follows its fault, and there the per-run figures and the evidence's extra measures were
#: most of the time while proving nothing about faults. The evidence job still runs, for a
#: kill point inside it.
FAULTS = {"train_threads": 2, "iterations": 1, **LIGHT}


def uninterrupted(tmp_path_factory, worker_id, mnist_dir) -> Path:
    """An uninterrupted run, every job with two torch threads: one per test session, shared
    with test_rebuild (whichever worker comes first makes it; tests only copy and compare)."""

    def run(workdir: Path) -> None:
        write_config(workdir, mnist_dir, **FAULTS)
        snakemake(workdir)

    return shared_folder("faults_reference", tmp_path_factory, worker_id, run)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, worker_id, mnist_dir) -> Path:
    return uninterrupted(tmp_path_factory, worker_id, mnist_dir)


def _command(workdir: Path, cores: int = 2) -> list[str]:
    """The README command on ``workdir``."""
    return [sys.executable, "-m", "snakemake", *workflow_options(workdir), "--cores", str(cores)]


def _start(workdir: Path, pause_at: str | None = None, cores: int = 2) -> subprocess.Popen:
    """The README command, started in a session of its own so that a kill reaches its jobs;
    with ``pause_at``, the first job to reach that point waits there (failpoint.py)."""
    env = {**os.environ, failpoint.VARIABLE: pause_at} if pause_at else None
    with open(workdir / "console.txt", "w") as console:  # a file: a pipe could fill and block
        return subprocess.Popen(
            _command(workdir, cores),
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )


def _wait_for(path_glob: str, workdir: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not list(workdir.glob(path_glob)):
        assert proc.poll() is None, f"the run ended before {path_glob} appeared"
        assert time.monotonic() < end, f"{path_glob} did not appear in {timeout}s"
        time.sleep(0.2)


def _wait_for_pause(workdir: Path, proc: subprocess.Popen, point: str, timeout: float = 300):
    end = time.monotonic() + timeout
    logs = workdir / "results" / "logs"

    def text(log: Path) -> str:
        try:
            return log.read_text()
        except FileNotFoundError:  # Snakemake removed it between the listing and the reading
            return ""

    def paused() -> bool:
        lines = (ln for p in logs.rglob("*.log") for ln in text(p).splitlines())
        return any("paused at" in ln and point in ln for ln in lines)

    while not paused():
        assert proc.poll() is None, f"the run ended before it reached {point}"
        assert time.monotonic() < end, f"no job reached {point} in {timeout}s"
        time.sleep(0.2)


#: Where the run is stopped, in the order a run reaches them (failpoint names), and how:
#: SIGKILL of snakemake and all its jobs (a power cut) or SIGINT (what Ctrl-C in a terminal sends).
INTERRUPTIONS = [
    ("training epoch 1", signal.SIGKILL),  # inside the baseline's training, after its first epoch
    ("baseline/epochs.parquet", signal.SIGINT),  # Ctrl-C between the baseline job's two outputs
    ("region/iter1/epochs.parquet", signal.SIGKILL),  # between a retraining's two outputs
    # inside the evidence job, 2 of its 4 outputs written
    ("evidence/deletion.parquet", signal.SIGKILL),
    ("results/summary/iterations.parquet", signal.SIGKILL),  # between the summary's outputs
]


def test_power_cuts_and_a_ctrl_c_need_nothing_but_the_same_command(reference, tmp_path, mnist_dir):
    """Stopped at each point in turn, in one folder: by a power cut (SIGKILL of snakemake and
    all its jobs), or by Ctrl-C, after which the screen shows no traceback and no log a
    KeyboardInterrupt. Each time the same command goes on (no --unlock, nothing deleted), and
    the end is the reference. (The Ctrl-C comes while a job runs its own code; one that comes
    while a job still imports: test_jobserver. The Ctrl-C had a test and a full rerun of its
    own, 28 s of the suite.)"""
    write_config(tmp_path, mnist_dir, **FAULTS)
    for point, how in INTERRUPTIONS:
        run = _start(tmp_path, pause_at=point)
        try:
            _wait_for_pause(tmp_path, run, point)
            os.killpg(run.pid, how)
            run.wait(timeout=120)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
        if how == signal.SIGINT:
            out = (tmp_path / "console.txt").read_text()
            assert "Traceback" not in out, out
            logs = (p.read_text() for p in (tmp_path / "results" / "logs").rglob("*.log"))
            assert not any("KeyboardInterrupt" in log for log in logs)
    snakemake(tmp_path)
    same_results(reference, tmp_path)
    assert not list((tmp_path / "results").rglob(".*.tmp-*"))


def test_cores_do_not_change_the_numbers_and_a_second_start_is_refused(
    reference, tmp_path, mnist_dir
):
    """A run with --cores 1 gives the reference's numbers (made with --cores 2); a second start
    on its folder while it lives is refused, naming the first's pid, and the first finishes
    undisturbed. (A power cut inside a retraining: test_power_cuts_and_a_ctrl_c...)"""
    write_config(tmp_path, mnist_dir, **FAULTS)
    first = _start(tmp_path, cores=1)
    _wait_for("results/logs/baseline/*.log", tmp_path, first)
    second = snakemake(tmp_path, check=False)
    assert second.returncode != 0
    said = second.stdout + second.stderr
    assert "another run of this workflow is live in this folder" in said
    assert f"pid {first.pid}" in said
    assert first.wait(timeout=900) == 0, (tmp_path / "console.txt").read_text()[-3000:]
    same_results(reference, tmp_path)
    for model in (tmp_path / "results" / "runs").rglob("model.h5"):  # train_threads, not cores
        assert load_checkpoint(model).attrs["threads"] == FAULTS["train_threads"]


def _check(workdir: Path) -> subprocess.CompletedProcess:
    """``regionprune check`` with the options of the README command on ``workdir``."""
    cmd = [sys.executable, "-m", "regionprune", "check", *_command(workdir)[3:]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_a_full_disk_stops_with_one_clear_error_and_the_rerun_finishes(reference, tmp_path):
    """results/runs on a small disk of its own (a 0.8 MB tmpfs, as a scratch disk with a quota
    would be): the runs' results (1.5 MB) do not fit. The jobs that cannot write say so in one
    line and keep nothing; after freeing space the same command ends with the reference's
    results.

    (On a disk that also holds .snakemake, Snakemake itself can be the first to fail, with its
    own message; what our jobs wrote is whole either way.)"""
    work = tmp_path / "work"
    runs = work / "results" / "runs"
    runs.mkdir(parents=True)
    size = 800_000
    needed = sum(p.stat().st_size for p in (reference / "results" / "runs").rglob("*"))
    assert needed > 1.5 * size, f"the results ({needed} bytes) would nearly fit: a smaller disk"
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(runs)]
    ).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        shutil.copy(reference / "config.yaml", work / "config.yaml")
        out = subprocess.run(_command(work), capture_output=True, text=True, timeout=600)
        said = out.stdout + out.stderr
        assert out.returncode != 0
        assert "no space left on the device to write results/runs/" in said, said[-3000:]
        assert "Fix: free space" in said
        for raw in ("Traceback", "Exception ignored", "h5py", "Segmentation fault"):
            assert raw not in said, said[-3000:]
        assert not list(runs.rglob(".*.tmp-*"))
        assert "damaged" not in _check(work).stdout  # what was written is whole
        subprocess.run(["mount", "-o", "remount,size=200m", str(runs)], check=True)
        snakemake(work)  # space freed: the same command
        same_results(reference, work)
    finally:
        subprocess.run(["umount", "--lazy", str(runs)], check=False)


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


def bad_local_dir(tmp_path: Path, mnist_dir: Path, case: tuple[str, bytes | str | None]) -> str:
    """A copy of the data folder with one file replaced, as a BAD_SETTINGS case names it:
    (name, content), the content None (removed), bytes, "truncated" (its first half) or another
    file's name (that file's content)."""
    name, content = case
    if content == "truncated":
        content = _truncated(mnist_dir, name)
    elif isinstance(content, str):
        content = (mnist_dir / content).read_bytes()
    folder = tmp_path / "data"
    shutil.copytree(mnist_dir, folder)
    (folder / name).unlink()
    if content is not None:
        (folder / name).write_bytes(content)
    return str(folder)


def _truncated(mnist_dir: Path, name: str) -> bytes:
    data = (mnist_dir / name).read_bytes()
    return data[: len(data) // 2]


#: (case, config overrides, words the message must hold: the key, the value, what is allowed).
#: A data folder is built by the test where the override's local_dir names a (name, content).
BAD_SETTINGS = [
    ("unknown top key", {"iteration": 4}, ["iteration: unknown key", "Did you mean iterations?"]),
    ("unknown data key", {"data": {"local": "x"}}, ["data.local: unknown key", "local_dir"]),
    ("unknown train key", {"train": {"epoch": 3}}, ["train.epoch: unknown", "train.epochs?"]),
    ("unknown magnitude key", {"magnitude": {"rat": 0.3}}, ["magnitude.rat:", "magnitude.rate?"]),
    (
        "unknown region key",
        {"region": {"conectivity": 4}},
        ["region.conectivity:", "connectivity?"],
    ),
    (
        "unknown evidence key",
        {"evidence": {"budgest": [0.1]}},
        ["evidence.budgest:", "evidence.budget?"],
    ),
    ("unknown figures key", {"figures": {"dpi": 300}}, ["figures.dpi: unknown", "per_run"]),
    (
        "unknown grid key",
        {"grid": {"seeds": [0, 1]}},
        ["grid.seeds: unknown key", "The keys of grid"],
    ),
    (
        "grid names an unknown key",
        {"grid": {"train": {"sed": [1, 2]}}},
        ["a combination of the grid", "train.sed: unknown key", "train.seed?"],
    ),
    (
        "grid value out of range",
        {"grid": {"region": {"scope": ["global", "per_cell"]}}},
        ["region.scope", '"per_cell"', "`global` or `per_neuron`"],
    ),
    (
        "epochs not a number",
        {"train": {"epochs": "two"}},
        ["train.epochs", '"two"', "integer, >= 1"],
    ),
    ("epochs zero", {"train": {"epochs": 0}}, ["train.epochs: 0 is not allowed", ">= 1"]),
    ("iterations fractional", {"iterations": 2.5}, ["iterations: 2.5", "integer, >= 0"]),
    ("iterations negative", {"iterations": -1}, ["iterations: -1", ">= 0"]),
    ("lr a word", {"train": {"lr": "fast"}}, ["train.lr", '"fast"', "> 0"]),
    ("batch size zero", {"train": {"batch_size": 0}}, ["train.batch_size: 0", ">= 1"]),
    ("region rate above 1", {"region": {"rate": 1.5}}, ["region.rate: 1.5", ">= 0, <= 1"]),
    ("magnitude rate negative", {"magnitude": {"rate": -0.1}}, ["magnitude.rate: -0.1", ">= 0"]),
    ("cut of 1", {"region": {"cut": 1.0}}, ["region.cut: 1.0", "< 1"]),
    (
        "unknown activation",
        {"train": {"activation": "softmax"}},
        ["train.activation", '"softmax"', "`sigmoid` or `relu` or `tanh`"],
    ),
    ("unknown score", {"region": {"score": "median"}}, ["region.score", '"median"', "`mean_abs`"]),
    (
        "data set name no folder name",
        {"data": {"dataset": "CIFAR-10"}},
        ["data.dataset", '"CIFAR-10"', "should match pattern"],
    ),
    ("no train images", {"data": {"train_limit": 0}}, ["data.train_limit: 0", ">= 1"]),
    ("zero threads", {"train_threads": 0}, ["train_threads: 0", ">= 1"]),
    (
        "budget not among budgets",
        {"evidence": {"budget": 0.33}},
        ["evidence.budget 0.33 is not one of evidence.budgets [0.01, 0.02, 0.05, 0.1, 0.2]"],
    ),
    ("budgets not a list", {"evidence": {"budgets": 0.1}}, ["evidence.budgets: 0.1", "array"]),
    ("device that does not exist", {"device": "tpu"}, ["device", '"tpu"', "auto|cpu|cuda"]),
    (
        "local_dir missing",
        {"data": {"local_dir": "/nonexistent/mnist"}},
        ["data.local_dir: the folder /nonexistent/mnist does not exist", "Fix:"],
    ),
    (
        "local_dir lacks a file",
        {"data": {"local_dir": ("t10k-labels-idx1-ubyte.gz", None)}},
        [
            "t10k-labels-idx1-ubyte.gz is missing from data.local_dir",
            "27ae3e4e09519cfbb04c329615203637",
        ],
    ),
    (
        "local_dir holds an empty file",
        {"data": {"local_dir": ("train-labels-idx1-ubyte.gz", b"")}},
        ["train-labels-idx1-ubyte.gz (data.local_dir) is empty", "Fix:"],
    ),
    (
        "local_dir holds another file",
        {"data": {"local_dir": ("t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")}},
        [
            "t10k-labels-idx1-ubyte.gz (data.local_dir) is not the mnist file",
            "expected 27ae3e4e09519cfbb04c329615203637",
        ],
    ),
    (
        "local_dir holds a damaged file",
        {"data": {"local_dir": ("train-images-idx3-ubyte.gz", "truncated")}},
        [
            "train-images-idx3-ubyte.gz (data.local_dir) is not the mnist file",
            "unreadable",
            "expected 6bbc9ace898e44ae57da46a324031adb",
        ],
    ),
]


#: The cases run end to end: one caught by the config model at start, one by the grid's, one
#: by the settings that depend on each other and one by the data folder's check (the rest of
#: BAD_SETTINGS is checked in-process, by the calls the Snakefile makes: test_config).
END_TO_END = (
    "unknown top key",
    "grid value out of range",
    "budget not among budgets",
    "local_dir holds a damaged file",
)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [c[1:] for c in BAD_SETTINGS if c[0] in END_TO_END],
    ids=[c[0] for c in BAD_SETTINGS if c[0] in END_TO_END],
)
def test_a_bad_setting_is_refused_before_any_job_with_key_value_and_what_is_allowed(
    tmp_path, mnist_dir, overrides, words
):
    """The README command with one bad setting: refused at start in a few lines that name the
    key, the value and what is allowed (or the fix), with no traceback, and results/ untouched.
    (Each of the 32 cases started Snakemake, about 3 s each; the messages of the other 28 are
    checked in-process by the same calls the Snakefile makes.)"""
    local = overrides.get("data", {}).get("local_dir")
    if isinstance(local, tuple):
        overrides = {"data": {"local_dir": bad_local_dir(tmp_path, mnist_dir, local)}}
    work = tmp_path / "work"
    write_config(work, mnist_dir, **overrides)
    out = subprocess.run(_command(work), capture_output=True, text=True, timeout=300)
    said = out.stdout + out.stderr
    assert out.returncode != 0
    for word in words:
        assert word in said, said
    assert "Traceback" not in said and "Failed validating" not in said, said
    assert len(said.splitlines()) <= 12, said
    assert not (work / "results").exists()
