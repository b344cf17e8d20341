"""The workflow's tables over runs (pure: tables in, tables out): a run's row of runs.parquet
from its stages' measures (``metrics.stage_metrics``), which settings a grid varies, the grid's
means over seeds, and the faithfulness summary of the deletion test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regionprune.workflow import settings

#: Measures of the last stage that runs.parquet carries under their own names.
FINAL_MEASURES = (
    "w1_density",
    "total_params",
    "nonzero_params",
    "neurons_ge90_pruned",
    "neurons_le40_pruned",
    "neurons_dead",
    "alive_neurons",
    "pixels_used",
    "inactive_pixels_used",
    "inactive_weights",
    "regions_per_neuron",
    "largest_region_share",
    "region_px_median",
    "region_px_p90",
    "ipr_median",
)


def run_row(settings_row: dict[str, Any], stages: pd.DataFrame) -> dict[str, Any]:
    """One row of runs.parquet: every setting, then baseline and final measures."""
    base = stages.loc[stages["stage"] == "baseline"].iloc[0]
    final = stages.sort_values("iteration").iloc[-1]
    return {
        **settings_row,
        "baseline_acc": float(base["test_acc"]),
        # iteration 0: magnitude pruning, or random pruning for the random method
        "start_acc": float(stages.loc[stages["iteration"] == 0, "test_acc"].iloc[0]),
        "final_acc": float(final["test_acc"]),
        "final_stage": str(final["stage"]),
        "final_iteration": int(final["iteration"]),
        **{m: final[m].item() for m in FINAL_MEASURES},  # .item(): numpy scalar -> int/float
    }


def setting_columns(runs: pd.DataFrame) -> list[str]:
    """The settings columns of a runs table (everything that names a run's configuration)."""
    return [c for c in settings.setting_columns() if c in runs.columns]


def varying(runs: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns among ``columns`` that take more than one value in ``runs``, less the region
    settings that ``region_variant`` (when among them) already tells apart: a grid of a paper
    and a carved variant is told by the variant's name, not by every key it changes."""
    out = [c for c in columns if runs[c].astype(str).nunique() > 1]
    if "region_variant" in out:
        per_variant = runs.groupby("region_variant", sort=False)
        out = [
            c
            for c in out
            if c == "region_variant"
            or not c.startswith("region_")
            or (per_variant[c].agg(lambda v: v.astype(str).nunique()) > 1).any()
        ]
    return out


def grid_keys(runs: pd.DataFrame) -> list[str]:
    """The settings a grid varies besides the seed and the method: what grid figures facet by."""
    return varying(runs, [c for c in setting_columns(runs) if c not in ("train_seed", "method")])


GRID_MEASURES = (
    "final_acc",
    "w1_density",
    "neurons_ge90_pruned",
    "alive_neurons",
    "regions_per_neuron",
    "largest_region_share",
    "pixels_used",
    "inactive_pixels_used",
    "region_px_median",
    "ipr_median",
)


def grid_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of the final measures, per setting of the grid."""
    keys = [c for c in setting_columns(runs) if c != "train_seed"]
    shown = varying(runs, keys) or ["method"]
    # dropna=False: settings left at null (train_limit...) are a value, not a missing key
    grouped = runs.groupby([runs[k].astype(str) for k in keys], sort=False, dropna=False)
    rows = []
    for _, g in grouped:
        row = {k: g.iloc[0][k] for k in shown}
        row["seeds"] = g["train_seed"].nunique()
        for m in GRID_MEASURES:
            row[f"{m}_mean"] = g[m].mean()
            row[f"{m}_std"] = g[m].std(ddof=1) if len(g) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def faithfulness_summary(faithful: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Per explained stage, at one deletion budget: mean over classes of each method's drop in
    class accuracy, the regions' ratio to random regions and to integrated gradients, and in how
    many classes the regions' drop is at least twice the random one's. ``faithful`` is the faithfulness tables, concatenated.
    """
    at = faithful[np.isclose(faithful["budget"].astype(float), budget)]
    drops = [c for c in faithful.columns if c.startswith("drop_") and c != "drop_random_sd"]
    rows = []
    for (run, it), g in at.groupby(["run", "iteration"], sort=False):
        row = {"run": run, "iteration": int(it), "budget": budget, "classes": len(g)}
        row.update({c: float(g[c].mean()) for c in drops})
        with np.errstate(divide="ignore", invalid="ignore"):  # no random drop: inf or nan
            row["ratio_vs_random"] = float(np.float64(row["drop_region"]) / row["drop_random"])
            # the regions against the strongest standard attribution at the same count
            row["ratio_vs_ig"] = float(
                np.float64(row["drop_region"]) / row["drop_integrated_gradients"]
            )
        faithful_class = (g["drop_region"] > 0) & (g["drop_region"] >= 2 * g["drop_random"])
        row["classes_2x_random"] = int(faithful_class.sum())
        rows.append(row)
    return pd.DataFrame(rows)
