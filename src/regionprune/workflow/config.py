"""The workflow's configuration: its sections, the config model, and the grids of runs.

Every key of ``config.yaml`` is a field of one settings class (a pydantic model, ``settings``):
the run's levels in ``settings``, the other sections here (where the data come from, how jobs
run, the figures, the decision basis). ``Config`` is the whole config, built from those classes;
``start`` checks a config with it once, when the workflow starts, every combination of its grid
too, and says what is wrong in one message (``problems``: the key, the value, what is allowed).
``derived`` writes the schema, ``config.yaml`` and ``docs/configuration.md`` from ``Config``.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, create_model, model_validator

from regionprune.workflow.settings import (
    DATASET_PATTERN,
    MagnitudeSettings,
    Method,
    RegionSettings,
    RunSettings,
    Settings,
    TrainSettings,
)


class DataSource(Settings):
    """Where the data set's files come from (no result depends on it)."""

    prefix: ClassVar[str] = "data"

    local_dir: str | dict[Annotated[str, Field(pattern=DATASET_PATTERN)], str] | None = Field(
        None,
        description="folder holding the four IDX .gz files (or, for a grid over data sets, a"
        " folder per data set: {mnist: ..., fashion_mnist: ...}); null: download them from the"
        " official mirrors. Offline: snakemake --config 'data={local_dir: ../shared/data/mnist}'."
        " A data set of your own (any other data.dataset name) is read from here: the four IDX"
        " files at any H x W, or one .npz with x_train, y_train, x_test, y_test (docs/data.md)",
    )
    mirrors: list[str] = Field(
        [],
        description="download mirrors (base URLs) to use instead of the data set's own; [] keeps"
        " those",
    )
    timeout: float = Field(60.0, description="seconds per download attempt", gt=0)

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


class Resources(Settings):
    """How jobs run (checkpoints record the device and threads: float sums differ by them)."""

    prefix: ClassVar[str] = ""

    device: str = Field(
        "auto",
        description="torch device for training: auto (CUDA when present), cpu, cuda, cuda:N",
        pattern="^(auto|cpu|cuda(:[0-9]+)?)$",
    )
    train_threads: int = Field(
        1,
        description="CPU threads per training (and evidence) job. One: this network's products"
        " are too small for a second thread to pay, and two one-thread jobs at once train faster"
        " than one two-thread job (docs/benchmark.md). Another count changes weights by float"
        " rounding; a test bounds it",
        ge=1,
    )
    gpus: int = Field(
        0, description="GPUs each training job asks for on a cluster (SLURM --gpus); 0: none", ge=0
    )
    cluster_jobs: Literal["per_training", "per_step"] = Field(
        "per_training",
        description="how jobs go to a cluster (ignored locally): per_training: one cluster job per training"
        " setting, running its baseline and every pruning, retraining and evidence job built on"
        " it (Snakemake job groups); per_step: a cluster job per training step, labelling and"
        " region pruning on the submitting node",
    )
    job_server: bool = Field(
        True,
        description="run local jobs in forks of one warm process that has imported torch and"
        " read the data once (docs/benchmark.md), and so the jobs of a cluster job group on their"
        " node (docs/cluster.md); false: a new interpreter per job. Results are the same",
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


class FiguresSettings(Settings):
    """The paper's figures of each run."""

    prefix: ClassVar[str] = "figures"

    neuron: Literal["auto"] | Annotated[int, Field(ge=0)] = Field(
        "auto",
        description="neuron drawn large (the paper's Fig. 5); auto: the one closest to 35% pruned",
    )
    per_run: list[Method] = Field(
        ["region"],
        description="methods whose runs get the per-run figures, their decision basis's too"
        " (any run's can be asked for by path)",
    )


class EvidenceSettings(Settings):
    """The decision basis: for each region, its effect on every class when removed; class
    evidence maps, a neuron gallery, and the deletion test (docs/findings.md,
    "Reading the decision basis")."""

    prefix: ClassVar[str] = "evidence"

    per_run: list[Method] = Field(
        ["region"], description="methods whose runs get it (any run's can be asked for by path)"
    )
    iterations: list[Annotated[int, Field(ge=0)] | Literal["final"]] = Field(
        ["final"],
        description="which iterations: final, or numbers (0: the network right after the first"
        " pruning)",
        min_length=1,
    )
    budgets: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        [0.01, 0.02, 0.05, 0.1, 0.2],
        description="deletion budgets, fractions of the surviving W1 weights",
        min_length=1,
    )
    budget: float = Field(
        0.05,
        description="the budget summary.md reports and judges at (one of the budgets)",
        gt=0,
        le=1,
    )
    random_draws: int = Field(10, description="random-region deletion orders (the control)", ge=1)
    ig_steps: int = Field(32, description="integration steps of integrated gradients", ge=1)
    roar_epochs: int = Field(
        1,
        description="remove-and-retrain: epochs of retraining (on the ranking images, as many as"
        " the test images) after deleting evidence.budget of each roar method's units; 0: skip"
        " it",
        ge=0,
    )
    sanity_images: int = Field(
        500,
        description="the sanity check (cascading randomisation of the layers): training images"
        " its maps are computed on; 0: skip it",
        ge=0,
    )
    yardstick_images: int = Field(
        100,
        description="Quantus's PixelFlipping, ROAD and MPRT on per-image maps of the regions,"
        " integrated gradients, occlusion and random maps: the first this many test images; 0:"
        " skip it",
        ge=0,
    )
    top_regions: int = Field(3, description="regions drawn per class in the evidence maps", ge=1)
    gallery: int = Field(30, description="hidden neurons in the neuron gallery", ge=1)

    def check_budget(self) -> None:
        """The judged budget must be one of the budgets (checked on the whole section at the
        workflow's start; a job gets only the keys it reads)."""
        if self.budget not in self.budgets:
            raise ValueError(
                f"evidence.budget {self.budget} is not one of evidence.budgets {self.budgets}."
                " Fix: add it to the budgets, or pick one of them."
            )


