"""Typed settings of a run, each defined once: default, meaning, range, and the folder names.

A run is three nested levels, each one a folder named after its own settings, so that a change
at one level recomputes that level and what follows, never what comes before (open_lth's idea):

    results/runs/<train>/<magnitude>/<region>/<method>/iter<k>/

``TrainSettings`` fix the baseline network, ``MagnitudeSettings`` the one-off magnitude pruning of
W1, ``RegionSettings`` the repeated label -> score -> prune -> retrain step. ``method`` is the
paper's region pruning (``region``) or a baseline that follows the region run's W1 density at
every iteration with the same retraining: Han et al.'s iterative ``magnitude`` pruning, or
``random`` pruning. The number of iterations is deliberately *not* part of any folder name:
raising it reuses what exists.

Every field is declared with ``setting(default, doc, **rules)``: the JSON-schema ``rules`` are
the only statement of what a value may be. ``config`` generates the workflow's schema,
``config.yaml`` and the configuration docs from these fields, and every settings object checks
itself against the same rules when it is made (in the workflow and in every job).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from regionprune.core import network, scores
from regionprune.core.choices import CONNECTIVITIES, SCOPES
from regionprune.workflow.declare import Settings, check, field_schema, setting

#: The paper's hidden layers, 784 - 100 - 50 - 10 fully connected (section 4.1): the inputs and
#: the classes come from the data set, the hidden widths from ``train.hidden``.
PAPER_HIDDEN = (100, 50)

ACTIVATIONS = tuple(network.ACTIVATIONS)
INITS = network.INITS
#: The data sets ``data.SPECS`` knows (named here so that settings import no data code); any other
#: name is a user's data set, read from ``data.local_dir``.
DATASET_NAMES = ("mnist", "fashion_mnist")
#: A data set's name: it becomes a folder name.
DATASET_PATTERN = "^[a-z][a-z0-9_]*$"
METHODS = ("region", "magnitude", "random")
#: Region scores the pruning step can rank by (``scores.SCORES``); ``mean_abs`` is the paper's.
SCORES = tuple(scores.SCORES)


def _num(x: float) -> str:
    """Shortest faithful text of a number for a folder name: 0.5 -> '0.5', 1e-05 -> '1e-05'."""
    return format(x, "g")


@dataclass(frozen=True)
class TrainSettings(Settings):
    """The baseline network and its training (and the data every later stage is scored on)."""

    prefix: ClassVar[str] = "train"

    dataset: str = setting(
        "mnist",
        "data set: mnist, fashion_mnist, or a name of your own for grey images in"
        " data.local_dir (IDX files or one .npz; docs/data.md)",
        pattern=DATASET_PATTERN,
        section="data",
    )
    activation: str = setting(
        "sigmoid",
        "choice: sigmoid reproduces the paper's ~94.5% (relu: ~98%)",
        enum=list(ACTIVATIONS),
    )
    hidden: list[int] = setting(
        list(PAPER_HIDDEN),
        "widths of the hidden layers, input side first (the paper: [100, 50]); W1, the layer"
        " region pruning works on, is always the first. Inputs and classes come from the data",
        minItems=1,
        items={"type": "integer", "minimum": 1},
    )
    init: str = setting("default", "choice: PyTorch's default initialisation", enum=list(INITS))
    epochs: int = setting(15, "baseline training epochs (the paper: 15)", minimum=1)
    batch_size: int = setting(100, "batch size (the paper: 100)", minimum=1)
    lr: float = setting(
        0.1, "plain SGD on cross-entropy, learning rate (the paper: 0.1)", exclusiveMinimum=0
    )
    seed: int = setting(0, "seeds the initialisation and every data order", minimum=0)
    weight_decay: float = setting(
        0.0,
        "L2 penalty of SGD, in training and every retraining; the paper uses none (Han et al.:"
        " some). Pixels blank in every training image get no gradient, so only this moves their"
        " weights",
        minimum=0,
    )
    train_limit: int | None = setting(
        None,
        "use only the first N training images (tests, quick" " looks); null: all",
        minimum=1,
        section="data",
    )
    test_limit: int | None = setting(
        None, "use only the first N test images; null: all", minimum=1, section="data"
    )

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
        if tuple(self.hidden) != PAPER_HIDDEN:  # likewise: the paper's shape keeps its folders
            parts.append(f"h{self.hidden_text}")
        if self.train_limit is not None or self.test_limit is not None:
            parts.append(f"n{self.train_limit or 'all'}-{self.test_limit or 'all'}")
        return "_".join(parts)

    @property
    def hidden_text(self) -> str:
        """The hidden widths as text, ``100-50``: a folder's part, a table's ``train_hidden``."""
        return "-".join(str(w) for w in self.hidden)

    def row(self) -> dict[str, Any]:
        # text, so that pandas can group by it (a list is unhashable)
        return {**super().row(), "train_hidden": self.hidden_text}


@dataclass(frozen=True)
class MagnitudeSettings(Settings):
    """Step 1 of the paper: remove ``rate`` of all W1 weights with the smallest |w|."""

    prefix: ClassVar[str] = "magnitude"

    rate: float = setting(
        0.5,
        "fraction of all W1 weights removed by smallest |w| (the paper:" " 0.5)",
        minimum=0,
        maximum=1,
    )
    drop_inactive: bool = setting(
        False,
        "first remove the weights of input pixels that are zero in every training image (they"
        " never get a gradient and keep their random initial values); they count towards rate",
    )

    @property
    def name(self) -> str:
        return f"mag{_num(self.rate)}" + ("_dropinactive" if self.drop_inactive else "")


@dataclass(frozen=True)
class RegionSettings(Settings):
    """Steps 2-5 of the paper, one iteration: label, score, prune ``rate`` of all regions, retrain.

    The carving settings (``pixel_cut``, ``cut``, ``cut_scope``, ``min_size``, ``max_regions``)
    go beyond the paper; their defaults switch them off, which is the paper's method. The order
    of the steps within an iteration is ``carving``'s.
    """

    prefix: ClassVar[str] = "region"

    rate: float = setting(
        0.4,
        "fraction of the regions removed per iteration, lowest score" " first (the paper: 0.4)",
        minimum=0,
        maximum=1,
    )
    connectivity: int = setting(
        8, "choice: 8-connected regions (4 also offered)", enum=list(CONNECTIVITIES)
    )
    score: str = setting(
        "mean_abs",
        "what regions are ranked by (see scores.py): mean_abs, their" " mean |w|, is the paper's",
        enum=list(SCORES),
    )
    scope: str = setting(
        "global",
        "global (the paper: all regions of all neurons together) or"
        " per_neuron (each neuron loses rate of its own)",
        enum=list(SCOPES),
    )
    retrain_epochs: int = setting(1, "choice: retraining epochs per iteration", minimum=0)
    retrain_lr: float = setting(0.1, "retraining learning rate", exclusiveMinimum=0)
    retrain_batch_size: int = setting(100, "retraining batch size", minimum=1)
    pixel_cut: float = setting(
        0.0,
        "carving, before labelling: fraction of the input pixels still in use removed per"
        " iteration, all of a pixel's weights at once, smallest L2 norm first (0: off, the paper)",
        minimum=0,
        exclusiveMaximum=1,
    )
    pixel_budget: int | None = setting(
        None,
        "carving: the pixel stage (pixel_cut) stops at this many input pixels in use, reached"
        " over the iterations; later steps can still empty a pixel (null: no floor). Needs"
        " pixel_cut > 0, the pace at which the budget is approached",
        minimum=1,
    )
    cut: float = setting(
        0.0,
        "carving, before labelling: fraction of the surviving W1 weights removed per iteration"
        " by smallest |w|, so that a blob falls apart into its strong cores (0: off, the paper)",
        minimum=0,
        exclusiveMaximum=1,
    )
    cut_scope: str = setting(
        "per_neuron",
        "per_neuron: every neuron loses cut of its own"
        " weights (none dies of it); global: all ranked together",
        enum=list(SCOPES),
    )
    min_size: int = setting(
        1, "carving, after labelling: regions of fewer pixels are removed" " (1: off)", minimum=1
    )
    max_regions: int | None = setting(
        None,
        "carving, last: each neuron keeps at most this many"
        " regions, its highest by score (null: no cap, the paper)",
        minimum=1,
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pixel_budget is not None and not self.pixel_cut:
            raise ValueError(
                "region.pixel_budget needs region.pixel_cut > 0: the fraction of the pixels in use"
                f" removed per iteration until {self.pixel_budget} are left. Fix: set"
                " region.pixel_cut (e.g. 0.2), or unset pixel_budget."
            )

    def carving(self) -> list[str]:
        """Short names of the carving steps this setting turns on, in the order they run."""
        steps = []
        if self.pixel_cut:
            steps.append(f"px{_num(self.pixel_cut)}")
        if self.pixel_budget is not None:
            steps.append(f"pb{self.pixel_budget}")
        if self.cut:
            steps.append(f"cut{_num(self.cut)}" + ("g" if self.cut_scope == "global" else ""))
        if self.min_size > 1:
            steps.append(f"min{self.min_size}")
        if self.max_regions is not None:
            steps.append(f"cap{self.max_regions}")
        return steps

    def carve_args(self) -> dict[str, Any]:
        """The arguments of ``carving.carve`` (steps 1-2) these settings give."""
        names = ("pixel_cut", "pixel_budget", "cut", "cut_scope")
        return {name: getattr(self, name) for name in names}

    def decide_args(self) -> dict[str, Any]:
        """The arguments of ``carving.decide`` (steps 4-6) these settings give."""
        names = ("rate", "score", "scope", "min_size", "max_regions")
        return {name: getattr(self, name) for name in names}

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
    """One run: a path through the three levels, how many region iterations, which method."""

    train: TrainSettings
    magnitude: MagnitudeSettings
    region: RegionSettings
    iterations: int = setting(8, "choice: label -> prune -> retrain iterations", minimum=0)
    method: str = setting(
        "region",
        "region (the paper), or a baseline that reaches the region run's W1 density at every"
        " iteration with the same retraining: magnitude (Han et al.'s iterative pruning) or"
        " random",
        enum=list(METHODS),
    )

    #: The run's own keys, top-level in the config (its levels are sections of their own).
    TOP_LEVEL: ClassVar[tuple[str, ...]] = ("iterations", "method")

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The schema of the run's own top-level keys (its levels have their own)."""
        own = [f for f in fields(cls) if f.name in cls.TOP_LEVEL]
        return {"type": "object", "properties": {f.name: field_schema(f) for f in own}}

    def __post_init__(self) -> None:
        check(type(self), "", {k: getattr(self, k) for k in self.TOP_LEVEL})

    @property
    def path(self) -> str:
        """The folder below ``results/runs/`` that holds the run's iterations."""
        return f"{self.train.name}/{self.magnitude.name}/{self.region.name}/{self.method}"

    @property
    def id(self) -> str:
        """The run's id in every table: its path and its last iteration, whose folder holds the
        run's own summary and figures (runs that differ only in ``iterations`` share the rest)."""
        return stage_path(self.path, self.iterations)

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
        in_data = [f.name for f in fields(TrainSettings) if f.metadata["section"] == "data"]
        return cls(
            train=TrainSettings.from_dict(
                {**{k: data[k] for k in in_data if k in data}, **config["train"]}
            ),
            magnitude=MagnitudeSettings.from_dict(config["magnitude"]),
            region=RegionSettings.from_dict(config["region"]),
            iterations=config["iterations"],
            method=config.get("method", "region"),
        )


def stage_path(run_path: str, k: int | str) -> str:
    """The folder of iteration ``k`` of a run below ``results/runs/`` (the one spelling of it;
    the workflow passes wildcards such as ``"{k}"`` for ``k``)."""
    return f"{run_path}/iter{k}"


def split_stage(stage: str) -> tuple[str, int]:
    """The run path and iteration of a ``stage_path`` (its inverse)."""
    path, _, k = stage.rpartition("/iter")
    if not path or not k.isdigit():
        raise ValueError(f"{stage!r} is no iteration folder (<run path>/iter<k>)")
    return path, int(k)


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


def stream_seed(seed: int, stream: int) -> int:
    """An independent seed per use of a run's seed: 0 baseline data order, k iteration k's,
    and ``RANDOM_STREAM + k`` the random method's pruning at iteration k."""
    import numpy as np

    return int(np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint64)[0] >> 1)


RANDOM_STREAM = 1_000_000
#: ``EVIDENCE_STREAM + k``: the random-region control of the deletion test at iteration k.
EVIDENCE_STREAM = 2_000_000
