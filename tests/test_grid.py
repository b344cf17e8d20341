"""A small real grid on a slice of real MNIST (three methods; the paper's region pruning over all
neurons, per neuron, and carved): its matched baselines, the carving, the API's mask against the
workflow's, the tables and summary figures, the docs' pandas examples, and a second seed added to
the finished grid. A file of its own so that it runs beside test_workflow's README-config run.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from test_workflow import LIGHT, job_counts, snakemake, write_config

pytestmark = pytest.mark.workflow


#: A carving with every step on (30% cut so that the small 2-iteration run fragments).
CARVED = {
    "rate": 0.0,
    "score": "sum_abs",
    "pixel_cut": 0.1,
    "cut": 0.3,
    "min_size": 2,
    "max_regions": 2,
}
CARVED_VARIANT = "px0.1_cut0.3_min2_cap2"


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory, mnist_dir) -> Path:
    """A small real grid: three methods; the paper's region pruning over all neurons, per
    neuron, and carved; one seed, two iterations. No per-run figures and the light decision
    basis (run_dir tests them in full): the grid's tests read its tables and summary figures,
    and the docs' pandas examples run on its tables (the sanity and yardstick tables empty,
    with their columns; remove-and-retrain off). The full decision basis and its checks were
    24 of the grid's 39 job-seconds."""
    workdir = tmp_path_factory.mktemp("grid")
    write_config(
        workdir,
        mnist_dir,
        figures={"per_run": []},
        evidence=LIGHT["evidence"],
        grid={
            "method": ["region", "magnitude", "random"],
            "region": [{}, {"scope": "per_neuron"}, CARVED],
        },
    )
    snakemake(workdir)
    return workdir


def test_another_seed_on_a_finished_grid_runs_only_its_jobs(grid_dir):
    """The 9-run grid plus a second seed: the new seed's jobs are exactly the jobs the finished
    seed needed (fewer only by the shared data steps), then the summaries; nothing of the
    finished seed runs again."""
    everything = snakemake(grid_dir, "--dry-run", "--forceall")
    grid = (
        "grid={train: {seed: [3, 4]}, method: [region, magnitude, random], region: "
        + json.dumps([{}, {"scope": "per_neuron"}, CARVED])
        + "}"
    )
    more = snakemake(grid_dir, "--dry-run", "--config", grid)
    shared = {"fetch", "blank_pixels", "summary", "grid_figures", "all"}
    per_seed = {k: v for k, v in job_counts(everything.stdout).items() if k not in shared}
    assert job_counts(more.stdout) == {**per_seed, "summary": 1, "grid_figures": 1, "all": 1}
    jobs = [ln for ln in more.stdout.splitlines() if ln.startswith("[") and "Group job" not in ln]
    per_run = [line for line in jobs if "summary" not in line and "across the grid" not in line]
    assert len(per_run) == sum(per_seed.values()) > 40
    assert all(" s4" in line for line in per_run) and not any(" s3" in ln for ln in jobs), jobs


def _region_setting(runs: pd.DataFrame) -> pd.Series:
    """One label per region setting of the grid: the variant, and the scope for the paper's."""
    return runs["region_variant"] + "/" + runs["region_scope"]


