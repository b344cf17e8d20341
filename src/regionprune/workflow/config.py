"""The workflow's configuration: its sections, and the grids of runs it asks for.

Every key of ``config.yaml`` is a field of one settings class, declared once with its default,
meaning and allowed values (``declare.setting``): the run's levels in ``settings``, the other
sections here (where the data come from, how jobs run, the figures, the decision basis).
``SECTIONS`` says which class's fields make which section; ``derived`` writes the schema,
``config.yaml`` and ``docs/configuration.md`` from them. ``expand_grid`` and
``runs_from_config`` turn a config and its grid into runs.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from regionprune.workflow.declare import Settings, setting
from regionprune.workflow.settings import (
    DATASET_PATTERN,
    METHODS,
    MagnitudeSettings,
    RegionSettings,
    RunSettings,
    TrainSettings,
)


@dataclass(frozen=True)
class DataSource(Settings):
    """Where the data set's files come from (no result depends on it)."""

    prefix: ClassVar[str] = "data"

    local_dir: str | dict | None = setting(
        None,
        "folder holding the four IDX .gz files (or, for a grid over data sets, a folder per data"
        " set: {mnist: ..., fashion_mnist: ...}); null: download them from the official mirrors."
        " Offline: snakemake --config 'data={local_dir: ../shared/data/mnist}'. A data set of"
        " your own (any other data.dataset name) is read from here: the four IDX files at any"
        " H x W, or one .npz with x_train, y_train, x_test, y_test (docs/data.md)",
        oneOf=[
            {"type": "null"},
            {"type": "string"},
            {
                "type": "object",
                "propertyNames": {"pattern": DATASET_PATTERN},
                "additionalProperties": {"type": "string"},
            },
        ],
    )
    mirrors: list[str] = setting(
        [],
        "download mirrors (base URLs) to use instead of the data" " set's own; [] keeps those",
        items={"type": "string"},
    )
    timeout: float = setting(60.0, "seconds per download attempt", exclusiveMinimum=0)

    def folder(self, dataset: str, datasets: list[str] | None = None) -> str | None:
        """The folder to copy ``dataset`` from, or None to download it; ``datasets``: all the
        data sets the grid uses (one folder cannot hold two)."""
        if self.local_dir is None or isinstance(self.local_dir, dict):
            return (self.local_dir or {}).get(dataset)
        if datasets is not None and len(datasets) > 1:
            raise ValueError(
                f"data.local_dir is one folder ({self.local_dir}) but the grid uses the data sets"
                f" {datasets}. Fix: give a folder per data set, data.local_dir: {{mnist: ...,"
                " fashion_mnist: ...}"
            )
        return self.local_dir


@dataclass(frozen=True)
class Resources(Settings):
    """How jobs run (checkpoints record the device and threads: float sums differ by them)."""

    prefix: ClassVar[str] = ""

    device: str = setting(
        "auto",
        "torch device for training: auto (CUDA when present), cpu," " cuda, cuda:N",
        pattern="^(auto|cpu|cuda(:[0-9]+)?)$",
    )
    train_threads: int = setting(
        1,
        "CPU threads per training (and evidence) job. One: this"
        " network's products are too small for a second thread to pay,"
        " and two one-thread jobs at once train faster than one"
        " two-thread job (docs/benchmark.md). Another count changes"
        " weights by float rounding; a test bounds it",
        minimum=1,
    )
    gpus: int = setting(
        0, "GPUs each training job asks for on a cluster (SLURM --gpus); 0: none", minimum=0
    )
    cluster_jobs: str = setting(
        "per_training",
        "how jobs go to a cluster (ignored locally): per_training: one cluster job per training"
        " setting, running its baseline and every pruning, retraining and evidence job built on"
        " it (Snakemake job groups); per_step: a cluster job per training step, labelling and"
        " region pruning on the submitting node",
        enum=["per_training", "per_step"],
    )
    job_server: bool = setting(
        True,
        "run local jobs in forks of one warm process that has"
        " imported torch and read the data once (docs/benchmark.md);"
        " false: a new interpreter per job. Results are the same",
    )

    def job_device(self, gpu_here: Callable[[], bool] | None = None) -> str:
        """The device the jobs are told, as a rule parameter (a change reruns them).

        Jobs run here when ``gpus`` is 0: then ``auto`` without a GPU is ``cpu``, the device
        ``cpu`` names too, so switching between the two reruns nothing; and ``cuda`` without a
        GPU is refused before any job runs. With ``gpus`` > 0 the jobs' own nodes decide.
        """
        if self.gpus > 0 or self.device == "cpu":
            return self.device
        here = (gpu_here or cuda_here)()
        if self.device == "auto":
            return "auto" if here else "cpu"
        if not here:
            raise ValueError(
                f"device: {self.device} asked for, but this machine has no CUDA GPU and gpus: 0 "
                "runs every job here. Fix: --config device=auto (or cpu); on a cluster whose "
                "nodes have GPUs, also set gpus: 1"
            )
        return self.device