#: The ``data`` section holds two classes' fields: the data set (a training setting) and
#: where its files come from.
DATA_DOC = "The data set: which one, where its files come from, how much of it."
GRID_DOC = (
    "lists of values for any setting above, in the same shape; every combination is a run, e.g."
    " {train: {seed: [0, 1, 2]}, region: {rate: [0.2, 0.4]}, method: [region, magnitude,"
    " random]}. A section may also be a list of partial sections, one run each, merged over the"
    " base section: {region: [{}, {rate: 0, score: sum_abs, cut: 0.1, max_regions: 2}]}. A"
    " baseline is trained once per distinct training setting, whatever the pruning settings"
)


def doc(cls: type) -> str:
    """One line on a settings class: its docstring's first paragraph."""
    text = (cls.__doc__ or "").split("\n\n")[0]
    return " ".join(text.replace("``", "`").split())


def _fields(cls: type[Settings], names: Any) -> dict[str, Any]:
    """Some of a class's fields, as ``create_model`` takes them (type, Field)."""
    return {n: (cls.model_fields[n].annotation, cls.model_fields[n]) for n in names}


TRAIN_KEYS = tuple(n for n in TrainSettings.model_fields if n not in TrainSettings.IN_DATA)
#: The config's ``data`` and ``train`` sections: TrainSettings split in two, with DataSource.
DataSection = create_model(
    "DataSection",
    __base__=Settings,
    __doc__=DATA_DOC,
    **_fields(TrainSettings, TrainSettings.IN_DATA),
    **_fields(DataSource, DataSource.model_fields),
)
TrainSection = create_model(
    "TrainSection",
    __base__=Settings,
    __doc__=TrainSettings.__doc__,
    **_fields(TrainSettings, TRAIN_KEYS),
)

#: A setting's values in a grid, and a section's grid: values per key, or partial sections.
GridValues = Annotated[list[Any], Field(min_length=1)]
GridSection = dict[str, GridValues] | Annotated[list[dict[str, Any]], Field(min_length=1)]


class Grid(Settings):
    """Lists of values for settings of a run (``GRID_DOC``); the combinations are checked as
    whole configs (``runs_from_config``)."""

    data: GridSection | None = None
    train: GridSection | None = None
    magnitude: GridSection | None = None
    region: GridSection | None = None
    iterations: GridValues | None = None
    method: GridValues | None = None


#: The config's sections (the top-level keys that hold settings of their own), by model.
SECTIONS: dict[str, type[Settings]] = {
    "data": DataSection,
    "train": TrainSection,
    "magnitude": MagnitudeSettings,
    "region": RegionSettings,
    "figures": FiguresSettings,
    "evidence": EvidenceSettings,
}
#: Sections a grid can vary (the settings that make a run).
GRID_SECTIONS = ("data", "train", "magnitude", "region")


