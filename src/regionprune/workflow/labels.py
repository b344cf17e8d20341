"""Short run labels: the settings that tell a grid's runs apart, in words (``s0 · rate 0.4 ·
region``), for the summary tables, the report and the console. A label always names the seed and
the method, then every other setting that takes more than one value in the grid; the long folder
path stays the run's key on disk (``run_path`` in the summary tables). Pure: rows in, text out.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from regionprune.workflow import settings
from regionprune.workflow.tables import varying

SEP = " · "
#: Settings always named in a label, first and last; the grid's other varying settings go between.
ALWAYS = ("train_seed", "method")
#: The folder levels of a run id (``settings.RunSettings.path`` then ``iter<k>``), each by the
#: start of the setting columns it adds: a job at a level is labelled by those of its own level
#: and the levels above.
LEVELS = ("train_", "magnitude_", "region_", "method", "iterations")


def part(column: str, value: Any) -> str:
    """One setting in words: ``s0``, ``region``, ``relu``, ``rate 0.4``, ``mag rate 0.5``."""
    if column == "train_seed":
        return f"s{value}"
    if column == "train_hidden":  # widths read alone say nothing: "hidden 300-100"
        return f"hidden {value}"
    if isinstance(value, str):
        return value  # enum-like settings read alone: region, relu, mean_abs, cut0.1_cap2
    if column == "iterations":
        return f"{value} iteration" + ("" if value == 1 else "s")
    name = column
    for cls in (settings.TrainSettings, settings.MagnitudeSettings, settings.RegionSettings):
        if column.startswith(f"{cls.prefix}_"):
            name = column[len(cls.prefix) + 1 :]
            name = f"mag {name}" if cls is settings.MagnitudeSettings else name
    if value is None or (isinstance(value, float) and math.isnan(value)):
        shown = "none"
    elif isinstance(value, float):
        shown = format(value, "g")
    else:
        shown = str(value)
    return f"{name.replace('_', ' ')} {shown}"


def label_columns(runs: pd.DataFrame) -> list[str]:
    """The settings a label names, in folder order: the seed, the grid's other varying settings,
    the method, and the number of iterations where that varies."""
    columns = [c for c in settings.setting_columns() if c in runs.columns]
    middle = [c for c in varying(runs, columns) if c not in (*ALWAYS, "iterations")]
    # a region variant's name before the region settings it leaves alike (scope...)
    middle.sort(key=lambda c: (_level(c), c != "region_variant"))
    last = ["iterations"] if "iterations" in varying(runs, columns) else []
    return [ALWAYS[0], *middle, ALWAYS[1], *last]


def run_labels(runs: pd.DataFrame) -> pd.Series:
    """The label of each run of a runs table (``RunSettings.row`` rows), indexed like it."""
    columns = label_columns(runs)
    labels = runs.apply(lambda r: SEP.join(part(c, r[c]) for c in columns), axis=1)
    clash = labels[labels.duplicated(keep=False)]
    if len(clash):  # every setting that varies is named, so two runs cannot share a label
        raise ValueError(
            f"runs share the label {clash.iloc[0]!r}: {list(runs.loc[clash.index, 'run'])}"
        )
    return labels.astype(str)


def _level(column: str) -> int:
    return next(i for i, keys in enumerate(LEVELS) if column.startswith(keys))


def _folders(run_id: str) -> list[tuple[int, str]]:
    """``(depth, key)`` of each folder level of a run id: ``<train>`` (1) ... the id itself."""
    levels = run_id.split("/")
    return [(depth, "/".join(levels[:depth])) for depth in range(1, len(LEVELS) + 1)]


def folder_labels(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The label of every folder level of every run: ``<train>``, ``<train>/<mag>``, ...,
    ``<run path>``, the run id; each names the label's settings of its level and those above."""
    columns = label_columns(pd.DataFrame(rows))
    out: dict[str, str] = {}
    for row in rows:
        for depth, key in _folders(row["run"]):
            shown = [c for c in columns if _level(c) < depth]
            out[key] = SEP.join(part(c, row[c]) for c in shown)
    return out


class Labels(dict):
    """Folder keys -> labels, usable in a Snakemake ``message:`` as a format spec:
    ``{LABEL:<key>u}`` gives the key's label, ``{LABEL:<key>@<k>u}`` adds ``iteration k/N`` (N
    the most iterations of a run below the key). The trailing ``u`` stops Snakemake from reading
    the spec's last letter as its quoting flag."""

    def __init__(self, rows: list[dict[str, Any]]):
        super().__init__(folder_labels(rows))
        self.iterations: dict[str, int] = {}
        for row in rows:
            for _, key in _folders(row["run"])[:-1]:  # the run id itself has no later iterations
                self.iterations[key] = max(self.iterations.get(key, 0), row["iterations"])

    def __format__(self, spec: str) -> str:
        key, _, k = spec.partition("@")
        label = self.get(key, key)
        if not k:
            return label
        n = self.iterations.get(key)
        return f"{label}{SEP}iteration {k}" + (f"/{n}" if n else "")


def settings_by_run(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run of a runs table (``RunSettings.row`` rows) as ``tidy`` joins it to a table: its
    ``label``, its folder id as ``run_path``, and its settings (labels made once for all tables)."""
    columns = [c for c in settings.setting_columns() if c in runs.columns]
    keyed = runs[["run", *columns]].rename(columns={"run": "run_path"})
    keyed.insert(0, "label", run_labels(runs).to_numpy())
    return keyed


def tidy(table: pd.DataFrame, keyed: pd.DataFrame, *, per_stage: bool = False) -> pd.DataFrame:
    """A summary table as a person reads it: ``run`` the run's label, ``run_path`` its folder id,
    the table's own columns, then every setting of the run (``keyed``: ``settings_by_run``), so
    that plain pandas can group any table by any setting. ``table["run"]`` holds run ids, or
    with ``per_stage`` the iteration folders of the evidence tables, which belong to every run of
    that path that reaches the iteration (a row per such run). The runs table itself, which
    carries the settings already, keeps its columns and order."""
    columns = list(keyed.columns[2:])
    if set(columns) <= set(table.columns):
        out = table.rename(columns={"run": "run_path"})
        out.insert(0, "run", out["run_path"].map(keyed.set_index("run_path")["label"]))
        return out
    clash = sorted(set(table.columns) & set(columns))
    if clash:  # a table column named as a setting would be overwritten by the run's value
        raise ValueError(f"table columns {clash} clash with the run settings' names; rename them")
    own = [c for c in table.columns if c != "run"]
    if per_stage:
        path = table["run"].map(lambda s: settings.split_stage(s)[0])
        runs_path = keyed["run_path"].map(lambda s: settings.split_stage(s)[0])
        out = table[own].assign(_path=path).merge(keyed.assign(_path=runs_path), on="_path")
        out = out[out["iteration"] <= out["iterations"]].drop(columns="_path")
    else:
        out = (
            table[["run", *own]]
            .rename(columns={"run": "run_path"})
            .merge(keyed, on="run_path", how="left", validate="many_to_one")
        )
    order = ["label", "run_path", *own, *columns]
    return out[order].rename(columns={"label": "run"}).reset_index(drop=True)
