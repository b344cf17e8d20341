"""Typed settings of a run, and the folder names that say them.

A run is three nested levels, each one a folder named after its own settings, so that a change
at one level recomputes that level and what follows, never what comes before (open_lth's idea):

    results/runs/<train>/<magnitude>/<region>/<method>/iter<k>/

``TrainSettings`` fix the baseline network, ``MagnitudeSettings`` the one-off magnitude pruning of
W1, ``RegionSettings`` the repeated label -> score -> prune -> retrain step. ``method`` is the
paper's region pruning (``region``) or a baseline that follows the region run's W1 density at
every iteration with the same retraining: Han et al.'s iterative ``magnitude`` pruning, or
``random`` pruning. The number of iterations is deliberately *not* part of any folder name:
raising it reuses what exists.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

#: The paper's network, 784 - 100 - 50 - 10 fully connected (section 4.1).
LAYER_SIZES = (784, 100, 50, 10)
#: The weight every pruning step works on: input layer -> hidden layer 1.
W1 = "fc1.weight"

ACTIVATIONS = ("sigmoid", "relu", "tanh")
DATASETS = ("mnist", "fashion_mnist")
METHODS = ("region", "magnitude", "random")
#: Region scores the pruning step can rank by; ``mean_abs`` is the paper's.
SCORES = ("mean_abs", "sum_abs", "max_abs", "size")
#: ``global``: rank all regions of all neurons together (the paper); ``per_neuron``: every
#: neuron loses the given fraction of its own regions.
SCOPES = ("global", "per_neuron")
INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")
CONNECTIVITIES = (4, 8)
#: How single weights are ranked (first pruning, matched baselines): by |w| (Han et al.), or at
#: random (a control).
CRITERIA = ("magnitude", "random")

S = TypeVar("S", bound="_Settings")


def stream_seed(seed: int, stream: int) -> int:
    """An independent seed per use of a run's seed: 0 baseline data order, k iteration k's,
    and ``RANDOM_STREAM + k`` the random method's pruning at iteration k."""
    import numpy as np

    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0] >> 1)


RANDOM_STREAM = 1_000_000
#: ``EVIDENCE_STREAM + k``: the random-region control of the deletion test at iteration k.
EVIDENCE_STREAM = 2_000_000


def _num(x: float) -> str:
    """Shortest faithful text of a number for a folder name: 0.5 -> '0.5', 1e-05 -> '1e-05'."""
    return format(x, "g")


class _Settings:
    """Shared JSON round trip; subclasses are frozen dataclasses."""

    prefix: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any]) -> S:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"{cls.__name__}: unknown setting(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        return cls(**d)

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        return cls.from_dict(json.loads(text))

    def row(self) -> dict[str, Any]:
        """Flat columns for the summary tables, prefixed by level (``train_seed``...)."""
        return {f"{self.prefix}_{k}": v for k, v in self.to_dict().items()}


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {rate}")


def _check_positive(name: str, value: int | float) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")


@dataclass(frozen=True)
class TrainSettings(_Settings):
    """Everything that decides the baseline network (and the data every later stage is scored on)."""

    prefix: ClassVar[str] = "train"

    dataset: str = "mnist"
    activation: str = "sigmoid"
    init: str = "default"
    epochs: int = 15
    batch_size: int = 100
    lr: float = 0.1
    seed: int = 0
    #: L2 penalty of SGD (Han et al. train with one); also used by every retraining. Pixels that
    #: are zero in every training image get no gradient, so only this moves their weights.
    weight_decay: float = 0.0
    train_limit: int | None = None  # first N training images only (tests, quick looks)
    test_limit: int | None = None  # first N test images only

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        _check_positive("epochs", self.epochs)
        _check_positive("batch_size", self.batch_size)
        _check_positive("lr", self.lr)
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None:
                _check_positive(name, value)

    @property
    def name(self) -> str:
        parts = [
            self.dataset,
            self.activation,
            self.init,
            f"e{self.epochs}",
            f"b{self.batch_size}",
            f"lr{_num(self.lr)}",
            f"s{self.seed}",
        ]
        if self.weight_decay:  # only when set, so that earlier folders keep their names
            parts.append(f"wd{_num(self.weight_decay)}")
        if self.train_limit is not None or self.test_limit is not None:
            parts.append(f"n{self.train_limit or 'all'}-{self.test_limit or 'all'}")
        return "_".join(parts)


@dataclass(frozen=True)
class MagnitudeSettings(_Settings):
    """Step 1 of the paper: remove ``rate`` of all W1 weights with the smallest |w|."""

    prefix: ClassVar[str] = "magnitude"

    rate: float = 0.5
    #: Remove the weights of input pixels that are zero in every training image first (they
    #: count towards ``rate``, so the density is the same either way).
    drop_inactive: bool = False

    def __post_init__(self) -> None:
        _check_rate("magnitude rate", self.rate)

    @property
    def name(self) -> str:
        return f"mag{_num(self.rate)}" + ("_dropinactive" if self.drop_inactive else "")


