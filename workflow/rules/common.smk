# Helpers shared by all rules: the runs the config asks for, paths, and code versions.
import json
import os
import sys
from pathlib import Path

from regionprune.workflow.codehash import code_version
from regionprune.workflow.config import FIGURE_FORMATS
from regionprune.io.data import (
    IDX_FILES,
    USER_DATA,
    USER_INFO,
    DataError,
    check_local_dir,
    copy_files,
    get_spec,
    is_builtin,
    user_needs_folder,
)
from regionprune.workflow.coverage import limit_problems, split_labels
from regionprune.workflow.labels import Labels
from regionprune.workflow.settings import stage_path

ENV = "../envs/regionprune.yaml"
RESULTS = "results"
RUNS_DIR = f"{RESULTS}/runs"
SUMMARY = f"{RESULTS}/summary"
LOGS = f"{RESULTS}/logs"
# The folder layout below results/runs/, as wildcard patterns (settings.RunSettings names the
# levels): one pruning setting's folder holds a folder per method, each holds iter<k> folders.
PRUNING = "{train}/{mag}/{region}"
STAGE = stage_path(f"{PRUNING}/{{method}}", "{n}")  # one stage of a run: iteration n
REGION_ITER = stage_path(f"{PRUNING}/region", "{k}")  # iteration k of the region method


#: The folder a job works in, as a key of LABEL (wildcards as the rule's message sees them).
LEVEL_KEYS = {
    "train": "{wildcards.train}",
    "mag": "{wildcards.train}/{wildcards.mag}",
    "pruning": "{wildcards.train}/{wildcards.mag}/{wildcards.region}",
    "method": "{wildcards.train}/{wildcards.mag}/{wildcards.region}/{wildcards.method}",
}
LEVEL_KEYS["run"] = stage_path(LEVEL_KEYS["method"], "{wildcards.n}")


def about(level, iteration=None):
    """A rule's message text naming its run by label: ``s0 · rate 0.4 · iteration 3/8``.
    ``level``: a LEVEL_KEYS name; ``iteration``: a wildcard.
    """
    key = LEVEL_KEYS[level]
    at = f"@{{wildcards.{iteration}}}" if iteration else ""
    return f"{{LABEL:{key}{at}u}}"  # u: Snakemake would read a trailing q as 'quote'


def matched_iter(method="{matched}"):
    """Iteration k of a matched baseline (``method``: a name, or the wildcard)."""
    return stage_path(f"{PRUNING}/{method}", "{k}")


#: The files a user's data set becomes in results/data/<name>/ (import_data).
USER_FILES = (USER_DATA, USER_INFO)


def data_files(dataset):
    """The files of a data set's copy in results/data/<dataset>/ (fetch, import_data)."""
    return [f"{RESULTS}/data/{dataset}/{f}" for f in copy_files(dataset)]


RUNS = START.runs
RUN_BY_PATH = {(r.path, r.iterations): r for r in RUNS.values()}
# every folder's short label (s0 · rate 0.4 · region), for the rules' messages
LABEL = Labels([r.row() for r in RUNS.values()])
USED_DATASETS = sorted({t.dataset for t in TRAIN.values()})
MATCHED = ("magnitude", "random")  # baselines that follow the region run's density
DATA_SOURCE, FIGURE_SETTINGS = START.data_source, START.figures
EVIDENCE_SETTINGS, RESOURCES = START.evidence, START.resources
# the device the jobs get as a param: it decides their floats, so a change reruns them
DEVICE = START.device
#: The environment variable that carries data.local_dir, mirrors and timeout to the fetch job.
SOURCE_VARIABLE = "REGIONPRUNE_DATA_SOURCE"
# where the data come from reaches the fetch job by its environment, not its params: a data
# copy is what its content is (its MD5s), whichever folder or mirror it came from
os.environ[SOURCE_VARIABLE] = DATA_SOURCE.to_json()
try:
    # a local folder that cannot give the data is refused now, not in the fetch job; checked
    # only while a fetch is still to run (the copies in results/data are then what counts)
    LOCAL_DIRS = {ds: DATA_SOURCE.folder(ds, USED_DATASETS) for ds in USED_DATASETS}
    # a user's data set has no mirrors to download from
    for ds, folder in LOCAL_DIRS.items():
        if not is_builtin(ds) and not folder:
            raise DataError(user_needs_folder(ds))
    for ds, folder in LOCAL_DIRS.items():
        if folder and not all(Path(f).is_file() for f in data_files(ds)):
            check_local_dir(ds, folder)
    # data limits that leave a class out of the decision basis, from the labels (coverage.py)
    limited = {(t.dataset, t.train_limit, t.test_limit) for t in TRAIN.values()}
    limit_problems_found = []
    for ds, train_limit, test_limit in sorted(limited, key=str):
        labels = split_labels(ds, Path(RESULTS, "data", ds), LOCAL_DIRS[ds])
        if labels is not None:
            limit_problems_found += limit_problems(
                labels["train"],
                labels["test"],
                train_limit,
                test_limit,
                EVIDENCE_SETTINGS.sanity_images,
            )
    if limit_problems_found:
        raise DataError("\n".join(dict.fromkeys(limit_problems_found)))
