"""Figures across a grid of runs, as functions from the summary tables to matplotlib Figures.

Every figure takes ``keys``, the settings that vary in the grid besides the seed and the method,
and draws one panel (or column of panels) per combination of them, three to a row (the frontier:
a line each); seeds are averaged. Text is 9 pt or more and a figure at most about 11 inches wide,
so that the report shows it legibly (``figures.MIN_TEXT_PT``). The tables are the tidy summary
tables (``labels.tidy``): every row carries its run's settings.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from regionprune.workflow.figures.run import (  # noqa: E402
    acc_axis,
    mark_paper_groups,
    outline,
    outline_segments,
)


def _setting_text(key: str, value: object) -> str:
    """``cut=0.1`` for a setting column; a region variant by its name alone."""
    if key == "region_variant":
        return str(value)
    return f"{key.split('_', 1)[-1] if key != 'iterations' else key}={value}"


def _facets(runs: pd.DataFrame, keys: list[str]) -> dict[str, list[str]]:
    """Panel title -> run ids, one panel per combination of the varying ``keys``."""
    if not keys:
        return {"": list(runs["run"])}
    out: dict[str, list[str]] = {}
    for values, g in runs.groupby([runs[k].astype(str) for k in keys], sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        title = ", ".join(_setting_text(k, v) for k, v in zip(keys, values))
        out[title] = list(g["run"])
    return out


#: Facets side by side at most: more wrap to further rows, so that a figure of a larger grid
#: grows in height, not past the width at which the report shows it legibly.
FACETS_PER_ROW = 3


def _wrap(n: int, per_row: int = FACETS_PER_ROW) -> tuple[int, int]:
    """(rows, columns) of ``n`` facets, ``per_row`` to a row."""
    cols = min(n, per_row)
    return -(-n // cols), cols


METHOD_COLOURS = {"region": "tab:red", "magnitude": "tab:blue", "random": "tab:gray"}
#: Line style and marker per method, so that the lines differ without colour too.
METHOD_STYLES = {"region": ("-", "o"), "magnitude": ("--", "s"), "random": (":", "^")}


def accuracy_density_figure(
    runs: pd.DataFrame, iterations: pd.DataFrame, keys: list[str]
) -> Figure:
    """Test accuracy against W1 density per method: mean over seeds, bars one s.d."""
    facets = _facets(runs, keys)
    nrows, ncols = _wrap(len(facets))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols + 0.4, 3.0 * nrows + 0.9), squeeze=False, sharey=True
    )
    for ax in axes.ravel()[len(facets) :]:
        ax.set_axis_off()
    its = iterations[iterations["iteration"] >= 0]
    for ax, (title, ids) in zip(axes.ravel(), facets.items()):
        sub = its[its["run"].isin(ids)]
        for method, g in sub.groupby("method"):
            agg = g.groupby("iteration").agg(
                d=("w1_density", "mean"), a=("test_acc", "mean"), s=("test_acc", "std")
            )
            ls, marker = METHOD_STYLES.get(method, ("-", "o"))
            ax.errorbar(
                agg["d"],
                100 * agg["a"],
                yerr=100 * agg["s"].fillna(0),
                marker=marker,
                linestyle=ls,
                ms=3.5,
                capsize=2,
                color=METHOD_COLOURS.get(method),
                label=method,
            )
        _log_density_axis(ax)
        ax.set_xlabel("W1 density (log scale)", fontsize=9)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    acc_axis(axes[0][0])
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (%)", fontsize=9)
    fig.suptitle(
        "Test accuracy against W1 density, stage by stage\n(mean over seeds, bars: 1 s.d.)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.6 / fig.get_figheight(), 1, 1))
    handles, names = axes[0][0].get_legend_handles_labels()  # below the panels, in one row
    fig.legend(
        handles,
        names,
        loc="lower center",
        ncol=len(names),
        fontsize=9,
        frameon=False,
        title="method",
        title_fontsize=9,
    )
    return fig


def _method_facet_axes(
    n_methods: int, n_facets: int, width: float, height: float, per_row: int
) -> tuple[Figure, NDArray]:
    """A panel per method (rows) and facet (columns), the facets wrapped ``per_row`` to a row
    (a block of method rows each); ``axes[i, j]`` is method i's panel of facet j."""
    blocks, ncols = _wrap(n_facets, per_row)
    fig, grid = plt.subplots(
        blocks * n_methods,
        ncols,
        squeeze=False,
        figsize=(width * ncols, height * blocks * n_methods + 0.4),
        layout="constrained",
    )
    axes = np.empty((n_methods, n_facets), dtype=object)
    for j in range(n_facets):
        block, col = divmod(j, ncols)
        for i in range(n_methods):
            axes[i, j] = grid[block * n_methods + i, col]
    used = set(axes.ravel())
    for ax in grid.ravel():
        if ax not in used:
            ax.set_axis_off()
    return fig, axes