def cuda_here() -> bool:
    """Whether torch sees a CUDA device here (torch is imported only where a GPU driver is)."""
    if not any(Path(p).exists() for p in ("/dev/nvidiactl", "/dev/kfd", "/dev/dxg")):
        return False
    import torch

    return bool(torch.cuda.is_available())


#: Every figure is written in these formats: PNG (the report shows it) and PDF (for print).
FIGURE_FORMATS = ("png", "pdf")


@dataclass(frozen=True)
class FiguresSettings(Settings):
    """The paper's figures of each run."""

    prefix: ClassVar[str] = "figures"

    neuron: int | str = setting(
        "auto",
        "neuron drawn large (the paper's Fig. 5); auto: the one closest to 35% pruned",
        oneOf=[{"type": "string", "enum": ["auto"]}, {"type": "integer", "minimum": 0}],
    )
    per_run: list[str] = setting(
        ["region"],
        "methods whose runs get the per-run figures (any" " run's can be asked for by path)",
        items={"type": "string", "enum": list(METHODS)},
    )


@dataclass(frozen=True)
class EvidenceSettings(Settings):
    """The decision basis: for each region, its effect on every class when removed; class
    evidence maps, a neuron gallery, and the deletion test (docs/findings.md,
    "Reading the decision basis")."""

    prefix: ClassVar[str] = "evidence"

    per_run: list[str] = setting(
        ["region"],
        "methods whose runs get it (any run's can be asked" " for by path)",
        items={"type": "string", "enum": list(METHODS)},
    )
    iterations: list[int | str] = setting(
        ["final"],
        "which iterations: final, or numbers (0: the network right after the first" " pruning)",
        minItems=1,
        items={"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "enum": ["final"]}]},
    )
    budgets: list[float] = setting(
        [0.01, 0.02, 0.05, 0.1, 0.2],
        "deletion budgets, fractions of the surviving W1 weights",
        minItems=1,
        items={"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    )
    budget: float = setting(
        0.05,
        "the budget summary.md reports and judges at (one of the" " budgets)",
        exclusiveMinimum=0,
        maximum=1,
    )
    random_draws: int = setting(10, "random-region deletion orders (the control)", minimum=1)
    ig_steps: int = setting(32, "integration steps of integrated gradients", minimum=1)
    roar_epochs: int = setting(
        1,
        "remove-and-retrain: epochs of retraining (on the ranking"
        " images, as many as the test images) after deleting evidence.budget"
        " of each roar method's units; 0: skip it",
        minimum=0,
    )
    sanity_images: int = setting(
        500,
        "the sanity check (cascading randomisation of the"
        " layers): training images its maps are computed on; 0: skip it",
        minimum=0,
    )
    yardstick_images: int = setting(
        100,
        "Quantus's PixelFlipping, ROAD and MPRT on per-image"
        " maps of the regions, integrated gradients, occlusion and"
        " random maps: the first this many test images; 0: skip it",
        minimum=0,
    )
    top_regions: int = setting(3, "regions drawn per class in the evidence maps", minimum=1)
    gallery: int = setting(30, "hidden neurons in the neuron gallery", minimum=1)

    def check_budget(self) -> None:
        """The judged budget must be one of the budgets (checked on the whole section at the
        workflow's start; a job gets only the keys it reads)."""
        if self.budget not in self.budgets:
            raise ValueError(
                f"evidence.budget {self.budget} is not one of evidence.budgets {self.budgets}."
                " Fix: add it to the budgets, or pick one of them."
            )


#: The config's sections: the classes whose fields they hold (a field can name another
#: section than its class's prefix: the data set and its limits are training settings).
SECTIONS: dict[str, tuple[type[Settings], ...]] = {
    "data": (TrainSettings, DataSource),
    "train": (TrainSettings,),
    "magnitude": (MagnitudeSettings,),
    "region": (RegionSettings,),
    "figures": (FiguresSettings,),
    "evidence": (EvidenceSettings,),
}
#: Classes whose fields are top-level keys.
TOP_LEVEL: tuple[type, ...] = (RunSettings, Resources)
#: Sections a grid can vary (the settings that make a run).
GRID_SECTIONS = ("data", "train", "magnitude", "region")


def _documented(cls: type) -> list[Any]:
    """A class's fields that are settings (they carry a doc), in order."""
    return [f for f in fields(cls) if "doc" in f.metadata]  # type: ignore[arg-type]


#: The order of the config's keys ("grid" is the grid of runs): the run's sections and its
#: top-level settings, the grid, how jobs run, then what is made of each run. A new setting of
#: a class takes its place from the class.
ORDER = (
    *GRID_SECTIONS,
    *(f.name for f in _documented(RunSettings)),
    "grid",
    *(f.name for f in _documented(Resources)),
    "figures",
    "evidence",
)
GRID_DOC = (
    "lists of values for any setting above, in the same shape; every combination is a run, e.g."
    " {train: {seed: [0, 1, 2]}, region: {rate: [0.2, 0.4]}, method: [region, magnitude,"
    " random]}. A section may also be a list of partial sections, one run each, merged over the"
    " base section: {region: [{}, {rate: 0, score: sum_abs, cut: 0.1, max_regions: 2}]}. A"
    " baseline is trained once per distinct training setting, whatever the pruning settings"
)


def section_fields(section: str) -> list[Any]:
    """The fields of a config section, in their classes' order."""
    return [
        f
        for cls in SECTIONS[section]
        for f in fields(cls)  # type: ignore[arg-type]
        if (f.metadata["section"] or cls.prefix) == section
    ]


def top_level_fields() -> dict[str, Any]:
    return {f.name: f for cls in TOP_LEVEL for f in _documented(cls)}


def expand_grid(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One full config per combination of the lists in ``config["grid"]`` (Cartesian product).

    The grid mirrors the config's shape: ``{"train": {"seed": [0, 1]}, "method": [...]}``. Every
    combination is the base config with those values put in. A section may instead be a list of
    partial sections, each one alternative merged over the base section, so that settings that
    belong together vary together: ``{"region": [{}, {"rate": 0, "cut": 0.1}]}`` is the base
    region setting, then that setting with the two keys changed. An empty grid gives the base
    config.
    """
    grid = config.get("grid") or {}
    # (keys, values, merge): merge means each value is a partial section merged over the base
    axes: list[tuple[tuple[str, ...], list[Any], bool]] = []
    for key, value in grid.items():
        if isinstance(value, dict):
            axes.extend(((key, sub), list(v), False) for sub, v in value.items())
        else:
            merge = bool(value) and all(isinstance(v, dict) for v in value)
            axes.append(((key,), list(value), merge))
    combos: list[dict[str, Any]] = []
    for values in itertools.product(*(vals for _, vals, _ in axes)):
        cfg = copy.deepcopy({k: v for k, v in config.items() if k != "grid"})
        for (keys, _, merge), value in zip(axes, values):
            target = cfg
            for k in keys[:-1]:
                target = target.setdefault(k, {})
            if merge:
                target[keys[-1]] = {**target.get(keys[-1], {}), **copy.deepcopy(value)}
            else:
                target[keys[-1]] = value
        combos.append(cfg)
    return combos


def runs_from_config(config: dict[str, Any]) -> dict[str, RunSettings]:
    """Every run the config (and its grid) asks for, by id, in grid order, without repeats."""
    runs: dict[str, RunSettings] = {}
    for cfg in expand_grid(config):
        run = RunSettings.from_config(cfg)
        runs.setdefault(run.id, run)
    return runs


def coerce_cli_strings(value: Any) -> Any:
    """Numbers, booleans and null written as strings, turned into what they say.

    Snakemake parses ``--config key=1`` into an int, but leaves nested values such as
    ``--config 'region={rate: 0.3}'`` as strings, which the schema would then reject.
    """
    if isinstance(value, dict):
        return {k: coerce_cli_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_cli_strings(v) for v in value]
    if not isinstance(value, str):
        return value
    words = {"true": True, "false": False, "null": None, "~": None}
    if value.lower() in words:
        return words[value.lower()]
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
