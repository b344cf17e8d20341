# Helpers shared by all rules: the run(s) the config asks for, paths, and code versions.
import json
import os
import sys
from pathlib import Path

# Jobs run `python -m regionprune ...`. The interpreter that runs Snakemake comes first on PATH
# (a venv need not be activated; under --sdm conda the env's own python takes precedence), and the
# repository's src/ comes last on PYTHONPATH (an installed package, or one on PYTHONPATH, wins).
SRC = str(Path(workflow.basedir) / "src")
os.environ.update(
    PATH=os.pathsep.join(
        filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")])
    ),
    PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), SRC])),
)
if SRC not in sys.path:
    sys.path.append(SRC)

from regionprune.codehash import code_version
from regionprune.data import IDX_FILES, get_spec
from regionprune.settings import RunSettings

ENV = "../envs/regionprune.yaml"
RESULTS = "results"
RUNS_DIR = f"{RESULTS}/runs"

# The run the config asks for, by id (a dictionary, so that a grid can hold several).
RUNS = {r.id: r for r in [RunSettings.from_config(config)]}
TRAIN = {r.train.name: r.train for r in RUNS.values()}
MAGNITUDE = {r.magnitude.name: r.magnitude for r in RUNS.values()}
REGION = {r.region.name: r.region for r in RUNS.values()}
RUN_BY_PATH = {(r.path, r.iterations): r for r in RUNS.values()}


wildcard_constraints:
    dataset="[a-z0-9_]+",
    train="[^/]+",
    mag="mag[^/]+",
    region="reg[^/]+",
    k="[0-9]+",
    n="[0-9]+",


def data_files(dataset):
    get_spec(dataset)  # an unknown data set fails here, with the known ones named
    return [f"{RESULTS}/data/{dataset}/{f}" for f in IDX_FILES]


def train_data(wildcards):
    return data_files(TRAIN[wildcards.train].dataset)


def train_json(wildcards):
    return TRAIN[wildcards.train].to_json()


def previous_model(wildcards):
    """The checkpoint iteration k starts from: the magnitude-pruned net for k = 1."""
    k = int(wildcards.k)
    base = f"{RUNS_DIR}/{wildcards.train}/{wildcards.mag}"
    return (
        f"{base}/model.h5"
        if k == 1
        else f"{base}/{wildcards.region}/iter{k - 1}/model.h5"
    )


def the_run(wildcards):
    key = (f"{wildcards.train}/{wildcards.mag}/{wildcards.region}", int(wildcards.n))
    return RUN_BY_PATH[key]


def run_stage_files(wildcards):
    """Everything one run's summary reads, stage by stage."""
    run_dir = f"{RUNS_DIR}/{wildcards.train}/{wildcards.mag}"
    its = range(1, int(wildcards.n) + 1)
    region_dir = f"{run_dir}/{wildcards.region}"
    return {
        "checkpoints": [
            f"{RUNS_DIR}/{wildcards.train}/baseline/model.h5",
            f"{run_dir}/model.h5",
        ]
        + [f"{region_dir}/iter{k}/model.h5" for k in its],
        "epochs": [f"{RUNS_DIR}/{wildcards.train}/baseline/epochs.parquet"]
        + [f"{region_dir}/iter{k}/epochs.parquet" for k in its],
        "regions": [f"{region_dir}/iter{k}/regions_pruned.parquet" for k in its],
    }


def run_figure_inputs(wildcards):
    files = run_stage_files(wildcards)
    region_dir = f"{RUNS_DIR}/{wildcards.train}/{wildcards.mag}/{wildcards.region}"
    inputs = {
        "baseline": files["checkpoints"][0],
        "magnitude": files["checkpoints"][1],
        "final": files["checkpoints"][-1],
        "stages": f"{region_dir}/iter{wildcards.n}/summary/stages.parquet",
    }
    if int(wildcards.n) >= 1:
        inputs["labels"] = f"{region_dir}/iter1/regions.h5"
    return inputs


FIGURES = ("w1_baseline", "w1_magnitude", "w1_final", "regions", "neuron")
FIGURES_PDF = ("pruning_ratios", "stages")
SUMMARY_TABLES = ("runs", "stages", "epochs")


def all_targets():
    targets = [f"{RESULTS}/summary/{t}.parquet" for t in SUMMARY_TABLES]
    targets.append(f"{RESULTS}/summary/summary.md")
    for run_id in RUNS:
        targets += [
            f"{RUNS_DIR}/{run_id}/figures/{f}.png" for f in FIGURES + FIGURES_PDF
        ]
        targets += [f"{RUNS_DIR}/{run_id}/figures/{f}.pdf" for f in FIGURES_PDF]
    return targets