except (ValueError, DataError) as err:
    raise WorkflowError(str(err)) from None

# On a cluster (ignored locally): every job that trains on one training setting, and the light
# steps between them, go as one cluster job (a Snakemake job group: the jobs of one seed are
# connected, two seeds share none, so each training setting is its own group). The light steps
# cannot be local rules there: one local job would make its whole group local. (A dry run
# lists the groups even where the run itself will not use them.)
CLUSTER_GROUP = "training" if RESOURCES.cluster_jobs == "per_training" else None
LIGHT_LOCAL = CLUSTER_GROUP is None


wildcard_constraints:
    dataset="[a-z0-9_]+",
    train="[^/]+",
    mag="mag[^/]+",
    region="reg[^/]+",
    method="region|magnitude|random",
    matched="magnitude|random",
    k="[0-9]+",
    n="[0-9]+",
    limit="all|[0-9]+",


def train_data(wildcards):
    return data_files(TRAIN[wildcards.train].dataset)


def blank_pixels(wildcards):
    """The blank-pixel table of a training setting's data set and image count."""
    ts = TRAIN[wildcards.train]
    return f"{RESULTS}/data/{ts.dataset}/blank_pixels_{ts.train_limit or 'all'}.parquet"


def data_dir(wildcards):
    return f"{RESULTS}/data/{TRAIN[wildcards.train].dataset}"


def train_json(wildcards):
    return TRAIN[wildcards.train].to_json()


def region_json(wildcards):
    return REGION[wildcards.region].to_json()


def training_params(job: str, **more):
    """The params of a job that trains networks (``jobs/_torchjob.add_common``): the data
    folder, the training settings, device and threads; ``more``; the job's code version."""
    return {
        "data_dir": data_dir,
        "train": train_json,
        "device": DEVICE,
        "threads": RESOURCES.train_threads,
        **more,
        "code": code_version(job),
    }


def stage_params(job, *settings):
    """The params of a job that reads a stage (evidence, evidence_checks): the data folder, the
    training and region settings, ``settings`` of the evidence settings, the run's id, threads
    and the job's code version."""
    return {
        "data_dir": data_dir,
        "train": train_json,
        "region": region_json,
        "settings": EVIDENCE_SETTINGS.to_json(*settings),
        "run_id": stage_id,
        "threads": RESOURCES.train_threads,
        "code": code_version(job),
    }


#: Their command line's options for the stage (``jobs/evidence.stage_arguments``).
STAGE_OPTIONS = (
    " --data-dir {params.data_dir:q} --train-settings {params.train:q}"
    " --region-settings {params.region:q} --settings {params.settings:q}"
    " --model {input.model:q} --run-id {params.run_id:q} --iteration {wildcards.n}"
    " --threads {params.threads}"
)


def start_model(train, mag, method):
    """Iteration 0 of a method: magnitude pruning (region, magnitude), or random pruning."""
    base = f"{RUNS_DIR}/{train}/{mag}"
    return f"{base}/random/model.h5" if method == "random" else f"{base}/model.h5"


def method_dir(wildcards, method):
    """The folder of one method's iterations, below its train/magnitude/region settings."""
    return f"{RUNS_DIR}/{PRUNING.format(**wildcards)}/{method}"


def previous_of(wildcards, method):
    """The checkpoint iteration k of a method starts from."""
    k = int(wildcards.k)
    if k == 1:
        return start_model(wildcards.train, wildcards.mag, method)
    return f"{stage_path(method_dir(wildcards, method), k - 1)}/model.h5"


