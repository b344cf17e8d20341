"""The real workflow, run by real ``snakemake`` on a small slice of real MNIST.

One full run into a temporary folder is shared by the tests of this module; they check that the
outputs exist and agree with each other, that reruns do only what changed, that the same seed
gives the same masks and metrics, and that bad data stops the run with a clear error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import REPO, SUMMARY_TABLES, close_results, same_results
from regionprune.workflow.figures.run import (
    MIN_TEXT_PT,
    REPORT_FRAME_PX,
    TEXT_PX_KEY,
    shown_text_pt,
)

pytestmark = pytest.mark.workflow

SMALL = {
    "data": {"dataset": "mnist", "train_limit": 2000, "test_limit": 1000},
    "train": {"epochs": 2, "seed": 3, "lr": 1.0, "batch_size": 10},  # learns in 2 epochs
    "region": {"retrain_epochs": 1},
    "iterations": 2,
    "train_threads": 1,
    # the decision basis's checks on fewer images than the defaults (500, 100): every part
    # runs, in a fifth of the time (12 s of a 20 s decision basis at the defaults here)
    "evidence": {"sanity_images": 100, "yardstick_images": 20},
}


#: Overrides for tests about running (faults, the cluster) rather than what is computed: no
#: per-run figures (so none of the decision basis either) and a light decision basis (2 random
#: draws, 8 integration steps, no remove-and-retrain, sanity check or yardstick). Those jobs
#: were most of a small run's time and are tested here with SMALL as it is. The evidence job
#: still runs.
LIGHT = {
    "figures": {"per_run": []},
    "evidence": {
        "random_draws": 2,
        "ig_steps": 8,
        "roar_epochs": 0,
        "sanity_images": 0,
        "yardstick_images": 0,
    },
}


def workflow_options(workdir: Path) -> list[str]:
    """The README command's options on ``workdir``: this checkout's Snakefile, the folder and
    its config.yaml (snakemake, regionprune check and report take them alike)."""
    return [
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
    ]


def snakemake(
    workdir: Path,
    *args: str,
    env: dict | None = None,
    check: bool = True,
    timeout: int = 900,
    configfiles: tuple[Path, ...] = (),
):
    """Run snakemake on ``workdir``'s config.yaml (then ``configfiles`` over it, in order)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *workflow_options(workdir),
        *map(str, configfiles),
        "--cores",
        "2",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_config(workdir: Path, mnist_dir: Path, **overrides) -> None:
    cfg = json.loads(json.dumps(SMALL))
    cfg["data"]["local_dir"] = str(mnist_dir)
    for key, value in overrides.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run, as {rule: count}."""
    counts = {}
    table = dry_run_output.split("Job stats:")[-1]
    for line in table.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mnist_dir) -> Path:
    workdir = tmp_path_factory.mktemp("wf")
    write_config(workdir, mnist_dir)
    out = snakemake(workdir)
    (workdir / "console.txt").write_text(out.stdout + out.stderr)
    return workdir


def test_the_console_says_when_each_job_starts_and_ends_and_its_hints_run(run_dir, tmp_path):
    """Each job: a line when it starts and one when it has finished, whose counter only goes
    up; the hints at the end run as written in a new shell without the venv on its PATH."""
    lines = (run_dir / "console.txt").read_text().splitlines()
    start_line = re.compile(r"^\[\d\d:\d\d:\d\d started\] (.+)$")
    done_line = re.compile(r"^\[\d\d:\d\d:\d\d (\d+)/(\d+) done\] (.+)$")
    started = [m[1] for m in map(start_line.match, lines) if m]
    done = [m for m in map(done_line.match, lines) if m]
    assert [int(m[1]) for m in done] == list(range(1, len(done) + 1)), lines
    assert {int(m[2]) for m in done} == {len(done) + 1}  # and the rule all
    assert sorted(started) == sorted(m[3] for m in done) and len(started) > 10
    hints = [ln.split(": ", 1)[1] for ln in lines if ln.startswith(("Report with", "Check for"))]
    assert len(hints) == 2, lines[-8:]
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    check = subprocess.run(
        hints[1], shell=True, cwd=run_dir, env=bare, capture_output=True, text=True, timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "present and read back intact" in check.stdout
    report = subprocess.run(
        f"{hints[0]} -o {tmp_path / 'hint.html'}",
        shell=True,
        cwd=run_dir,
        env=bare,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0 and (tmp_path / "hint.html").stat().st_size > 10**6, report


def test_the_data_copy_is_its_content_not_its_source_or_its_mtime(run_dir, mnist_dir, tmp_path):
    """The same files in another folder, no folder at all (offline, nothing to download), or
    the copy touched without a change: nothing reruns (each reran from the fetch, issue 23)."""
    other = tmp_path / "elsewhere"
    shutil.copytree(mnist_dir, other)
    for data in (
        f"data={{local_dir: {other}}}",
        "data={local_dir: null, mirrors: [http://mirror.invalid/]}",
    ):
        out = snakemake(run_dir, "--dry-run", "--config", data)
        assert "Nothing to be done" in out.stdout + out.stderr, (data, out.stdout[-3000:])
    for path in (run_dir / "results" / "data" / "mnist").iterdir():
        os.utime(path)  # newer than everything made from it, the same content
    out = snakemake(run_dir, "--dry-run")
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-3000:]


def _only(paths):
    paths = list(paths)
    assert len(paths) == 1, paths
    return paths[0]


def test_outputs_exist_and_agree(run_dir):
    summary = run_dir / "results" / "summary"
    runs = pd.read_parquet(summary / "runs.parquet")
    stages = pd.read_parquet(summary / "iterations.parquet")
    epochs = pd.read_parquet(summary / "epochs.parquet")
    assert len(runs) == 1
    run = runs.iloc[0]
    # every setting is a column
    for col in (
        "train_seed",
        "train_activation",
        "magnitude_rate",
        "region_rate",
        "region_connectivity",
        "region_score",
        "region_scope",
        "iterations",
        "method",
        "train_train_limit",
    ):
        assert col in runs.columns
    assert run.train_seed == 3 and run.iterations == 2 and run.train_train_limit == 2000
    assert list(stages["stage"]) == ["baseline", "magnitude", "region", "region"]
    assert list(stages["iteration"]) == [-1, 0, 1, 2]
    # per-epoch: 2 baseline epochs + 1 retraining epoch per iteration
    assert len(epochs) == 2 + 2
    assert epochs["test_acc"].iloc[1] == pytest.approx(run.baseline_acc)

    assert run.run == "s3 · region"  # the short label; the folder is run_path
    for table in (stages, epochs):
        assert (table["run"] == run.run).all() and (table["region_rate"] == run.region_rate).all()
    run_path = run_dir / "results" / "runs" / run.run_path
    final = h5py.File(run_path.parent / "iter2" / "model.h5", "r")
    w1 = final["params/fc1.weight"][()]
    mask = final["masks/fc1.weight"][()].astype(bool)
    assert run.final_acc == pytest.approx(final.attrs["test_acc"])
    assert run.final_acc == pytest.approx(stages["test_acc"].iloc[-1])
    assert run.w1_density == pytest.approx(mask.mean())
    assert run.w1_density <= 0.5  # magnitude pruning took half, regions took more
    assert np.all(w1[~mask] == 0.0)  # removed weights are exactly zero in the checkpoint
    assert run.total_params == 784 * 100 + 100 + 100 * 50 + 50 + 50 * 10 + 10
    assert run.nonzero_params == sum(
        int(np.count_nonzero(final[f"params/{k}"][()])) for k in final["params"]
    )
    ratios = 1 - mask.mean(axis=1)
    assert run.neurons_ge90_pruned == pytest.approx(np.mean(ratios >= 0.9))
    # the kept labels in the checkpoint are exactly the mask
    np.testing.assert_array_equal(final["regions/labels"][()].reshape(100, -1) > 0, mask)
    final.close()

    # each iteration removed round(0.4 * regions) regions, and the masks shrink accordingly
    regions = pd.read_parquet(run_path / "summary" / "regions.parquet")
    prev = h5py.File(run_path.parents[2] / "model.h5", "r")["masks/fc1.weight"][()].sum()
    for k in (1, 2):
        t = regions[regions["iteration"] == k]
        assert t["pruned"].sum() == round(0.4 * len(t))
        assert int(t["size"].sum()) == prev  # regions cover every surviving weight
        kept = h5py.File(run_path.parent / f"iter{k}" / "model.h5", "r")["masks/fc1.weight"][()]
        assert int(kept.sum()) == prev - int(t.loc[t["pruned"], "size"].sum())
        prev = kept.sum()

    md = (summary / "summary.md").read_text()
    assert "94.5%" in md and f"{100 * run.final_acc:.1f}%" in md
    for name in (
        "w1_baseline",
        "w1_magnitude",
        "w1_final",
        "regions",
        "neuron",
        "pruning_ratios",
        "stages",
    ):
        png = run_path / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run_path / "figures" / "stages.pdf").read_bytes()[:5] == b"%PDF-"
    # every rule wrote its log
    logs = {
        p.parent.name if p.parent.name != "logs" else p.stem
        for p in (run_dir / "results" / "logs").rglob("*.log")
    }
    assert {"fetch", "summary"} <= logs
    assert "epoch 2/2" in _only((run_dir / "results/logs/baseline").glob("*.log")).read_text()


def test_evidence_tables_agree_with_the_network(run_dir, mnist_dir):
    """The final stage's decision basis: schemas, sizes, and one region's ablation redone by
    hand on the real checkpoint with torch."""
    import torch

    from regionprune.core.explain.attribution import network
    from regionprune.io.data import load_split
    from regionprune.core.regions import label_neurons

    run = pd.read_parquet(run_dir / "results" / "summary" / "runs.parquet").iloc[0]
    stage = run_dir / "results" / "runs" / run.run_path
    ev = stage / "evidence"
    imp = pd.read_parquet(ev / "region_importance.parquet")
    assert list(imp.columns) == [
        "run",
        "iteration",
        "neuron",
        "region",
        "class",
        "size",
        "delta_acc",
        "delta_logit",
        "delta_logprob",
    ]
    assert (imp["run"] == run.run_path).all() and (imp["iteration"] == 2).all()
    with h5py.File(stage / "model.h5") as f:
        params = {k: f[f"params/{k}"][()] for k in f["params"]}
        mask = f["masks/fc1.weight"][()].astype(bool)
    labels = label_neurons(mask, (28, 28), 8)
    n_regions = int(sum(lab.max() for lab in labels))
    assert len(imp) == 10 * n_regions and imp.groupby("class").size().eq(n_regions).all()
    assert imp.drop_duplicates(["neuron", "region"])["size"].sum() == mask.sum()

    # the region that matters most to a class, ablated directly
    row = imp.loc[imp["delta_logprob"].idxmin()]
    x, y = load_split(mnist_dir, "mnist", "test", 1000)
    x = torch.from_numpy(x.astype(np.float32) / 255)
    sel = torch.from_numpy(y == row["class"])

    def class_stats(w1):
        with torch.no_grad():
            out = network({**params, "fc1.weight": w1}, "sigmoid")(x)
        lp = torch.log_softmax(out.double(), 1)[sel, int(row["class"])].mean().item()
        return (out[sel].argmax(1) == int(row["class"])).double().mean().item(), lp

    w1 = params["fc1.weight"] * mask
    cut = w1.copy()
    cut[int(row["neuron"]), (labels[int(row["neuron"])] == row["region"]).ravel()] = 0
    (acc0, lp0), (acc1, lp1) = class_stats(w1), class_stats(cut)
    assert row["delta_acc"] == pytest.approx(acc1 - acc0, abs=1e-9)
    assert row["delta_logprob"] == pytest.approx(lp1 - lp0, abs=1e-4) and lp1 < lp0

    tables = dict(iter(pd.read_parquet(ev / "deletion.parquet").groupby("test")))
    assert set(tables) == {"deletion", "insertion", "roar"}
    deletion = tables["deletion"]
    counts = deletion.groupby("method")["draw"].nunique().to_dict()
    assert counts == {
        "region": 1,
        "random": 10,
        "input_x_gradient": 1,
        "integrated_gradients": 1,
        "occlusion": 1,
        "neuron": 1,
        "region_gradients": 1,
    }
    assert sorted(deletion["budget"].unique()) == [0.0, 0.01, 0.02, 0.05, 0.1, 0.2]
    for test, table in tables.items():  # every method starts from the same network
        at0 = table[table["budget"] == 0].groupby("class")["class_acc"].nunique()
        assert (at0 == 1).all(), test
    budget = deletion[deletion["budget"] == 0.2]
    assert (budget["removed"] == round(0.2 * mask.sum())).all()
    roar = tables["roar"]  # the roar methods' first draw, at evidence.budget
    assert set(roar["method"]) == {"region", "random", "integrated_gradients", "occlusion"}
    assert sorted(roar["budget"].unique()) == [0.0, 0.05] and (roar["draw"] == 0).all()
    faithful = pd.read_parquet(ev / "faithfulness.parquet")
    assert len(faithful) == 10 * 5 and faithful["drop_random_sd"].notna().all()
    assert faithful["roar_region"].notna().sum() == 10  # one budget per class
    for name in ("sanity", "yardstick"):
        table = pd.read_parquet(ev / f"{name}.parquet")
        assert len(table) and (table["run"] == run.run_path).all(), name
    summary = pd.read_parquet(run_dir / "results" / "summary" / "faithfulness.parquet")
    assert (summary["run"] == run.run).all() and (summary["train_seed"] == 3).all()
    pd.testing.assert_frame_equal(summary[faithful.columns[1:]], faithful.iloc[:, 1:])
    assert "## Deletion test" in (run_dir / "results" / "summary" / "summary.md").read_text()
    for name in ("evidence_maps", "neuron_gallery", "deletion_curves"):
        assert (ev / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_evidence_for_other_iterations_on_request(run_dir):
    out = snakemake(run_dir, "--dry-run", "--config", "evidence={iterations: [0, 1, final]}")
    counts = job_counts(out.stdout)
    assert counts["evidence"] == counts["evidence_checks"] == counts["evidence_figures"] == 2
    # (the final iteration's exist already)
    assert "retrain" not in counts and "collect" not in counts
    bad = snakemake(run_dir, "--dry-run", "--config", "evidence={iterations: [5]}", check=False)
    assert bad.returncode != 0 and "has only 2" in bad.stdout + bad.stderr


def test_drop_inactive_removes_blank_pixels_first_at_the_same_density(run_dir, mnist_dir):
    from regionprune.io.data import inactive_pixels, load_split

    run = pd.read_parquet(run_dir / "results" / "summary" / "runs.parquet").iloc[0]
    train_dir = run_dir / "results" / "runs" / run.run_path.split("/")[0]
    target = train_dir / "mag0.5_dropinactive" / "model.h5"
    try:
        snakemake(
            run_dir, str(target.relative_to(run_dir)), "--config", "magnitude={drop_inactive: true}"
        )
        with h5py.File(target) as f, h5py.File(train_dir / "mag0.5" / "model.h5") as g:
            dropped = f["masks/fc1.weight"][()].astype(bool)
            plain = g["masks/fc1.weight"][()].astype(bool)
    finally:  # the shared run folder holds the default run only, for the tests after this one
        shutil.rmtree(target.parent, ignore_errors=True)
    blank = inactive_pixels(load_split(mnist_dir, "mnist", "train", 2000)[0])
    assert blank.sum() > 0 and plain[:, blank].any()  # without the remedy some survive
    assert not dropped[:, blank].any()
    assert dropped.sum() == plain.sum() == 100 * 784 // 2


def test_second_run_has_nothing_to_do(run_dir):
    out = snakemake(run_dir, "--dry-run")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_adding_a_seed_runs_only_that_seeds_jobs(run_dir):
    """A finished run plus a second seed: only the new seed's jobs, then the summaries (whose
    labels change); nothing of the finished run reruns or is rewritten."""
    out = snakemake(run_dir, "--dry-run", "--config", "grid={train: {seed: [3, 4]}}")
    assert job_counts(out.stdout) == {
        "baseline": 1,
        "magnitude_prune": 1,
        "label": 2,
        "prune": 2,
        "retrain": 2,
        "collect": 1,
        "evidence": 1,
        "evidence_checks": 1,
        "evidence_figures": 1,
        "figures": 1,
        "summary": 1,
        "grid_figures": 1,
        "all": 1,
    }
    jobs = [ln for ln in out.stdout.splitlines() if ln.startswith("[") and "Group job" not in ln]
    per_run = [line for line in jobs if "summary" not in line and "across the grid" not in line]
    assert len(per_run) == 13 and all(" s4" in line for line in per_run), jobs
    assert not any(" s3" in line for line in jobs), jobs


def test_pruning_change_never_retrains_baseline(run_dir, mnist_dir):
    out = snakemake(run_dir, "--dry-run", "--config", "region={rate: 0.3}", "magnitude={rate: 0.6}")
    counts = job_counts(out.stdout)
    assert "baseline" not in counts and "fetch" not in counts
    assert counts["magnitude_prune"] == 1 and counts["retrain"] == 2


def test_more_iterations_reuse_existing_ones(run_dir):
    out = snakemake(run_dir, "--dry-run", "--config", "iterations=3")
    counts = job_counts(out.stdout)
    assert counts["label"] == counts["prune"] == counts["retrain"] == 1
    assert "baseline" not in counts and "magnitude_prune" not in counts


def test_code_change_reruns_the_rules_that_use_it(run_dir, tmp_path):
    """A copy of the package with changed region code, found first on PYTHONPATH."""
    src = tmp_path / "src"
    shutil.copytree(
        REPO / "src" / "regionprune",
        src / "regionprune",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    regions = src / "regionprune" / "core" / "regions.py"
    regions.write_text(
        regions.read_text().replace(
            "    mask2d = np.asarray(mask2d, dtype=bool)\n",
            "    mask2d = np.asarray(mask2d, dtype=bool)\n    mask2d = mask2d.copy()\n",
        )
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    counts = job_counts(snakemake(run_dir, "--dry-run", env=env).stdout)
    assert counts.get("label") == 2, counts  # both iterations use the changed code
    assert "baseline" not in counts and "magnitude_prune" not in counts


def test_code_hash_is_of_the_checkout_that_runs_not_the_installed_copy(run_dir, tmp_path):
    """The venv holds this repository's package; a second checkout with changed region code
    runs its own src/ in the jobs, so its hash must be of that src/ too."""
    other = tmp_path / "checkout"
    shutil.copytree(REPO / "workflow", other / "workflow")
    shutil.copytree(
        REPO / "src", other / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copyfile(REPO / "Snakefile", other / "Snakefile")
    (other / "profiles").symlink_to("workflow/profiles")
    regions = other / "src" / "regionprune" / "core" / "regions.py"
    regions.write_text(
        regions.read_text().replace(
            "    mask2d = np.asarray(mask2d, dtype=bool)\n",
            "    mask2d = np.asarray(mask2d, dtype=bool)\n    mask2d = mask2d.copy()\n",
        )
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(other / "Snakefile"),
        "--directory",
        str(run_dir),
        "--configfile",
        str(run_dir / "config.yaml"),
        "--cores",
        "2",
        "--dry-run",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    counts = job_counts(out.stdout)
    assert counts.get("label") == 2, counts


def test_same_seed_same_results_with_or_without_the_job_server(run_dir, tmp_path, mnist_dir):
    """The same config again, each job in a new interpreter instead of a fork of the warm job
    server: every HDF5 file and table is the same."""
    again = tmp_path / "again"
    write_config(again, mnist_dir, job_server=False)
    snakemake(again, *SUMMARY_TABLES)  # what same_results compares: no figures
    same_results(run_dir, again)
    served = (run_dir / "results" / "logs" / "job_server.log").read_text()
    assert ": retrain" in served and ": label" in served, served
    assert not (again / "results" / "logs" / "job_server.log").exists()


def test_two_threads_change_only_float_rounding(run_dir, tmp_path, mnist_dir):
    """train_threads is 1 by default; 2 split the float sums of some products otherwise (the
    weights' last digits). On this configuration that changes no mask, count or accuracy, and
    no weight by 1e-5. (Over the README's 27-run grid one tie at a pruning threshold did flip:
    docs/outputs.md; that is why the README states the bound as measured there.)"""
    two = tmp_path / "two"
    write_config(two, mnist_dir, train_threads=2)
    snakemake(two, *SUMMARY_TABLES)  # what close_results compares: no figures
    close_results(run_dir, two)


@pytest.mark.parametrize(
    "region, words",
    [
        ({"connectivity": 6}, ["connectivity"]),
        ({"cut": 1.0}, ["cut", "1.0"]),
        ({"pixel_cut": -0.2}, ["pixel_cut", "-0.2"]),
        ({"cut_scope": "per_pixel"}, ["cut_scope", "per_pixel"]),
        ({"min_size": 0}, ["min_size"]),
        ({"max_regions": 0}, ["max_regions"]),
    ],
)
def test_bad_config_is_rejected_at_start(tmp_path, mnist_dir, region, words):
    write_config(tmp_path, mnist_dir, region=region)
    out = snakemake(tmp_path, "--dry-run", check=False)
    assert out.returncode != 0
    assert all(w in out.stderr + out.stdout for w in words)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "preset, runs, evidence",
    [
        ("carved-sigmoid", 18, 6),
        ("carved-relu", 27, 9),
        ("wider", 27, 9),
        ("deeper", 27, 9),
        ("pixel-budgets", 24, 0),
    ],
)
def test_presets_are_valid_grids_with_their_baselines(tmp_path, mnist_dir, preset, runs, evidence):
    """Each preset, as the docs run it: seeds 0-2, the paper's variant and the carved ones,
    each with its matched baselines, and the decision basis of every region run (the pixel
    budgets: region runs only, no decision basis). Fashion-MNIST's is the same grid as wider's
    on another data set (its data are tested in test_data). Without the SLURM job groups,
    which change no job count: Snakemake checks groups even in a local dry run, 9 of the
    pixel budgets' 14.5 s (docs/benchmark.md, Limits)."""
    write_config(tmp_path, mnist_dir, cluster_jobs="per_step")
    out = snakemake(
        tmp_path, "--dry-run", configfiles=(REPO / "workflow" / "presets" / f"{preset}.yaml",)
    )
    counts = job_counts(out.stdout)
    assert counts["collect"] == runs and counts["baseline"] == 3
    assert counts.get("evidence", 0) == counts.get("evidence_checks", 0) == evidence


def test_lint_is_clean(mnist_dir, tmp_path):
    write_config(tmp_path, mnist_dir)
    out = snakemake(tmp_path, "--lint", check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr


def test_snakefmt_clean():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    out = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_black_clean():
    """The Python code as the project's formatter leaves it (black, 100 columns: pyproject)."""
    out = subprocess.run(
        [sys.executable, "-m", "black", "--check", "src", "tests", "bench"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def regionprune(command: str, workdir: Path, *args: str, **run) -> subprocess.CompletedProcess:
    """``regionprune check`` or ``report`` with the options of ``snakemake(workdir)``."""
    return subprocess.run(
        [sys.executable, "-m", "regionprune", command, *args, *workflow_options(workdir)],
        capture_output=True,
        text=True,
        timeout=300,
        **run,
    )


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    out = regionprune("report", run_dir, "-o", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    return path


def test_a_killed_report_leaves_the_earlier_one(run_dir, tmp_path):
    """A kill while the report is written leaves the earlier report as it was (`snakemake
    --report` left a 0-byte file where a complete report stood)."""
    path = tmp_path / "report.html"
    path.write_text("the earlier report")
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "regionprune",
            "report",
            "-o",
            str(path),
            *workflow_options(run_dir),
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size for p in tmp_path.glob(".report-*.html")):
            assert proc.poll() is None and time.monotonic() < deadline, "no report was begun"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # while Snakemake writes it
    assert path.read_text() == "the earlier report"
    out = regionprune("report", run_dir, "-o", str(path))  # and the next one replaces it
    assert out.returncode == 0 and path.stat().st_size > 10**6, out.stdout + out.stderr


def test_a_report_of_results_never_made_says_so_in_two_lines(run_dir, tmp_path):
    """Report with options whose results were never made (here one more iteration than the
    run's): two lines naming the problem and the fix, no report. Snakemake printed a line per
    result ("Missing metadata ..."), then that one file "marked for report" did not exist."""
    path = tmp_path / "report.html"
    out = regionprune("report", run_dir, "-o", str(path), "--config", "iterations=3")
    assert out.returncode == 1 and not path.exists(), out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "iter3/" in lines[0] and "do not exist here" in lines[0], lines
    assert lines[1].startswith("Fix: run snakemake with these options first"), lines


def test_check_and_report_read_a_read_only_archive(run_dir, tmp_path):
    """A finished results folder on a read-only disk (a bind mount in a namespace of its own):
    check and report read it and write nothing there, a run is refused in one line. Both
    failed with "Read-only file system: '.snakemake/regionprune.lock'"."""
    if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespaces here (unshare -rm) to make a read-only folder")
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    out, options = tmp_path / "report.html", " ".join(workflow_options(run_dir))
    script = f"""mount --bind {run_dir} {run_dir} && mount -o remount,bind,ro {run_dir}
        touch {run_dir}/x 2>/dev/null && exit 99  # the folder must be read-only now
        {sys.executable} -m regionprune check {options} || exit 1
        {sys.executable} -m regionprune report -o {out} {options} || exit 2
        {sys.executable} -m snakemake {options} --forcerun summary; echo "run: $?"
    """
    ran = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600
    )
    text = ran.stdout + ran.stderr
    assert ran.returncode == 0, text
    assert "present and read back intact" in ran.stdout and out.stat().st_size > 10**6, text
    assert "run: 1" in text and "this folder cannot be written" in text, text
    assert "Traceback" not in text
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before


def test_report_bundles_figures_and_summary(report):
    html = report.read_text()
    for name in ("w1_baseline.png", "w1_final.png", "regions.png", "neuron.png", "summary.html"):
        assert name in html
    assert "paper's Fig. 1" in html  # captions are in
    # it opens with the summary table and the grid figures, then the runs
    assert "Start with" in html and "1. Summary" in html and "3. Across the grid" in html
    assert "accuracy_density.png" in html and "W1 after training (paper Fig. 1)" in html
    assert "4. Decision basis" in html and "deletion_curves.png" in html


def test_a_zipped_report_is_a_folder_named_as_the_file(run_dir, report, tmp_path):
    """``-o bundle.zip``: Snakemake's report with a file per figure in a folder ``bundle/``
    (it failed decoding the zip as text; its folder was named after the temporary file), the
    same page as the HTML report, parameters unescaped alike."""
    import zipfile

    out = regionprune("report", run_dir, "-o", str(tmp_path / "bundle.zip"))
    assert out.returncode == 0 and "unzip it" in out.stdout, out.stdout + out.stderr
    with zipfile.ZipFile(tmp_path / "bundle.zip") as z:
        names = z.namelist()
        page = z.read("bundle/report.html").decode()
        assert all(n.startswith("bundle/") for n in names), names
        assert any(n.endswith("/w1_baseline.png") for n in names) and len(names) > 10, names
    params = re.compile(r'"params": "((?:[^"\\]|\\.)*)"')
    assert sorted(params.findall(page)) == sorted(params.findall(report.read_text()))
    assert any('{\\"' in p for p in params.findall(page))  # JSON settings, quotes as in HTML


def _chromium() -> str:
    """A Chromium for Playwright: $CHROMIUM, or Debian's (apt-get install chromium)."""
    pytest.importorskip("playwright.sync_api", reason="pip install playwright (test extras)")
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not found:
        pytest.skip("no Chromium: apt-get install chromium, or set CHROMIUM to one")
    return found


def test_report_in_a_real_browser(report, run_dir, tmp_path):
    """Headless Chromium opens the report as a reader would: the summary's tables show inline
    and fit the frame, the figures are listed by short titles in the paper's order and shown
    at a readable size: every figure's smallest text at 8 pt or more in the measured frame."""
    from playwright.sync_api import expect, sync_playwright

    # Playwright waits 5 s for what a page should show: on this 2-core machine, beside the
    # other test worker's training, Chromium once took longer to render the summary's frame
    expect.set_options(timeout=60_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(report.as_uri())
        page.get_by_role("link", name="1. Summary").click()
        page.locator("tr", has_text="summary tables").locator("a[iconname=eye]").click()
        summary = page.frame_locator("iframe")
        expect(summary.locator("h1")).to_have_text("Results")
        expect(summary.locator("table").first).to_be_visible()
        # the run by its label, beside the paper's numbers
        expect(summary.locator("td", has_text="s3 · region").first).to_be_visible()
        assert page.locator("iframe").bounding_box()["width"] >= 800
        # no table scrolls sideways: each fits its page, and the page its frame
        widths = summary.locator("table").evaluate_all(
            "ts => ts.map(t => [t.scrollWidth, t.parentElement.clientWidth])"
        )
        assert len(widths) >= 5 and all(w <= room for w, room in widths), widths
        page_width = summary.locator("html").evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert page_width[0] <= page_width[1], page_width
        page.screenshot(path=tmp_path / "summary.png")

        page.get_by_role("link", name="Results").click()
        page.get_by_role("link", name="2. Paper figures per run").click()
        titles = page.locator("tbody tr td:first-child").all_inner_texts()
        assert titles[0] == "1 · W1 after training (paper Fig. 1)" and len(titles) == 7, titles
        assert titles == sorted(titles)  # listed in reading order
        page.locator("tr", has_text="W1 after training").locator("a[iconname=eye]").click()
        figure = page.locator("img[src^='data:image/png']").last
        expect(figure).to_be_visible()
        # the figure takes most of the window, not a thumbnail beside a wide menu
        assert figure.bounding_box()["width"] >= 800, figure.bounding_box()
        # the frame a figure is shown in (its container's inner size): at least what the
        # figures are made for, so that the sizes checked below are the sizes a reader sees
        frame = figure.evaluate("""e => { const p = e.parentElement, s = getComputedStyle(p);
            return [p.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight),
                    p.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom)]; }""")
        assert frame[0] >= REPORT_FRAME_PX[0] and frame[1] >= REPORT_FRAME_PX[1], frame
        page.screenshot(path=tmp_path / "figure.png")
        assert "System Message" not in page.content()
        # the figure's job parameters, as JSON with plain quotes (Snakemake showed \")
        page.locator("tr", has_text="W1 after training").locator("a").last.click()
        expect(page.get_by_text("JOB PARAMETERS", exact=False).first).to_be_visible()
        panel = page.locator("body").inner_text()
        assert '{"connectivity": 8' in panel and '\\"' not in panel, panel[:2000]
        browser.close()
    # every figure of the report: its smallest text, at the size this frame shows it
    pngs = [p for p in (run_dir / "results").rglob("*.png") if "data" not in p.parts]
    assert len(pngs) >= 14, pngs
    for png in pngs:
        with Image.open(png) as image:
            shown = shown_text_pt(float(image.text[TEXT_PX_KEY]), image.size, frame)
        assert shown >= MIN_TEXT_PT, (png.name, image.size, shown)
    # the captions, rendered by docutils into the report: no "System Message" among them
    assert "System Message" not in report.read_text()


GRID_27 = {
    "train": {"seed": [0, 1, 2]},
    "region": {"rate": [0.2, 0.4, 0.6]},
    "method": ["region", "magnitude", "random"],
}


def test_grid_dry_run_shares_baselines(tmp_path, mnist_dir):
    # without the SLURM job groups, which change no count (Snakemake checks them in a dry run)
    write_config(tmp_path, mnist_dir, grid=GRID_27, iterations=8, cluster_jobs="per_step")
    counts = job_counts(snakemake(tmp_path, "--dry-run").stdout)
    assert counts["baseline"] == 3  # once per seed, never per pruning setting
    assert counts["blank_pixels"] == 1  # once per data set and image count, read by every run
    assert counts["magnitude_prune"] == 3 and counts["random_prune"] == 3
    assert counts["label"] == counts["prune"] == 3 * 3 * 8
    assert counts["match"] == 3 * 3 * 2 * 8  # magnitude and random follow each region run
    # the two matched baselines of a region run are retrained together, in lockstep
    assert counts["retrain"] == counts["retrain_matched"] == 9 * 8
    assert counts["collect"] == 27
    assert counts["figures"] == 9  # per-run figures for the region method only (figures.per_run)
    # likewise (evidence.per_run)
    assert counts["evidence"] == counts["evidence_checks"] == counts["evidence_figures"] == 9
    # a decision basis's figures are per-run figures: none without figures.per_run's method
    light = job_counts(snakemake(tmp_path, "--dry-run", "--config", "figures={per_run: []}").stdout)
    assert light["evidence"] == light["evidence_checks"] == 9, light
    assert "evidence_figures" not in light and "figures" not in light, light


def test_one_matched_baseline_brings_its_partner(tmp_path, mnist_dir):
    write_config(tmp_path, mnist_dir, method="magnitude")
    counts = job_counts(snakemake(tmp_path, "--dry-run").stdout)
    assert counts["retrain_matched"] == 2 and counts["random_prune"] == 1
    assert counts["collect"] == 1 and "evidence" not in counts  # evidence.per_run: region


def test_bad_grid_value_is_rejected_at_start(tmp_path, mnist_dir):
    write_config(tmp_path, mnist_dir, grid={"region": {"scope": ["global", "per_cell"]}})
    out = snakemake(tmp_path, "--dry-run", check=False)
    assert out.returncode != 0 and "per_cell" in out.stdout + out.stderr


def test_another_working_folder_uses_the_default_config_beside_the_snakefile(tmp_path, mnist_dir):
    """``-s path/Snakefile -d other`` with no config.yaml in ``other``: the defaults beside the
    Snakefile (it failed: config.yaml was looked up in the working folder only)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "--config",
            f"data={{local_dir: {mnist_dir}}}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert job_counts(out.stdout)["retrain"] == 8  # the paper's eight iterations


def test_offline_the_fetch_fails_once_and_the_screen_ends_with_the_fix(tmp_path):
    """No network (a mirror whose name cannot be looked up): the fetch is not retried, its error
    is shown once, and the last line on the screen is what to do."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "--config",
            "data={mirrors: [http://mirror.invalid/]}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert text.count("could not download") == 1 and "Trying to restart" not in text, text
    assert "this machine seems to be offline" in text
    last = text.strip().splitlines()[-1]
    assert last.startswith("Fix: on a machine without network access"), text[-2000:]