def test_baselines_match_the_region_runs_density_at_every_iteration(grid_dir):
    summary = grid_dir / "results" / "summary"
    runs = pd.read_parquet(summary / "runs.parquet").assign(setting=_region_setting)
    its = pd.read_parquet(summary / "iterations.parquet").assign(setting=_region_setting)
    assert len(runs) == 9 and set(runs["method"]) == {"region", "magnitude", "random"}
    assert set(runs["setting"]) == {"paper/global", "paper/per_neuron", f"{CARVED_VARIANT}/global"}
    assert runs["baseline_acc"].nunique() == 1  # one shared baseline
    for _, g in its[its["iteration"] >= 0].groupby(["setting", "iteration"]):
        assert g["w1_nonzero"].nunique() == 1, g[["method", "iteration", "w1_nonzero"]]
    # iteration 0: magnitude pruning shared by region and magnitude; random has its own
    start = its[its["iteration"] == 0].set_index(["setting", "method"])["stage"]
    assert set(start.xs("paper/global")) == {"magnitude", "random"}
    # random pruning spreads evenly; the region method drops whole neurons sooner
    final = runs.set_index(["setting", "method"])
    assert (final["neurons_dead"].xs("random", level="method") == 0).all()
    # readability measures exist for every run
    measures = [
        "regions_per_neuron",
        "largest_region_share",
        "pixels_used",
        "region_px_median",
        "region_px_p90",
        "ipr_median",
        "alive_neurons",
    ]
    assert runs[measures].notna().all().all()
    assert (runs["region_px_p90"] >= runs["region_px_median"]).all()


def test_carving_keeps_few_regions_of_a_minimum_size_and_drops_pixels(grid_dir, mnist_dir):
    """The carved run's masks, relabelled from its checkpoints, obey every carving step."""
    from regionprune.core.regions import label_neurons

    summary = grid_dir / "results" / "summary"
    runs = pd.read_parquet(summary / "runs.parquet")
    carved = runs[(runs["region_variant"] == CARVED_VARIANT) & (runs["method"] == "region")]
    assert len(carved) == 1 and carved.iloc[0]["region_max_regions"] == 2
    # the matched baselines carry the variant of the run they follow
    assert (runs.loc[runs["region_cut"] == 0.3, "region_variant"] == CARVED_VARIANT).sum() == 3
    run_dir = grid_dir / "results" / "runs" / carved.iloc[0]["run_path"]
    its = pd.read_parquet(run_dir / "summary" / "iterations.parquet").set_index("iteration")
    for k in (1, 2):
        with h5py.File(run_dir.parent / f"iter{k}" / "model.h5") as f:
            mask = f["masks/fc1.weight"][()].astype(bool)
        labels = label_neurons(mask, (28, 28), 8)
        for lab in labels:
            sizes = np.bincount(lab.ravel())[1:]
            assert len(sizes) <= 2 and (sizes >= 2).all()
        # the pixel cut removed a tenth of the pixels in use, and the rest can only remove more
        before = its.loc[k - 1, "pixels_used"]
        assert its.loc[k, "pixels_used"] <= before - round(0.1 * before)
        table = pd.read_parquet(run_dir.parent / f"iter{k}" / "regions_pruned.parquet")
        assert set(table["removed_by"].dropna()) <= {"min_size", "max_regions"}  # rate is 0
        assert (table["pruned"] == table["removed_by"].notna()).all()
        kept = table[~table["pruned"]]
        assert kept.groupby("neuron").size().max() <= 2 and kept["size"].min() >= 2
        assert int(kept["size"].sum()) == int(mask.sum())
    assert its.loc[2, "regions_per_neuron"] <= 2 and its.loc[2, "alive_neurons"] > 0
    # the matched pair was trained in lockstep, the region method alone
    for method, n in (("region", 1), ("magnitude", 2), ("random", 2)):
        for model in (grid_dir / "results" / "runs").rglob(f"{method}/iter*/model.h5"):
            with h5py.File(model) as f:
                assert f.attrs["lockstep"] == n and f.attrs["stage"] == method