def _section(name: str) -> tuple[type[Settings], Any]:
    model = SECTIONS[name]
    return (model, Field(default_factory=model, description=doc(model)))


class _Whole(Settings):
    """What the whole config adds to its fields (``Config``)."""

    @model_validator(mode="after")
    def _budget_is_a_budget(self) -> _Whole:
        self.evidence.check_budget()  # type: ignore[attr-defined]
        return self

    def run(self) -> RunSettings:
        """The run these settings make (the grid aside). The parts were checked as the config
        was, with the same fields: they are put together, not checked again."""
        data, train = self.data, self.train  # type: ignore[attr-defined]
        values = {k: getattr(data, k) for k in TrainSettings.IN_DATA}
        values.update({k: getattr(train, k) for k in TRAIN_KEYS})
        return RunSettings.model_construct(
            train=TrainSettings.model_construct(**values),
            magnitude=self.magnitude,  # type: ignore[attr-defined]
            region=self.region,  # type: ignore[attr-defined]
            **{k: getattr(self, k) for k in RunSettings.TOP_LEVEL},
        )

    def part(self, cls: type[Settings]) -> Any:
        """A class's settings from where they lie in the config: its section, or the top level
        (a class without a prefix)."""
        where = getattr(self, cls.prefix) if cls.prefix else self
        return cls.model_construct(**{k: getattr(where, k) for k in cls.model_fields})

    def filled(self) -> dict[str, Any]:
        """The config as a dictionary, every key present (defaults filled in)."""
        out = self.model_dump()
        out["grid"] = self.grid.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        return out


#: The whole config: its keys in config.yaml's order, the run's sections and its top-level
#: settings, the grid, how jobs run, then what is made of each run. A new setting of a class
#: takes its place from the class.
Config = create_model(
    "Config",
    __base__=_Whole,
    __doc__="configuration of the region-pruning workflow (config.yaml)",
    **{name: _section(name) for name in GRID_SECTIONS},
    **_fields(RunSettings, RunSettings.TOP_LEVEL),
    grid=(Grid, Field(default_factory=Grid, description=GRID_DOC)),
    **_fields(Resources, Resources.model_fields),
    figures=_section("figures"),
    evidence=_section("evidence"),
)


@cache
def schema() -> dict[str, Any]:
    """The config's JSON schema, each section written out in place (no ``$ref``), without
    pydantic's titles: what ``workflow/schemas/config.schema.yaml`` holds."""
    raw = Config.model_json_schema()
    defs = raw.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(v) for v in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:  # the field's own description and default win over the model's
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            return inline({**target, **{k: v for k, v in node.items() if k != "$ref"}})
        return {k: inline(v) for k, v in node.items() if k != "title"}

    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **inline(raw)}


def node(path: list[str]) -> dict[str, Any]:
    """The schema of the setting at ``path`` (``["region", "cut"]``)."""
    out = schema()
    for key in path:
        out = out["properties"][key]
    return out


def rules_text(node: dict[str, Any]) -> str:
    """A schema node's bounds and choices in a few words: ``>= 0, < 1``, ```a` or `b```."""
    if "anyOf" in node:
        return " or ".join(filter(None, (rules_text(alt) for alt in node["anyOf"])))
    words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    parts = [f"{w} {node[k]}" for k, w in words.items() if k in node]
    choices = node.get("enum", [node["const"]] if "const" in node else [])
    if choices:
        parts.append(" or ".join(f"`{v}`" for v in choices))
    return ", ".join(parts)


def allowed(node: dict[str, Any]) -> str:
    """What a schema node allows, in words (its type, bounds, choices, pattern, items)."""
    if "anyOf" in node:
        return " or ".join(allowed(alt) for alt in node["anyOf"])
    kind = node.get("type", "value")
    if "const" in node or "enum" in node:
        return rules_text(node)
    parts = [kind]
    if rules := rules_text(node):
        parts.append(rules)
    if "pattern" in node:
        parts.append(f"matching {node['pattern']}")
    if node.get("minItems"):
        parts.append(f"at least {node['minItems']} item(s)")
    text = ", ".join(parts)
    if kind == "array" and node.get("items"):
        text += f" of ({allowed(node['items'])})"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        text += f" of ({allowed(node['additionalProperties'])})"
    return text


