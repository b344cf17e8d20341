"""Measures of one stage of a run, and the run's summary row (pure: arrays and tables in)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regionprune.pruning import density, neuron_pruning_ratios
from regionprune.regions import label_neurons
from regionprune.settings import W1
from regionprune.storage import Checkpoint

#: The paper's reported numbers (section 4.2), for the comparison table.
PAPER = {
    "baseline_acc": 0.945,
    "final_acc": 0.941,
    "neurons_ge90_pruned": 0.54,
    "neurons_le40_pruned": 0.46,
}


def neuron_table(mask: np.ndarray, image_shape: tuple[int, int], connectivity: int) -> pd.DataFrame:
    """Per hidden neuron: pruning ratio, surviving weights, regions, largest region's share."""
    labels = label_neurons(mask, image_shape, connectivity)
    ratios = neuron_pruning_ratios(mask)
    rows = []
    for n, lab in enumerate(labels):
        sizes = np.bincount(lab.ravel())[1:]
        sizes = sizes[sizes > 0]
        total = int(sizes.sum())
        rows.append(
            {
                "neuron": n,
                "pruning_ratio": float(ratios[n]),
                "weights": total,
                "regions": len(sizes),
                "largest_region_share": float(sizes.max() / total) if total else np.nan,
            }
        )
    return pd.DataFrame(rows)


def pixel_usage(
    mask: np.ndarray, image_shape: tuple[int, int], inactive: np.ndarray | None = None
) -> pd.DataFrame:
    """Per input pixel: how many hidden neurons still take it as input, and whether the pixel
    is zero in every training image (``inactive``; all False if not given)."""
    h, w = image_shape
    used = np.asarray(mask, dtype=bool).sum(axis=0)
    rows, cols = np.divmod(np.arange(h * w), w)
    blank = np.zeros(h * w, dtype=bool) if inactive is None else np.asarray(inactive, dtype=bool)
    return pd.DataFrame(
        {"pixel": np.arange(h * w), "row": rows, "col": cols, "neurons": used, "inactive": blank}
    )


def stage_metrics(
    ckpt: Checkpoint,
    image_shape: tuple[int, int],
    connectivity: int,
    inactive: np.ndarray | None = None,
) -> dict[str, Any]:
    """Accuracy, sparsity, the per-neuron split and how readable the maps are, at one stage.

    Regions are labelled afresh on the stage's mask, so every method is measured the same way.
    ``inactive`` marks the input pixels that are zero in every training image (none if omitted):
    their surviving weights never had a gradient, and are counted apart.
    """
    mask = ckpt.mask(W1)
    inactive = np.zeros(mask.shape[1], dtype=bool) if inactive is None else inactive
    ratios = neuron_pruning_ratios(mask)
    neurons = neuron_table(mask, image_shape, connectivity)
    alive = neurons[neurons["weights"] > 0]
    total = sum(int(p.size) for p in ckpt.params.values())
    nonzero = sum(int(np.count_nonzero(p)) for p in ckpt.params.values())
    return {
        "stage": ckpt.attrs["stage"],
        "iteration": int(ckpt.attrs["iteration"]),
        "test_acc": float(ckpt.attrs["test_acc"]),
        "test_loss": float(ckpt.attrs["test_loss"]),
        "w1_density": density(mask),
        "w1_nonzero": int(mask.sum()),
        "total_params": total,
        "nonzero_params": nonzero,
        "neurons_ge90_pruned": float(np.mean(ratios >= 0.9)),
        "neurons_le40_pruned": float(np.mean(ratios <= 0.4)),
        "neurons_dead": int(np.sum(ratios == 1.0)),
        "alive_neurons": len(alive),
        "pixels_used": int(mask.any(axis=0).sum()),
        "inactive_pixels_used": int(mask[:, inactive].any(axis=0).sum()),
        "inactive_weights": int(mask[:, inactive].sum()),
        "n_regions": int(neurons["regions"].sum()),
        "regions_per_neuron": float(alive["regions"].mean()) if len(alive) else np.nan,
        "largest_region_share": float(alive["largest_region_share"].mean())
        if len(alive)
        else np.nan,
        "ratio_q10": float(np.quantile(ratios, 0.1)),
        "ratio_median": float(np.median(ratios)),
        "ratio_q90": float(np.quantile(ratios, 0.9)),
    }


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


def paper_table(runs: pd.DataFrame) -> str:
    """Markdown: each run beside the paper's reported numbers."""
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    lines = [
        "| run | baseline acc | final acc | W1 density | neurons >=90% pruned | neurons <=40% pruned |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| paper (Takehana & Ozaki, 4.2) | {pct(PAPER['baseline_acc'])} | {pct(PAPER['final_acc'])}"
        f" | not reported | {pct(PAPER['neurons_ge90_pruned'])} | {pct(PAPER['neurons_le40_pruned'])} |",
    ]
    for r in runs.itertuples():
        lines.append(
            f"| {r.run} (iterations={r.iterations}) | {pct(r.baseline_acc)} | {pct(r.final_acc)}"
            f" | {r.w1_density:.3f} | {pct(r.neurons_ge90_pruned)} | {pct(r.neurons_le40_pruned)} |"
        )
    return "\n".join(lines) + "\n"


