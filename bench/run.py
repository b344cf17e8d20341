"""Benchmark: the training engine and the pipeline, each against a reference measured in this run.

    .venv/bin/python bench/run.py --data ../shared/data/mnist [--repeats 5] [--out bench/out]

Prints, and writes to OUT/results.json and OUT/results.md, four ratios (medians of --repeats)
  1. one epoch of the engine against the tutorial loop (torchvision MNIST + DataLoader + ToTensor)
  2. one epoch of the engine against the arithmetic floor (FLOPs / this machine's matmul rate)
  3. 8 models trained in lockstep against the same 8 trained one after another
  4. the paper's configuration through `snakemake` (fresh results folder, local data) against
     the same jobs called one after another in one Python process
and 5., a training job's peak memory against its 1 GB bound; with --grid (or --only-grid) a
sixth: the README's 27-run grid through `snakemake`, against
the paper's configuration measured right after it and against its own jobs in one process, with
where its time goes.
Timings on shared machines are noisy: only ratios measured side by side mean anything.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from regionprune.workflow.config import Resources
from regionprune.io.data import load_split
from regionprune.core.model import build_model
from regionprune.core.model import PAPER_SIZES as LAYER_SIZES
from regionprune.core.training import Lockstep, set_determinism, to_split, train, train_lockstep

REPO = Path(__file__).resolve().parents[1]
BATCH = 100


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tutorial_epoch(data_dir: Path, threads: int) -> float:
    """The idiomatic loop: torchvision's MNIST, ToTensor, a shuffling DataLoader. One epoch."""
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for f in data_dir.glob("*-ubyte.gz"):  # torchvision wants them decompressed here
            (raw / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
        ds = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
        loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True)
        model = build_model("sigmoid", "default", 0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        start = time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(model(x.view(len(x), -1)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return time.perf_counter() - start


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm up
    t = median_time(lambda: a @ b, repeats)
    return 2 * n**3 / t / 1e9


def epoch_gflop(n_images: int = 60_000) -> float:
    """Forward, input-gradient and weight-gradient products of one epoch: 3 x 2 x MACs."""
    macs = sum(a * b for a, b in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))
    return 3 * 2 * macs * n_images / 1e9


def training_epochs(work: Path) -> int:
    """The epochs a workflow folder's runs trained: one row per epoch of one network in each
    stage's epochs.parquet (the runs' own summaries left out)."""
    files = (work / "results" / "runs").rglob("epochs.parquet")
    return sum(len(pd.read_parquet(f)) for f in files if "summary" not in f.parts)


def recorded_commands(work: Path) -> list[list[str]]:
    """Every job's `regionprune` arguments, in the order they started, from the job server's
    log (the workflow's default: `job_server: true`)."""
    from regionprune.workflow import jobserver

    return [j["argv"] for j in jobserver.read_log(work / "results" / "logs" / "job_server.log")]


def workflow_vs_process(data_dir: Path, cores: int, threads: int) -> tuple[float, float]:
    """The paper's configuration: `snakemake` in a fresh folder, then the same jobs in-process."""
    with tempfile.TemporaryDirectory() as tmp:
        work, solo = Path(tmp) / "wf", Path(tmp) / "solo"
        t_workflow = run_snakemake(work, data_dir, cores, threads)
        t_process = replay(recorded_commands(work), solo)
    return t_workflow, t_process


def replay(commands: list[list[str]], folder: Path) -> float:
    """Seconds to call ``commands`` one after another in this process, in a new ``folder``."""
    from regionprune.workflow import cli

    folder.mkdir()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        start = time.perf_counter()
        for argv in commands:
            cli.main(argv)
        return time.perf_counter() - start
    finally:
        os.chdir(cwd)


#: The README's 27-run grid: three seeds x three region rates x the three methods.
GRID = (
    "grid={train: {seed: [0, 1, 2]}, region: {rate: [0.2, 0.4, 0.6]},"
    " method: [region, magnitude, random]}"
)
#: Where a job's time goes, by the job's name (the breakdown of measure 6).
PARTS = {
    "fetch": "data: copy and check",
    "blank_pixels": "data: copy and check",
    "baseline": "training",
    "magnitude": "training",
    "retrain": "training",
    "label": "labelling, region pruning, matching",
    "prune": "labelling, region pruning, matching",
    "match": "labelling, region pruning, matching",
    "evidence": "evidence (decision basis)",
    "evidence_checks": "evidence (decision basis)",
    "collect": "tables and figures",
    "figures": "tables and figures",
    "evidence_figures": "tables and figures",
    "summary": "tables and figures",
    "grid_figures": "tables and figures",
}
#: What every job imports before it computes (measured once as one interpreter's start).
STARTUP = (
    "import torch, pandas, pyarrow.parquet, h5py, cv2, matplotlib.pyplot, regionprune.workflow.cli"
)


def run_snakemake(work: Path, data_dir: Path, cores: int, threads: int, *config: str) -> float:
    """Seconds of one `snakemake` call in a fresh folder (the README's command, on ``cores``
    cores with ``train_threads: threads``)."""
    work.mkdir()
    (work / "config.yaml").write_text((REPO / "config.yaml").read_text())
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--cores",
            str(cores),
            "--config",
            f"data={{local_dir: {data_dir.resolve()}}}",
            f"train_threads={threads}",
            *config,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start


def grid_measure(
    data_dir: Path, cores: int, threads: int, calls: bool, keep: Path | None = None
) -> dict[str, float]:
    """Measure 6: the 27-run grid through `snakemake`, then the paper's configuration right
    after it. Where the grid's time goes comes from its job server's log: each job's seconds
    from fork to exit, the job's own work with nothing imported or loaded again. With
    ``calls``, the grid's jobs are also called one after another in this process (tens of
    minutes more). A new interpreter's start-up and one data load are measured apart: what
    each job would pay without the job server."""
    from regionprune.workflow import jobserver
    from regionprune.io.data import load_split

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = keep or Path(tmp)  # kept: to compare its results with another commit's
        root.mkdir(parents=True, exist_ok=True)
        grid, paper, solo = root / "grid", root / "paper", root / "solo"
        out["grid_s"] = run_snakemake(grid, data_dir, cores, threads, GRID)
        out["paper_s"] = run_snakemake(paper, data_dir, cores, threads)
        jobs = jobserver.read_log(grid / "results" / "logs" / "job_server.log")
        assert all(j["code"] == 0 for j in jobs), "a job of the grid failed"
        paper_jobs = jobserver.read_log(paper / "results" / "logs" / "job_server.log")
        out["paper_jobs_s"] = sum(j["seconds"] for j in paper_jobs)
        out["grid_jobs"] = len(jobs)
        for job in jobs:
            # a job's share of the wall time: its seconds times the share of the cores it holds
            # (a job holds its `--threads`, so a two-thread job has 2 cores to itself)
            key = f"part: {PARTS.get(job['job'], 'other')}"
            held = min(cores, _threads(job["argv"]))
            out[key] = out.get(key, 0.0) + job["seconds"] * held / cores
        out["jobs_s"] = sum(j["seconds"] for j in jobs)
        data = grid / "results" / "data" / "mnist"
        out["one_data_load_s"] = median_time(
            lambda: (load_split(data, "mnist", "train"), load_split(data, "mnist", "test")), 3
        )
        out["data_loading_jobs"] = sum("--data-dir" in j["argv"] for j in jobs)
        # the arithmetic floor: the runs' training epochs (one epochs.parquet row each, of
        # 60,000 images) at this machine's matrix-product rate with all its cores
        for name, folder in (("grid", grid), ("paper", paper)):
            out[f"{name}_epochs"] = training_epochs(folder)
        if calls:
            out["process_grid_s"] = replay([j["argv"] for j in jobs], solo)
    torch.set_num_threads(cores)
    out["machine_gflops"] = matmul_gflops()
    for name in ("grid", "paper"):
        out[f"{name}_floor_s"] = out[f"{name}_epochs"] * epoch_gflop() / out["machine_gflops"]
    out["one_job_2_threads_epochs_per_s"] = epochs_per_second(data_dir, 1, 2)
    out["two_jobs_1_thread_epochs_per_s"] = epochs_per_second(data_dir, 2, 1)
    out["one_startup_s"] = statistics.median(
        _seconds([sys.executable, "-c", STARTUP]) for _ in range(3)
    )
    return out


#: One training job's epochs in a fresh interpreter: prints the median epoch's seconds.
EPOCHS_JOB = """
import statistics, sys, time, torch
from regionprune.io.data import load_split
from regionprune.core.model import build_model
from regionprune.core.training import set_determinism, to_split, train
set_determinism(int(sys.argv[2]))
cpu = torch.device("cpu")
tr, te = (to_split(*load_split(sys.argv[1], "mnist", s), cpu) for s in ("train", "test"))
model, times = build_model("sigmoid", "default", 0), []
for seed in range(4):
    start = time.perf_counter()
    train(model, tr, te, epochs=1, lr=0.1, batch_size=100, seed=seed)
    times.append(time.perf_counter() - start)
print(statistics.median(times[1:]))
"""


def epochs_per_second(data_dir: Path, jobs: int, threads: int) -> float:
    """Epochs per second of ``jobs`` training jobs of ``threads`` torch threads run at once."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", EPOCHS_JOB, str(data_dir), str(threads)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(jobs)
    ]
    return sum(1 / float(p.communicate()[0]) for p in procs)


def _threads(argv: list[str]) -> int:
    return int(argv[argv.index("--threads") + 1]) if "--threads" in argv[:-1] else 1


def _seconds(cmd: list[str]) -> float:
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def grid_lines(g: dict[str, float], cores: int) -> list[str]:
    """Measure 6 as Markdown: the walls, then where the grid's time goes."""
    replayed = (
        f", and {g['grid_s'] / g['process_grid_s']:.2f}x the same jobs called one after another"
        f" in one process ({g['process_grid_s']:.0f} s)"
        if "process_grid_s" in g
        else ""
    )
    lines = [
        "",
        f"6. The 27-run grid: {g['grid_s']:.0f} s through `snakemake` in {g['grid_jobs']:.0f} jobs,"
        f" {g['grid_s'] / g['paper_s']:.1f}x the paper's configuration measured right after it"
        f" ({g['paper_s']:.0f} s){replayed}. Its jobs' own work adds up to {g['jobs_s']:.0f} s"
        " (fork to exit in the job server, nothing imported or read again). The paper's"
        f" configuration took {g['paper_s'] / g['paper_jobs_s']:.2f}x its jobs' own"
        f" {g['paper_jobs_s']:.0f} s (measure 4, counted this way).",
        "",
        f"Against the arithmetic floor (the runs' training epochs, 60,000 images each, at this"
        f" machine's matrix-product rate on {cores} cores, {g['machine_gflops']:.0f} GFLOP/s,"
        f" measured after the runs; the decision basis's remove-and-retrain is left out): the grid"
        f" {g['grid_s'] / g['grid_floor_s']:.1f}x its floor ({g['grid_epochs']:.0f} epochs,"
        f" {g['grid_floor_s']:.0f} s), the paper's configuration"
        f" {g['paper_s'] / g['paper_floor_s']:.1f}x ({g['paper_epochs']:.0f} epochs,"
        f" {g['paper_floor_s']:.1f} s).",
        "",
        f"| where the grid's time goes (job seconds x cores held / {cores}) | seconds | share"
        " of the wall time |",
        "| --- | --- | --- |",
    ]
    parts = sorted((k for k in g if k.startswith("part: ")), key=lambda k: -g[k])
    for key in parts:
        lines.append(
            f"| {key.removeprefix('part: ')} | {g[key]:.0f} | {g[key] / g['grid_s']:.0%} |"
        )
    rest = g["grid_s"] - sum(g[k] for k in parts)
    lines += [
        f"| the rest: Snakemake's start and scheduling, idle cores | {rest:.0f} |"
        f" {rest / g['grid_s']:.0%} |",
        "",
        f"A new interpreter that imports all the jobs use (`{STARTUP}`) takes"
        f" {g['one_startup_s']:.2f} s here, and reading the data set {g['one_data_load_s']:.2f} s;"
        f" without the job server each of the {g['grid_jobs']:.0f} jobs pays the imports it needs"
        f" (a training job nearly all), and {g['data_loading_jobs']:.0f} of them the data.",
        "",
        "Why `train_threads: 1`: one training job with two torch threads trains"
        f" {g['one_job_2_threads_epochs_per_s']:.2f} epochs per second here, two one-thread jobs"
        f" at once {g['two_jobs_1_thread_epochs_per_s']:.2f} between them"
        f" ({g['two_jobs_1_thread_epochs_per_s'] / g['one_job_2_threads_epochs_per_s']:.1f}x;"
        " the median of an epoch's seconds, in fresh interpreters, after the grid).",
    ]
    return lines


def peak_training_rss_mb(data_dir: Path, threads: int) -> float:
    """Peak resident memory of a real baseline-training job (the paper's 15 epochs)."""
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "regionprune",
                "baseline",
                "--data-dir",
                str(data_dir),
                "--train-settings",
                "{}",
                "--device",
                "cpu",
                "--threads",
                str(threads),
                "--out-model",
                f"{tmp}/m.h5",
                "--out-epochs",
                f"{tmp}/e.parquet",
            ],
            check=True,
            capture_output=True,
        )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    ap.add_argument("--repeats", type=int, default=5, help="timings per measurement (median)")
    ap.add_argument("--workflow-repeats", type=int, default=1, help="runs of measurement 4")
    ap.add_argument(
        "--threads",
        type=int,
        default=Resources().train_threads,
        help="torch threads of a training job (the workflow's train_threads)",
    )
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="cores snakemake may use")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument(
        "--grid",
        action="store_true",
        help="add measure 6, the README's 27-run grid (3-5 minutes on 2 cores)",
    )
    ap.add_argument("--only-grid", action="store_true", help="measure 6 only")
    ap.add_argument(
        "--replay",
        action="store_true",
        help="measure 6 also calls the grid's jobs one after another in one process",
    )
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="measure 6 runs in this new folder and leaves it (grid/, paper/)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)  # the in-process jobs' INFO lines stay quiet
    if args.only_grid:
        g = grid_measure(args.data, args.cores, args.threads, args.replay, args.keep)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "grid.json").write_text(json.dumps(g, indent=2))
        (args.out / "grid.md").write_text("\n".join(grid_lines(g, args.cores)) + "\n")
        print("\n".join(grid_lines(g, args.cores)))
        return
    set_determinism(args.threads)
    torch.use_deterministic_algorithms(False)  # the tutorial loop is not ours to constrain
    dev = torch.device("cpu")
    train_data = to_split(*load_split(args.data, "mnist", "train"), dev)
    test_data = to_split(*load_split(args.data, "mnist", "test", 1000), dev)
    results: dict[str, float] = {}
    # first, while no other child process has run: ru_maxrss of children is a running maximum
    results["peak_training_rss_mb"] = peak_training_rss_mb(args.data, args.threads)

    def engine_epoch() -> None:
        train(
            build_model("sigmoid", "default", 0),
            train_data,
            test_data,
            epochs=1,
            lr=0.1,
            batch_size=BATCH,
            seed=0,
        )

    results["engine_epoch_s"] = median_time(engine_epoch, args.repeats)
    results["tutorial_epoch_s"] = statistics.median(
        tutorial_epoch(args.data, args.threads) for _ in range(args.repeats)
    )
    results["matmul_gflops"] = matmul_gflops()
    results["epoch_gflop"] = epoch_gflop()
    results["floor_epoch_s"] = results["epoch_gflop"] / results["matmul_gflops"]

    def sequential8() -> None:
        for s in range(8):
            train(
                build_model("sigmoid", "default", s),
                train_data,
                test_data,
                epochs=1,
                lr=0.1,
                batch_size=BATCH,
                seed=s,
            )

    def lockstep8() -> None:
        stack = Lockstep([build_model("sigmoid", "default", s) for s in range(8)], dev)
        train_lockstep(
            stack, train_data, test_data, epochs=1, lr=0.1, batch_size=BATCH, seeds=list(range(8))
        )

    results["sequential8_s"] = median_time(sequential8, args.repeats)
    results["lockstep8_s"] = median_time(lockstep8, args.repeats)
    wf = [
        workflow_vs_process(args.data, args.cores, args.threads)
        for _ in range(args.workflow_repeats)
    ]
    results["workflow_s"] = statistics.median(w for w, _ in wf)
    results["process_s"] = statistics.median(p for _, p in wf)

    ratios = [
        (
            "1. engine epoch vs tutorial DataLoader epoch",
            "tutorial_epoch_s",
            "engine_epoch_s",
            "x faster",
            ">= 6x",
        ),
        (
            "2. engine epoch vs arithmetic floor",
            "engine_epoch_s",
            "floor_epoch_s",
            "x the floor",
            "<= 3x",
        ),
        (
            "3. 8 models in lockstep vs 8 one after another",
            "lockstep8_s",
            "engine_epoch_s",
            "x one model",
            "<= 3x",
        ),
        (
            "4. snakemake workflow vs the same jobs in one process",
            "workflow_s",
            "process_s",
            "x",
            "<= 1.5x",
        ),
    ]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, torch "
        f"{torch.__version__}, {args.threads} threads, medians of {args.repeats} "
        f"(workflow: {args.workflow_repeats}).",
        "",
        "| measure | ratio | target | measured | reference |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, num, den, unit, target in ratios:
        ratio = results[num] / results[den]
        results[name] = ratio
        lines.append(
            f"| {name} | {ratio:.2f}{unit} | {target} | {results[num]:.3f} s | {results[den]:.3f} s |"
        )
    lines.append(
        f"| 5. peak memory of a training job (CPU) | | < 1024 MB | "
        f"{results['peak_training_rss_mb']:.0f} MB | |"
    )
    lines.append(
        f"\nMatrix-product rate {results['matmul_gflops']:.0f} GFLOP/s; one epoch is "
        f"{results['epoch_gflop']:.1f} GFLOP; 8 models one after another took "
        f"{results['sequential8_s']:.2f} s."
    )
    if args.grid:
        g = grid_measure(args.data, args.cores, args.threads, args.replay, args.keep)
        results.update(g)
        lines += grid_lines(g, args.cores)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