def test_the_api_mask_is_the_workflows_mask(grid_dir):
    """regionprune.core.prune on the checkpoint an iteration started from gives the mask that
    iteration's label and prune jobs wrote, for the paper's settings and the carved ones."""
    from regionprune.core.prune import region_mask
    from regionprune.workflow.settings import RegionSettings

    runs = pd.read_parquet(grid_dir / "results" / "summary" / "runs.parquet")
    checked = 0
    for run in runs[runs["method"] == "region"].itertuples():
        run_dir = grid_dir / "results" / "runs" / run.run_path
        with h5py.File(run_dir / "model.h5") as f:  # the settings it was made with
            rs = RegionSettings.from_dict(json.loads(f.attrs["settings"])["region"])
        for k in (1, 2):
            start = (
                run_dir.parents[2] / "model.h5"
                if k == 1
                else run_dir.parent / f"iter{k - 1}" / "model.h5"
            )
            with h5py.File(start) as f:
                weight, before = f["params/fc1.weight"][()], f["masks/fc1.weight"][()].astype(bool)
            with h5py.File(run_dir.parent / f"iter{k}" / "mask.h5") as f:
                want = f["masks/fc1.weight"][()].astype(bool)
            got = region_mask(
                weight,
                before,
                (28, 28),
                amount=rs.rate,
                connectivity=rs.connectivity,
                score=rs.score,
                scope=rs.scope,
                pixel_cut=rs.pixel_cut,
                pixel_budget=rs.pixel_budget,
                cut=rs.cut,
                cut_scope=rs.cut_scope,
                min_size=rs.min_size,
                max_regions=rs.max_regions,
            )
            np.testing.assert_array_equal(got, want)
            assert want.sum() < before.sum()
            checked += 1
    assert checked == 6  # three region settings, two iterations each


def test_grid_aggregation_and_figures(grid_dir):
    summary = grid_dir / "results" / "summary"
    runs = pd.read_parquet(summary / "runs.parquet")
    # labels: the seed, the region setting that varies, the method
    assert "s3 · paper · per_neuron · random" in set(runs["run"]), list(runs["run"])
    for t in ("runs", "iterations", "epochs", "neurons", "pixels", "faithfulness"):
        df = pd.read_parquet(summary / f"{t}.parquet")
        assert set(df["run"]) <= set(runs["run"]) and df["run_path"].str.contains("/iter").all()
        # every table groups by a setting with plain pandas
        assert df.groupby("region_variant")["run"].nunique().sum() == df["run"].nunique(), t
        assert df["run"].nunique() == (9 if t != "faithfulness" else 3), t
    neurons = pd.read_parquet(summary / "neurons.parquet")
    assert len(neurons) == 9 * 100 and "ipr" in neurons
    pixels = pd.read_parquet(summary / "pixels.parquet")
    assert len(pixels) == 9 * 784
    md = (summary / "summary.md").read_text()
    # one seed per setting: means without a spread of zero
    assert " +- 0.0" not in md and "per_neuron" in md and "random" in md and CARVED_VARIANT in md
    assert "regions / IG" in md  # the deletion test beside integrated gradients
    # the evidence rule explains the carved run too
    faith = pd.read_parquet(summary / "faithfulness.parquet")
    assert faith["run_path"].str.contains("_cut0.3_").any() and faith["run"].nunique() == 3
    for f in ("accuracy_density", "frontier", "ratio_histograms", "pixel_usage"):
        assert (summary / "figures" / f"{f}.png").read_bytes()[:4] == b"\x89PNG"
        assert (summary / "figures" / f"{f}.pdf").read_bytes()[:5] == b"%PDF-"


def test_docs_pandas_examples_run_as_written(grid_dir):
    """The pandas blocks of the README, docs/outputs.md and docs/findings.md, as a reader would
    paste them, on the grid's results."""
    sections = (
        ("README.md", "## Outputs", 1),
        ("docs/outputs.md", "## Analysing with pandas", 3),
        ("docs/findings.md", "### Reproduce the tables with pandas", 1),
        ("docs/findings.md", "### Reproduce these tables", 1),
    )
    for page, heading, count in sections:
        section = (REPO / page).read_text().split(heading)[1].split("\n## ")[0]
        blocks = re.findall(r"```python\n(.*?)```", section, re.S)
        assert len(blocks) == count, page
        for code in blocks:
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=grid_dir,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert out.returncode == 0, f"{page}:\n{code}\n{out.stderr}"
            assert "Traceback" not in out.stderr and out.stdout.strip()