def ratio_histograms_figure(runs: pd.DataFrame, neurons: pd.DataFrame, keys: list[str]) -> Figure:
    """Final per-neuron pruning ratios, pooled over seeds: a panel per setting, the methods as
    outlines over each other (a panel per method and setting grew too tall to read)."""
    facets = _facets(runs, [k for k in keys if k != "method"])
    methods = list(dict.fromkeys(runs["method"]))
    nrows, ncols = _wrap(len(facets))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.2 * ncols + 0.4, 2.6 * nrows + 1.0), squeeze=False, sharex=True
    )
    for ax in axes.ravel()[len(facets) :]:
        ax.set_axis_off()
    for ax, (title, ids) in zip(axes.ravel(), facets.items()):
        for method in methods:
            r = neurons[(neurons["method"] == method) & neurons["run"].isin(ids)]["pruning_ratio"]
            ls, _ = METHOD_STYLES.get(method, ("-", "o"))
            ax.hist(
                r,
                bins=np.linspace(0, 1, 21),
                histtype="step",
                linewidth=1.6,
                linestyle=ls,
                color=METHOD_COLOURS.get(method, "0.3"),
                label=method,
            )
        mark_paper_groups(ax, "black", 0.8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=9)
        ax.set_xlabel("input weights removed", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("hidden neurons\n(all seeds)", fontsize=9)
    fig.suptitle(
        "Per-neuron pruning ratios after the last iteration\n(dashed: 40% and 90%)", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=9, frameon=False)
    return fig


def pixel_usage_figure(
    runs: pd.DataFrame, pixels: pd.DataFrame, keys: list[str], shapes: dict[str, tuple[int, int]]
) -> Figure:
    """Per input pixel, hidden neurons still using it after the last iteration (mean over seeds);
    ``shapes``: each data set's image shape (a facet's runs share one data set, or the grid
    varies the data set, which makes it a facet key)."""
    dataset_of = dict(zip(runs["run"], runs["train_dataset"].astype(str)))
    facets = _facets(runs, [k for k in keys if k != "method"])
    methods = list(dict.fromkeys(runs["method"]))
    # small maps, six settings to a row: a figure of a larger grid stays legible
    fig, axes = _method_facet_axes(len(methods), len(facets), 1.6, 1.9, per_row=6)
    vmax = max(1, pixels.groupby(["run"])["neurons"].max().max())
    for i, method in enumerate(methods):
        for j, (title, ids) in enumerate(facets.items()):
            ax = axes[i][j]
            sub = pixels[(pixels["method"] == method) & pixels["run"].isin(ids)]
            shape = shapes[dataset_of[ids[0]]]
            img = sub.groupby("pixel")["neurons"].mean().reindex(range(shape[0] * shape[1]))
            im = ax.imshow(img.to_numpy().reshape(shape), cmap="magma", vmin=0, vmax=vmax)
            used = int((img > 0).sum())
            text = f"{used} in use"
            if "inactive" in sub:  # never-inked pixels, outlined in cyan
                blank = sub.groupby("pixel")["inactive"].all().reindex(img.index, fill_value=False)
                blank_used = int((blank & (img > 0)).sum())
                outline(ax, outline_segments(blank.to_numpy().reshape(shape)), "cyan")
                text += f" ({blank_used}\nnever inked)"
            ax.set_title("\n".join(filter(None, [method, title, text])), fontsize=9)
            ax.set_axis_off()
    # below the panels: a bar beside them was shorter than its label, which ran into the title
    bar = fig.colorbar(im, ax=list(axes.ravel()), orientation="horizontal", shrink=0.9, aspect=20)
    bar.set_label("hidden neurons using the pixel\n(mean over seeds)", fontsize=9)
    bar.ax.tick_params(labelsize=9)
    fig.suptitle(
        "Input pixels in use after the last iteration"
        + ("\n(outlined in cyan: pixels no training image inks)" if "inactive" in pixels else ""),
        fontsize=10,
    )
    return fig


def _log_density_axis(ax: plt.Axes) -> None:
    ax.set_xscale("log")
    # 1-2-5 ticks; a span of less than a factor 4 gets every digit, so that it has enough ticks
    low, high = ax.get_xlim()
    subs = (1.0, 2.0, 5.0) if high / max(low, 1e-12) > 4 else tuple(range(1, 10))
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


#: Line style and marker per region variant (or other region setting) in the frontier figure.
LINE_STYLES = (("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ((0, (5, 1, 1, 1)), "v"))
#: (x, y, y label) of the frontier figure's four panels, left to right, top to bottom.
FRONTIER_PANELS = (
    ("w1_density", "test_acc", "test accuracy (%)"),
    ("w1_density", "region_px_median", "median region size (pixels, log scale)"),
    ("w1_density", "pixels_used", "input pixels in use"),
    ("pixels_used", "test_acc", "test accuracy (%)"),
)


def frontier_figure(runs: pd.DataFrame, iterations: pd.DataFrame, keys: list[str]) -> Figure:
    """What readability costs. Every stage of every run (iteration 0 on, mean over seeds): test
    accuracy, the regions' median size and the input pixels in use against W1 density, and
    accuracy against the pixels in use. A line per method (colour) and combination of the other
    varying settings (line style and marker), all in one 2x2 block of panels, so that the
    figure keeps its size for any grid; the legend gives each line's last stage."""
    line_keys = [k for k in keys if k != "method"]
    lines = runs[["run"]].copy()
    lines["line"] = [
        ", ".join(_setting_text(k, v) for k, v in zip(line_keys, row))
        for row in runs[line_keys].itertuples(index=False)
    ]
    styles = {
        name: LINE_STYLES[i % len(LINE_STYLES)]
        for i, name in enumerate(dict.fromkeys(lines["line"]))
    }
    its = iterations.merge(lines, on="run")
    its = its[its["iteration"] >= 0]
    fig, grid = plt.subplots(2, 2, figsize=(8.6, 7.0))
    axes = list(grid.ravel())
    for (method, line), g in its.groupby(["method", "line"], sort=False):
        agg = g.groupby("iteration")[
            ["w1_density", "test_acc", "region_px_median", "pixels_used"]
        ].mean()
        last = agg.iloc[-1]
        label = (
            f"{method}{', ' + line if line else ''}: {100 * last['test_acc']:.2f}% · "
            f"{last['w1_density']:.3f} · {last['region_px_median']:.0f} px · "
            f"{last['pixels_used']:.0f}"
        )
        ls, marker = styles[line]
        for i, (x, y, _) in enumerate(FRONTIER_PANELS):
            scale = 100 if y == "test_acc" else 1
            axes[i].plot(
                agg[x],
                scale * agg[y],
                linestyle=ls,
                marker=marker,
                ms=3.5,
                color=METHOD_COLOURS.get(method, "0.3"),
                label=label if i == 0 else None,
            )
    for ax, (x, y, ylabel) in zip(axes, FRONTIER_PANELS):
        if x == "w1_density":
            _log_density_axis(ax)
            ax.set_xlabel("W1 density (log scale)", fontsize=9)
        else:
            ax.set_xlabel("input pixels in use", fontsize=9)
        if y == "region_px_median":
            ax.set_yscale("log")
        if y == "test_acc":
            acc_axis(ax)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=9)
    fig.suptitle(
        "What readability costs: accuracy, region size and pixels in use,\nstage by stage",
        fontsize=10,
    )
    fig.tight_layout()
    # the legend after the layout, below the panels: saved with bbox_inches="tight"
    handles, labels = axes[0].get_legend_handles_labels()
    axes[2].legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(0.0, -0.16),
        fontsize=9,
        frameon=False,
        title_fontsize=9,
        ncol=1 if len(labels) <= 6 else 2,
        title="method, setting: the last stage's accuracy · W1 density · median "
        "region · input pixels in use (mean over seeds)",
    )
    return fig