def previous_model(wildcards):
    """Iteration k's starting checkpoint for the rule's own method (region by default)."""
    method = getattr(wildcards, "method", None) or getattr(wildcards, "matched", "region")
    return previous_of(wildcards, method)


def matched_previous_models(wildcards):
    """The checkpoints both matched baselines start iteration k from, in MATCHED order."""
    return [previous_of(wildcards, m) for m in MATCHED]


def the_run(wildcards):
    path = f"{wildcards.train}/{wildcards.mag}/{wildcards.region}/{wildcards.method}"
    return RUN_BY_PATH[(path, int(wildcards.n))]


def run_stage_files(wildcards):
    """Everything one run's summary reads, stage by stage."""
    mdir = method_dir(wildcards, wildcards.method)
    its = range(1, int(wildcards.n) + 1)
    return {
        "checkpoints": [
            f"{RUNS_DIR}/{wildcards.train}/baseline/model.h5",
            start_model(wildcards.train, wildcards.mag, wildcards.method),
        ]
        + [f"{stage_path(mdir, k)}/model.h5" for k in its],
        "epochs": [f"{RUNS_DIR}/{wildcards.train}/baseline/epochs.parquet"]
        + [f"{stage_path(mdir, k)}/epochs.parquet" for k in its],
        "regions": (
            [f"{stage_path(mdir, k)}/regions_pruned.parquet" for k in its]
            if wildcards.method == "region"
            else []
        ),
    }


def stage_model(wildcards):
    """The checkpoint of iteration n of a method (0: its first pruning)."""
    if int(wildcards.n) == 0:
        return start_model(wildcards.train, wildcards.mag, wildcards.method)
    return f"{stage_path(method_dir(wildcards, wildcards.method), wildcards.n)}/model.h5"


def stage_id(wildcards):
    """The id of the run that ends at this iteration: what the evidence tables call it."""
    return STAGE.format(**wildcards)


def run_figure_inputs(wildcards):
    files = run_stage_files(wildcards)
    return {
        "baseline": files["checkpoints"][0],
        "magnitude": files["checkpoints"][1],
        "final": files["checkpoints"][-1],
        "iterations": f"{RUNS_DIR}/{the_run(wildcards).id}/summary/iterations.parquet",
    }


#: A run's figures, each written in every one of FIGURE_FORMATS (PNG, which the report shows,
#: and PDF).
FIGURES = (
    "w1_baseline",
    "w1_magnitude",
    "w1_final",
    "regions",
    "neuron",
    "pruning_ratios",
    "stages",
)
#: The report's name of each figure, numbered in the order to read them (the paper's number
#: where it has one); the report lists a category's entries in this order.
FIGURE_TITLES = {
    "summary": "summary tables",
    "w1_baseline": "1 · W1 after training (paper Fig. 1)",
    "w1_magnitude": "2 · W1 after magnitude pruning (paper Fig. 3)",
    "regions": "3 · regions after magnitude pruning (paper Fig. 4)",
    "neuron": "4 · one neuron, stage by stage (paper Fig. 5)",
    "w1_final": "5 · W1 after the last iteration",
    "pruning_ratios": "6 · pruning ratio per neuron",
    "stages": "7 · accuracy and density, stage by stage",
    "accuracy_density": "1 · accuracy against W1 density",
    "frontier": "2 · what readability costs",
    "ratio_histograms": "3 · pruning ratios per neuron",
    "pixel_usage": "4 · input pixels in use",
    "evidence_maps": "1 · class evidence maps",
    "neuron_gallery": "2 · neuron gallery",
    "deletion_curves": "3 · deletion test",
}
#: The report's categories, in the order a reader takes them.
CATEGORIES = {
    "summary": "1. Summary",
    "paper": "2. Paper figures per run",
    "grid": "3. Across the grid",
    "evidence": "4. Decision basis",
}


def label_of(wildcards, level, iteration=None):
    """The label of a job's run, as ``about`` words it in the job's message."""
    key = LEVEL_KEYS[level].format(wildcards=wildcards)
    return format(LABEL, f"{key}@{getattr(wildcards, iteration)}" if iteration else key)