def _locate(loc: tuple[Any, ...]) -> tuple[list[str], type | None]:
    """The key path of the setting a pydantic error is about, and the model whose key the
    next part of ``loc`` would be (the rest are list items and the branches of a union)."""
    model: type | None = Config
    path: list[str] = []
    for part in loc:
        if model is None or part not in model.model_fields:  # type: ignore[attr-defined]
            break
        path.append(part)
        kind = model.model_fields[part].annotation  # type: ignore[attr-defined]
        model = kind if isinstance(kind, type) and issubclass(kind, Settings) else None
    return path, model


def _value(config: dict[str, Any], path: list[str]) -> Any:
    for key in path:
        config = config[key]
    return config


def problems(error: ValidationError, config: dict[str, Any]) -> list[str]:
    """Every way ``config`` broke the config model, one line each: the key, the value, what is
    allowed, and for an unknown key the nearest known one (a mistyped key is the common case)."""
    lines: list[str] = []
    bad: dict[tuple[str, ...], list[str]] = {}
    for e in error.errors():
        path, model = _locate(e["loc"])
        where = ".".join(path)
        if e["type"] == "extra_forbidden":
            key = str(e["loc"][len(path)])
            known = list(model.model_fields) if model else []  # type: ignore[attr-defined]
            near = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean {'.'.join([*path, near[0]])}?" if near else ""
            lines.append(
                f"{'.'.join([*path, key])}: unknown key.{hint} The keys of"
                f" {where or 'the config'} are: {', '.join(known)}."
            )
        elif e["type"] == "value_error" and model is not None:  # a check across settings
            lines.append(str(e["ctx"]["error"]))
        else:
            bad.setdefault(tuple(path), []).append(e["msg"])
    for path, messages in bad.items():
        said = "; ".join(dict.fromkeys(messages))
        lines.append(
            f"{'.'.join(path)}: {json.dumps(_value(config, list(path)))} is not allowed ({said})."
            f" Allowed: {allowed(node(list(path)))}."
        )
    return sorted(lines)


def config_error(lines: list[str], where: str = "the config") -> str:
    """The message that refuses a config: its problems, and where the settings are described."""
    return (
        f"{where} is not valid:\n  "
        + "\n  ".join(lines)
        + "\nEvery setting, its default and allowed values: docs/configuration.md"
    )


def checked(config: dict[str, Any], where: str = "the config") -> Any:
    """``config`` as a ``Config``, defaults filled in; ``ValueError`` with the one message that
    refuses it."""
    try:
        return Config.model_validate(config)
    except ValidationError as err:
        raise ValueError(config_error(problems(err, config), where)) from None


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
    """Every run the config (and its grid) asks for, by id, in grid order, without repeats;
    each combination of the grid checked as a whole config."""
    where = "a combination of the grid" if config.get("grid") else "the config"
    runs: dict[str, RunSettings] = {}
    for combination in expand_grid(config):
        run = checked(combination, where).run()
        runs.setdefault(run.id, run)
    return runs


@dataclass(frozen=True)
class Start:
    """What the workflow builds from its config at start (``start``)."""

    config: dict[str, Any]  # every key present, defaults filled in
    runs: dict[str, RunSettings]
    data_source: DataSource
    figures: FiguresSettings
    evidence: EvidenceSettings
    resources: Resources
    device: str

    @property
    def train(self) -> dict[str, TrainSettings]:
        """The training settings by folder name (a rule's ``{train}`` wildcard)."""
        return {r.train.name: r.train for r in self.runs.values()}

    @property
    def magnitude(self) -> dict[str, MagnitudeSettings]:
        return {r.magnitude.name: r.magnitude for r in self.runs.values()}

    @property
    def region(self) -> dict[str, RegionSettings]:
        return {r.region.name: r.region for r in self.runs.values()}


def start(config: dict[str, Any]) -> Start:
    """The workflow's runs and settings from ``config``, checked once: the config, then every
    combination of its grid. ``ValueError`` with the one message that refuses the config."""
    whole = checked(config)
    if config.get("grid"):
        runs = runs_from_config(config)
    else:  # the config is the one run's
        run = whole.run()
        runs = {run.id: run}
    resources = whole.part(Resources)
    device = resources.job_device()  # it decides the jobs' floats: a change reruns them
    return Start(
        whole.filled(),
        runs,
        whole.part(DataSource),
        whole.figures,
        whole.evidence,
        resources,
        device,
    )


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