@dataclass(frozen=True)
class RegionSettings(_Settings):
    """Steps 2-5 of the paper, one iteration: label, score, prune ``rate`` of all regions, retrain.

    The carving settings (``pixel_cut``, ``cut``, ``cut_scope``, ``min_size``, ``max_regions``)
    go beyond the paper; their defaults switch them off, which is the paper's method. The order
    of the steps within an iteration is ``carving``'s.
    """

    prefix: ClassVar[str] = "region"

    rate: float = 0.4
    connectivity: int = 8
    score: str = "mean_abs"
    scope: str = "global"
    retrain_epochs: int = 1
    retrain_lr: float = 0.1
    retrain_batch_size: int = 100
    #: Before labelling: remove this fraction of the input pixels still in use, all of a
    #: pixel's surviving weights at once, the pixels whose weights have the smallest L2 norm.
    pixel_cut: float = 0.0
    #: Before labelling: remove this fraction of the surviving W1 weights with the smallest
    #: |w|, so that a neuron's blob falls apart into its strong cores.
    cut: float = 0.0
    #: ``per_neuron``: every neuron loses ``cut`` of its own weights (none dies of it);
    #: ``global``: all weights of all neurons ranked together.
    cut_scope: str = "per_neuron"
    #: After labelling: regions of fewer pixels are removed.
    min_size: int = 1
    #: Last: every neuron keeps at most this many regions, its highest by ``score``.
    max_regions: int | None = None

    def __post_init__(self) -> None:
        _check_rate("region rate", self.rate)
        if self.connectivity not in CONNECTIVITIES:
            raise ValueError(f"connectivity must be 4 or 8, got {self.connectivity}")
        if self.score not in SCORES:
            raise ValueError(f"region score must be one of {SCORES}, got {self.score!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"region scope must be one of {SCOPES}, got {self.scope!r}")
        if self.retrain_epochs < 0:
            raise ValueError(f"retrain_epochs must be >= 0, got {self.retrain_epochs}")
        _check_positive("retrain_lr", self.retrain_lr)
        _check_positive("retrain_batch_size", self.retrain_batch_size)
        for name in ("pixel_cut", "cut"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"region {name} must lie in [0, 1), got {getattr(self, name)}")
        if self.cut_scope not in SCOPES:
            raise ValueError(f"region cut_scope must be one of {SCOPES}, got {self.cut_scope!r}")
        if self.min_size < 1:
            raise ValueError(f"region min_size must be >= 1 pixel, got {self.min_size}")
        if self.max_regions is not None and self.max_regions < 1:
            raise ValueError(f"region max_regions must be >= 1 or null, got {self.max_regions}")

    def carving(self) -> list[str]:
        """Short names of the carving steps this setting turns on, in the order they run."""
        steps = []
        if self.pixel_cut:
            steps.append(f"px{_num(self.pixel_cut)}")
        if self.cut:
            steps.append(f"cut{_num(self.cut)}" + ("g" if self.cut_scope == "global" else ""))
        if self.min_size > 1:
            steps.append(f"min{self.min_size}")
        if self.max_regions is not None:
            steps.append(f"cap{self.max_regions}")
        return steps

    @property
    def variant(self) -> str:
        """``paper`` for the paper's region pruning, otherwise the carving's name
        (``cut0.1_cap2``: a 10% magnitude cut per neuron, at most 2 regions per neuron)."""
        return "_".join(self.carving()) or "paper"

    @property
    def name(self) -> str:
        # carving steps only when on, so that the paper's folders keep their names
        return "_".join(
            [
                f"reg{_num(self.rate)}_c{self.connectivity}_{self.score}_{self.scope}"
                f"_re{self.retrain_epochs}"
                f"_lr{_num(self.retrain_lr)}_b{self.retrain_batch_size}",
                *self.carving(),
            ]
        )

    def row(self) -> dict[str, Any]:
        return {**super().row(), "region_variant": self.variant}


@dataclass(frozen=True)
class RunSettings:
    """One run: a path through the three levels, and how many region iterations to take."""

    train: TrainSettings
    magnitude: MagnitudeSettings
    region: RegionSettings
    iterations: int = 8
    method: str = "region"

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")

    @property
    def path(self) -> str:
        """The folder below ``results/runs/`` that holds the run's iterations."""
        return f"{self.train.name}/{self.magnitude.name}/{self.region.name}/{self.method}"

    @property
    def id(self) -> str:
        """The run's id in every table: its path and its last iteration, whose folder holds the
        run's own summary and figures (runs that differ only in ``iterations`` share the rest)."""
        return f"{self.path}/iter{self.iterations}"

    def row(self) -> dict[str, Any]:
        return {
            "run": self.id,
            **self.train.row(),
            **self.magnitude.row(),
            **self.region.row(),
            "iterations": self.iterations,
            "method": self.method,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RunSettings:
        """Build from the workflow's (schema-validated) config dictionary."""
        data = config["data"]
        return cls(
            train=TrainSettings.from_dict(
                {
                    "dataset": data["dataset"],
                    "train_limit": data.get("train_limit"),
                    "test_limit": data.get("test_limit"),
                    **config["train"],
                }
            ),
            magnitude=MagnitudeSettings.from_dict(config["magnitude"]),
            region=RegionSettings.from_dict(config["region"]),
            iterations=config["iterations"],
            method=config.get("method", "region"),
        )


def setting_columns() -> list[str]:
    """The columns of a run's settings in every table (``RunSettings.row`` less ``run``):
    derived from the settings classes, so that a measure whose name starts like a setting's
    (``region_px_median``) is never taken for one."""
    columns = [
        f"{cls.prefix}_{f.name}"
        for cls in (TrainSettings, MagnitudeSettings, RegionSettings)
        for f in fields(cls)  # type: ignore[arg-type]
    ]
    return [*columns, "region_variant", "iterations", "method"]


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
        cfg = json.loads(json.dumps({k: v for k, v in config.items() if k != "grid"}))
        for (keys, _, merge), value in zip(axes, values):
            target = cfg
            for k in keys[:-1]:
                target = target.setdefault(k, {})
            if merge:
                target[keys[-1]] = {**target.get(keys[-1], {}), **json.loads(json.dumps(value))}
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