def in_report(path, figure, category, level=None, iteration=None):
    """An output for Snakemake's report: its caption, category, title, and the label of its run
    (``level``, ``iteration`` as in ``about``) as the subcategory."""
    return report(
        path,
        caption=f"../report/{figure}.rst",
        category=CATEGORIES[category],
        subcategory=(lambda w: label_of(w, level, iteration)) if level else None,
        labels={"page" if category == "summary" else "figure": FIGURE_TITLES[figure]},
    )


def figure_outputs(folder, names, category, level=None, iteration=None):
    """A figure rule's outputs: each figure in every format, its PNG in the report."""
    first, *others = FIGURE_FORMATS
    out = {f: in_report(f"{folder}/{f}.{first}", f, category, level, iteration) for f in names}
    out.update({f"{f}_{x}": f"{folder}/{f}.{x}" for f in names for x in others})
    return out


GRID_FIGURES = ("accuracy_density", "frontier", "ratio_histograms", "pixel_usage")
RUN_TABLES = ("iterations", "epochs", "regions", "neurons", "pixels", "run")
SUMMARY_TABLES = ("runs", "iterations", "epochs", "neurons", "pixels")


#: The tables of a stage's decision basis (rule evidence) and of its checks (evidence_checks).
EVIDENCE_TABLES = ("region_importance", "deletion", "faithfulness")
CHECK_TABLES = ("sanity", "yardstick")
EVIDENCE_FIGURES = ("evidence_maps", "neuron_gallery", "deletion_curves")


def run_tables(table):
    return [f"{RUNS_DIR}/{r}/summary/{table}.parquet" for r in RUNS]


def evidence_stages(methods=None):
    """The iteration folders (below results/runs/) whose decision basis the config asks for;
    with ``methods``, only those of runs of these methods."""
    wanted = EVIDENCE_SETTINGS.iterations
    stages = []
    for run in RUNS.values():
        if run.method not in EVIDENCE_SETTINGS.per_run:
            continue
        if methods is not None and run.method not in methods:
            continue
        for it in wanted:
            k = run.iterations if it == "final" else it
            if k > run.iterations:
                raise WorkflowError(
                    f"evidence.iterations asks for iteration {k}, but run {run.id} has only"
                    f" {run.iterations}. Fix: list iterations up to {run.iterations}, or final."
                )
            stage = stage_path(run.path, k)
            if stage not in stages:
                stages.append(stage)
    return stages


def evidence_tables(table):
    return [f"{RUNS_DIR}/{s}/evidence/{table}.parquet" for s in evidence_stages()]


def all_targets():
    targets = [f"{SUMMARY}/{t}.parquet" for t in (*SUMMARY_TABLES, "faithfulness")]
    targets.append(f"{SUMMARY}/summary.md")
    targets += [f"{SUMMARY}/figures/{f}.{x}" for f in GRID_FIGURES for x in FIGURE_FORMATS]
    for run_id, run in RUNS.items():
        if run.method in FIGURE_SETTINGS.per_run:
            targets += [
                f"{RUNS_DIR}/{run_id}/figures/{f}.{x}" for f in FIGURES for x in FIGURE_FORMATS
            ]
    # a decision basis's figures are per-run figures: for the methods of figures.per_run
    for stage in evidence_stages(FIGURE_SETTINGS.per_run):
        targets += [
            f"{RUNS_DIR}/{stage}/evidence/{f}.{x}" for f in EVIDENCE_FIGURES for x in FIGURE_FORMATS
        ]
    return targets


def runnable(program: str, absolute: bool = False) -> str:
    """``program`` of the environment that runs this workflow, as a new shell in the working
    folder can run it (an inactive venv is not on its PATH): its path, relative where it lies
    below the working folder (``absolute``: in full); the bare name where the environment has
    no such program.
    """
    path = Path(sys.executable).parent / program
    if not path.exists() and program == "regionprune":  # the package is not installed
        return f"{runnable('python', absolute)} -m regionprune"
    if not path.exists():
        return program
    relative = os.path.relpath(path)
    return str(path) if absolute or relative.startswith("..") else relative


def data_identity(dataset: str) -> str:
    """What a data set's copy is, for the fetch rule's params: a built-in data set's content
    MD5s, so that another data.local_dir (or none) with the same files reruns nothing; a user's
    data set, its folder (its content is checked when it is imported)."""
    if is_builtin(dataset):
        return json.dumps(get_spec(dataset).md5, sort_keys=True)
    return str(DATA_SOURCE.folder(dataset))
