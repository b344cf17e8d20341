"""Measures of one stage of a run, and the run's summary row (pure: arrays and tables in)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from regionprune.pruning import density, neuron_pruning_ratios
from regionprune.settings import W1
from regionprune.storage import Checkpoint

#: The paper's reported numbers (section 4.2), for the comparison table.
PAPER = {
    "baseline_acc": 0.945,
    "final_acc": 0.941,
    "neurons_ge90_pruned": 0.54,
    "neurons_le40_pruned": 0.46,
}


def stage_metrics(ckpt: Checkpoint) -> dict[str, Any]:
    """Accuracy, sparsity and the per-neuron split of one checkpoint."""
    mask = ckpt.mask(W1)
    ratios = neuron_pruning_ratios(mask)
    total = sum(int(p.size) for p in ckpt.params.values())
    nonzero = sum(int(np.count_nonzero(p)) for p in ckpt.params.values())
    labels = ckpt.labels
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
        "pixels_used": int(mask.any(axis=0).sum()),
        "n_regions": int(sum(len(np.unique(m[m > 0])) for m in labels)) if labels is not None else None,
        "ratio_q10": float(np.quantile(ratios, 0.1)),
        "ratio_median": float(np.median(ratios)),
        "ratio_q90": float(np.quantile(ratios, 0.9)),
    }


def run_row(settings_row: dict[str, Any], stages: pd.DataFrame) -> dict[str, Any]:
    """One row of runs.parquet: every setting, then baseline and final measures."""
    base = stages.loc[stages["stage"] == "baseline"].iloc[0]
    final = stages.sort_values("iteration").iloc[-1]
    return {
        **settings_row,
        "baseline_acc": float(base["test_acc"]),
        "magnitude_acc": float(stages.loc[stages["stage"] == "magnitude", "test_acc"].iloc[0]),
        "final_acc": float(final["test_acc"]),
        "final_stage": str(final["stage"]),
        "final_iteration": int(final["iteration"]),
        "w1_density": float(final["w1_density"]),
        "total_params": int(final["total_params"]),
        "nonzero_params": int(final["nonzero_params"]),
        "neurons_ge90_pruned": float(final["neurons_ge90_pruned"]),
        "neurons_le40_pruned": float(final["neurons_le40_pruned"]),
        "neurons_dead": int(final["neurons_dead"]),
        "pixels_used": int(final["pixels_used"]),
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