def readability_markdown(runs: pd.DataFrame) -> str:
    """Markdown: how readable each run's maps are after its last iteration."""
    lines = [
        "| run | alive neurons | regions per neuron | largest-region share | pixels used |"
        " never-inked pixels used | weights on never-inked pixels |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs.itertuples():
        lines.append(
            f"| {r.run} | {r.alive_neurons} | {r.regions_per_neuron:.2f}"
            f" | {r.largest_region_share:.2f} | {r.pixels_used} | {r.inactive_pixels_used}"
            f" | {r.inactive_weights} |"
        )
    return "\n".join(lines) + "\n"


#: Settings columns of runs.parquet (everything that names a run's configuration).
SETTING_PREFIXES = ("train_", "magnitude_", "region_")


def setting_columns(runs: pd.DataFrame) -> list[str]:
    return [c for c in runs.columns if c.startswith(SETTING_PREFIXES)] + ["iterations", "method"]


def varying(runs: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns among ``columns`` that take more than one value in ``runs``."""
    return [c for c in columns if runs[c].astype(str).nunique() > 1]


GRID_MEASURES = (
    "final_acc",
    "w1_density",
    "neurons_ge90_pruned",
    "alive_neurons",
    "regions_per_neuron",
    "largest_region_share",
    "pixels_used",
    "inactive_pixels_used",
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


def grid_markdown(table: pd.DataFrame) -> str:
    """The grid table as Markdown, each measure as mean +- sd."""
    shown = [c for c in table.columns if not c.endswith(("_mean", "_std"))]
    fmt = {
        "final_acc": lambda x: f"{100 * x:.2f}",
        "neurons_ge90_pruned": lambda x: f"{100 * x:.1f}",
        "w1_density": lambda x: f"{x:.3f}",
        "largest_region_share": lambda x: f"{x:.2f}",
    }
    head = shown + [m for m in GRID_MEASURES]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in table.itertuples(index=False):
        d = r._asdict()
        cells = [str(d[c]) for c in shown]
        for m in GRID_MEASURES:
            f = fmt.get(m, lambda x: f"{x:.1f}")
            cells.append(f"{f(d[f'{m}_mean'])} +- {f(d[f'{m}_std'])}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def faithfulness_summary(faithful: pd.DataFrame, budget: float) -> pd.DataFrame:
    """Per explained stage, at one deletion budget: mean over classes of each method's drop in
    class accuracy, their ratio (regions / random), and in how many classes the regions' drop is
    at least twice the random one's. ``faithful`` is the faithfulness tables, concatenated."""
    at = faithful[np.isclose(faithful["budget"].astype(float), budget)]
    drops = [c for c in faithful.columns if c.startswith("drop_") and c != "drop_random_sd"]
    rows = []
    for (run, it), g in at.groupby(["run", "iteration"], sort=False):
        row = {"run": run, "iteration": int(it), "budget": budget, "classes": len(g)}
        row.update({c: float(g[c].mean()) for c in drops})
        with np.errstate(divide="ignore", invalid="ignore"):  # no random drop: inf or nan
            row["ratio_vs_random"] = float(np.float64(row["drop_region"]) / row["drop_random"])
        faithful_class = (g["drop_region"] > 0) & (g["drop_region"] >= 2 * g["drop_random"])
        row["classes_2x_random"] = int(faithful_class.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def faithfulness_markdown(faithful: pd.DataFrame, budget: float) -> str:
    """The deletion test's verdicts as a Markdown section ('' when no stage was explained)."""
    if faithful.empty:
        return ""
    table = faithfulness_summary(faithful, budget)
    if table.empty:
        return (f"\n## Deletion test\n\nNo stage was tested at budget {budget}: evidence.budget"
                " must be one of evidence.budgets.\n")  # fmt: skip
    pct = lambda x: f"{100 * x:.1f}"  # noqa: E731
    lines = [
        "\n## Deletion test: do the maps tell the truth?\n",
        (
            f"Drop in class accuracy (points, mean over classes) when {100 * budget:g}% of the"
            " surviving W1 weights are deleted: the regions most important for the class, random"
            " regions of the same size (mean of the draws), and the pixels that input x gradient"
            " and integrated gradients rank highest. Ranked on training images, measured on the"
            " test images. Faithful: regions >= 2x random.\n"
        ),
        (
            "| stage | regions | random | ratio | classes >= 2x | input x gradient |"
            " integrated gradients | faithful |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.run} | {pct(r.drop_region)} | {pct(r.drop_random)} | {r.ratio_vs_random:.1f}"
            f" | {r.classes_2x_random}/{r.classes} | {pct(r.drop_input_x_gradient)}"
            f" | {pct(r.drop_integrated_gradients)} | {'yes' if r.ratio_vs_random >= 2 else 'no'} |"
        )
    return "\n".join(lines) + "\n"
