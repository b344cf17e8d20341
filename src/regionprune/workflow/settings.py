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

Every settings class is a pydantic model (``Settings``): a field's type, ``Field`` constraints
and description are the only statement of what a value may be and what it means. ``config``
builds the workflow's config model from these classes and checks a config once when the
workflow starts; ``derived`` writes the JSON schema, ``config.yaml`` and the configuration docs
from them; every job checks the settings it is given once more when it reads them
(``from_json``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regionprune.core import network, scores
from regionprune.core.choices import CONNECTIVITIES, SCOPES

S = TypeVar("S", bound="Settings")


class Settings(BaseModel):
    """Shared by every settings class: frozen, strict (no silent conversion of ``"2"`` to 2 or
    of 2.5 to 2), unknown keys refused; JSON round trip and flat table columns."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    #: The config section (and table-column prefix) of the class's fields.
    prefix: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def to_json(self, *only: str) -> str:
        """The settings as JSON; ``only`` some of them (what a job reads: a rule passes no more,
        so that a change to another key reruns nothing)."""
        d = self.to_dict()
        unknown = set(only) - set(d)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no setting(s) {sorted(unknown)}")
        return json.dumps({k: d[k] for k in only} if only else d, sort_keys=True)

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any]) -> S:
        return cls.model_validate(d)

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        """What a job does with the settings it is given: checks them (once per job)."""
        return cls.model_validate_json(text)

    def row(self) -> dict[str, Any]:
        """Flat columns for the summary tables, prefixed by level (``train_seed``...)."""
        return {f"{self.prefix}_{k}": v for k, v in self.to_dict().items()}


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

#: The choices as types: a value outside them is refused with the list of those allowed.
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]
Init = Literal[INITS]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]
Score = Literal[SCORES]  # type: ignore[valid-type]
Scope = Literal[SCOPES]  # type: ignore[valid-type]
Connectivity = Literal[CONNECTIVITIES]  # type: ignore[valid-type]


def _num(x: float) -> str:
    """Shortest faithful text of a number for a folder name: 0.5 -> '0.5', 1e-05 -> '1e-05'."""
    return format(x, "g")


class TrainSettings(Settings):
    """The baseline network and its training (and the data every later stage is scored on)."""

    prefix: ClassVar[str] = "train"

    #: Fields that live in the config's ``data`` section (the data set and how much of it).
    IN_DATA: ClassVar[tuple[str, ...]] = ("dataset", "train_limit", "test_limit")

    dataset: str = Field(
        "mnist",
        description="data set: mnist, fashion_mnist, or a name of your own for grey images in"
        " data.local_dir (IDX files or one .npz; docs/data.md)",
        pattern=DATASET_PATTERN,
    )
    activation: Activation = Field(
        "sigmoid", description="choice: sigmoid reproduces the paper's ~94.5% (relu: ~98%)"
    )
    hidden: list[Annotated[int, Field(ge=1)]] = Field(
        list(PAPER_HIDDEN),
        description="widths of the hidden layers, input side first (the paper: [100, 50]); W1,"
        " the layer region pruning works on, is always the first. Inputs and classes come from"
        " the data",
        min_length=1,
    )
    init: Init = Field("default", description="choice: PyTorch's default initialisation")
    epochs: int = Field(15, description="baseline training epochs (the paper: 15)", ge=1)
    batch_size: int = Field(100, description="batch size (the paper: 100)", ge=1)
    lr: float = Field(
        0.1, description="plain SGD on cross-entropy, learning rate (the paper: 0.1)", gt=0
    )
    seed: int = Field(0, description="seeds the initialisation and every data order", ge=0)
    weight_decay: float = Field(
        0.0,
        description="L2 penalty of SGD, in training and every retraining; the paper uses none"
        " (Han et al.: some). Pixels blank in every training image get no gradient, so only this"
        " moves their weights",
        ge=0,
    )
    train_limit: int | None = Field(
        None,
        description="use only the first N training images (tests, quick looks); null: all",
        ge=1,
    )
    test_limit: int | None = Field(
        None, description="use only the first N test images; null: all", ge=1
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


class MagnitudeSettings(Settings):
    """Step 1 of the paper: remove ``rate`` of all W1 weights with the smallest |w|."""

    prefix: ClassVar[str] = "magnitude"

    rate: float = Field(
        0.5,
        description="fraction of all W1 weights removed by smallest |w| (the paper: 0.5)",
        ge=0,
        le=1,
    )
    drop_inactive: bool = Field(
        False,
        description="first remove the weights of input pixels that are zero in every training image (they"
        " never get a gradient and keep their random initial values); they count towards rate",
    )

    @property
    def name(self) -> str:
        return f"mag{_num(self.rate)}" + ("_dropinactive" if self.drop_inactive else "")


class RegionSettings(Settings):
    """Steps 2-5 of the paper, one iteration: label, score, prune ``rate`` of all regions, retrain.

    The carving settings (``pixel_cut``, ``cut``, ``cut_scope``, ``min_size``, ``max_regions``)
    go beyond the paper; their defaults switch them off, which is the paper's method. The order
    of the steps within an iteration is ``carving``'s.
    """

    prefix: ClassVar[str] = "region"

    rate: float = Field(
        0.4,
        description="fraction of the regions removed per iteration, lowest score first (the"
        " paper: 0.4)",
        ge=0,
        le=1,
    )
    connectivity: Connectivity = Field(
        8, description="choice: 8-connected regions (4 also offered)"
    )
    score: Score = Field(
        "mean_abs",
        description="what regions are ranked by (see scores.py): mean_abs, their mean |w|, is"
        " the paper's",
    )
    scope: Scope = Field(
        "global",
        description="global (the paper: all regions of all neurons together) or per_neuron"
        " (each neuron loses rate of its own)",
    )
    retrain_epochs: int = Field(1, description="choice: retraining epochs per iteration", ge=0)
    retrain_lr: float = Field(0.1, description="retraining learning rate", gt=0)
    retrain_batch_size: int = Field(100, description="retraining batch size", ge=1)
    pixel_cut: float = Field(
        0.0,
        description="carving, before labelling: fraction of the input pixels still in use removed per"
        " iteration, all of a pixel's weights at once, smallest L2 norm first (0: off, the paper)",
        ge=0,
        lt=1,
    )
    pixel_budget: int | None = Field(
        None,
        description="carving: the pixel stage (pixel_cut) stops at this many input pixels in use, reached"
        " over the iterations; later steps can still empty a pixel (null: no floor). Needs"
        " pixel_cut > 0, the pace at which the budget is approached",
        ge=1,
    )
    cut: float = Field(
        0.0,
        description="carving, before labelling: fraction of the surviving W1 weights removed per iteration"
        " by smallest |w|, so that a blob falls apart into its strong cores (0: off, the paper)",
        ge=0,
        lt=1,
    )
    cut_scope: Scope = Field(
        "per_neuron",
        description="per_neuron: every neuron loses cut of its own weights (none dies of it);"
        " global: all ranked together",
    )
    min_size: int = Field(
        1,
        description="carving, after labelling: regions of fewer pixels are removed (1: off)",
        ge=1,
    )
    max_regions: int | None = Field(
        None,
        description="carving, last: each neuron keeps at most this many regions, its highest by"
        " score (null: no cap, the paper)",
        ge=1,
    )

    @model_validator(mode="after")
    def _budget_needs_a_pace(self) -> RegionSettings:
        if self.pixel_budget is not None and not self.pixel_cut:
            raise ValueError(
                "region.pixel_budget needs region.pixel_cut > 0: the fraction of the pixels in use"
                f" removed per iteration until {self.pixel_budget} are left. Fix: set"
                " region.pixel_cut (e.g. 0.2), or unset pixel_budget."
            )
        return self

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


class RunSettings(Settings):
    """One run: a path through the three levels, how many region iterations, which method."""

    train: TrainSettings
    magnitude: MagnitudeSettings
    region: RegionSettings
    iterations: int = Field(8, description="choice: label -> prune -> retrain iterations", ge=0)
    method: Method = Field(
        "region",
        description="region (the paper), or a baseline that reaches the region run's W1 density at every"
        " iteration with the same retraining: magnitude (Han et al.'s iterative pruning) or"
        " random",
    )

    #: The run's own keys, top-level in the config (its levels are sections of their own).
    TOP_LEVEL: ClassVar[tuple[str, ...]] = ("iterations", "method")

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
        f"{cls.prefix}_{name}"
        for cls in (TrainSettings, MagnitudeSettings, RegionSettings)
        for name in cls.model_fields
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
