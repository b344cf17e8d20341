"""Figures across a grid of runs, as functions from the summary tables to matplotlib Figures.

Every figure takes ``keys``, the settings that vary in the grid besides the seed and the method,
and draws one panel (or column of panels) per combination of them; seeds are averaged. The tables
are the tidy summary tables (``labels.tidy``): every row carries its run's settings.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: E402

from regionprune.figures import acc_axis, mark_paper_groups, outline  # noqa: E402


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


METHOD_COLOURS = {"region": "tab:red", "magnitude": "tab:blue", "random": "tab:gray"}
#: Line style and marker per method, so that the lines differ without colour too.
METHOD_STYLES = {"region": ("-", "o"), "magnitude": ("--", "s"), "random": (":", "^")}


def accuracy_density_figure(runs: pd.DataFrame, iterations: pd.DataFrame, keys: list[str]) -> Figure:
    """Test accuracy against W1 density per method: mean over seeds, bars one s.d."""
    facets = _facets(runs, keys)
    fig, axes = plt.subplots(1, len(facets), figsize=(4.2 * len(facets) + 1.6, 3.8),
                             squeeze=False, sharey=True)  # fmt: skip
    its = iterations[iterations["iteration"] >= 0]
    for ax, (title, ids) in zip(axes[0], facets.items()):
        sub = its[its["run"].isin(ids)]
        for method, g in sub.groupby("method"):
            agg = g.groupby("iteration").agg(
                d=("w1_density", "mean"), a=("test_acc", "mean"), s=("test_acc", "std")
            )
            ls, marker = METHOD_STYLES.get(method, ("-", "o"))
            ax.errorbar(agg["d"], 100 * agg["a"], yerr=100 * agg["s"].fillna(0), marker=marker,
                        linestyle=ls, ms=3.5, capsize=2, color=METHOD_COLOURS.get(method),
                        label=method)  # fmt: skip
        _log_density_axis(ax)
        ax.set_xlabel("W1 density (surviving fraction, log scale)", fontsize=8)
        ax.set_title(title, fontsize=8)
        ax.grid(alpha=0.3)
    acc_axis(axes[0][0])
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=8, title="method", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       frameon=False)  # fmt: skip
    fig.suptitle("Test accuracy against W1 density, stage by stage (mean over seeds, bars: 1 s.d.)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def ratio_histograms_figure(runs: pd.DataFrame, neurons: pd.DataFrame, keys: list[str]) -> Figure:
    """Final per-neuron pruning ratios, pooled over seeds: methods by rows, settings by columns."""
    facets = _facets(runs, [k for k in keys if k != "method"])
    methods = list(dict.fromkeys(runs["method"]))
    fig, axes = plt.subplots(len(methods), len(facets), squeeze=False,
                             figsize=(3.2 * len(facets), 2.4 * len(methods)))  # fmt: skip
    for i, method in enumerate(methods):
        for j, (title, ids) in enumerate(facets.items()):
            ax = axes[i][j]
            r = neurons[(neurons["method"] == method) & neurons["run"].isin(ids)]["pruning_ratio"]
            ax.hist(r, bins=np.linspace(0, 1, 21), color=METHOD_COLOURS.get(method, "0.3"))
            mark_paper_groups(ax, "black", 0.8)
            ax.set_title(f"{method}; {title}" if len(facets) > 1 else method, fontsize=7)
            ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("fraction of the neuron's input weights removed", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("hidden neurons\n(all seeds)", fontsize=7)
    fig.suptitle("Per-neuron pruning ratios after the last iteration (dashed: 40% and 90%)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def pixel_usage_figure(
    runs: pd.DataFrame,
    pixels: pd.DataFrame,
    keys: list[str],
    shapes: dict[str, tuple[int, int]],
) -> Figure:
    """Per input pixel, hidden neurons still using it after the last iteration (mean over seeds);
    ``shapes``: each data set's image shape (a facet's runs share one data set, or the grid
    varies the data set, which makes it a facet key)."""
    dataset_of = dict(zip(runs["run"], runs["train_dataset"].astype(str)))
    facets = _facets(runs, [k for k in keys if k != "method"])
    methods = list(dict.fromkeys(runs["method"]))
    fig, axes = plt.subplots(len(methods), len(facets), squeeze=False,
                             figsize=(2.8 * len(facets), 2.8 * len(methods)))  # fmt: skip
    vmax = max(1, pixels.groupby(["run"])["neurons"].max().max())
    for i, method in enumerate(methods):
        for j, (title, ids) in enumerate(facets.items()):
            ax = axes[i][j]
            sub = pixels[(pixels["method"] == method) & pixels["run"].isin(ids)]
            shape = shapes[dataset_of[ids[0]]]
            img = sub.groupby("pixel")["neurons"].mean().reindex(range(shape[0] * shape[1]))
            im = ax.imshow(img.to_numpy().reshape(shape), cmap="magma", vmin=0, vmax=vmax)
            used = int((img > 0).sum())
            text = f"{used} pixels used by any seed"
            if "inactive" in sub:  # never-inked pixels, outlined in cyan
                blank = sub.groupby("pixel")["inactive"].all().reindex(img.index, fill_value=False)
                blank_used = int((blank & (img > 0)).sum())
                outline(ax, blank.to_numpy().reshape(shape), "cyan")
                text += f"\n({blank_used} never inked, in cyan)"
            ax.set_title(f"{method}; {title}\n{text}" if len(facets) > 1
                         else f"{method}: {text}", fontsize=7)  # fmt: skip
            ax.set_axis_off()
    fig.colorbar(im, ax=axes, shrink=0.6, label="hidden neurons using the pixel (mean over seeds)")
    fig.suptitle("Input pixels in use after the last iteration", fontsize=9)
    return fig


def _log_density_axis(ax: plt.Axes) -> None:
    ax.set_xscale("log")
    # 1-2-5 ticks; a span of less than a decade gets every digit, so that it has enough ticks
    low, high = ax.get_xlim()
    subs = (1.0, 2.0, 5.0) if high / max(low, 1e-12) > 10 else tuple(range(1, 10))
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
    accuracy against the pixels in use. A line per method (colour) and region variant (line
    style); the legend gives each line's last stage. A 2x2 block of panels per combination of
    the other varying settings."""
    line_keys = [k for k in keys if k.startswith("region_")]
    facets = _facets(runs, [k for k in keys if not k.startswith("region_")])
    lines = runs[["run"]].copy()
    lines["line"] = [
        ", ".join(_setting_text(k, v) for k, v in zip(line_keys, row))
        for row in runs[line_keys].itertuples(index=False)
    ]
    styles = {name: LINE_STYLES[i % len(LINE_STYLES)]
              for i, name in enumerate(dict.fromkeys(lines["line"]))}  # fmt: skip
    its = iterations.merge(lines, on="run")
    its = its[its["iteration"] >= 0]
    fig, grid = plt.subplots(2, 2 * len(facets), squeeze=False,
                             figsize=(9.0 * len(facets), 7.4))  # fmt: skip
    for f, (title, ids) in enumerate(facets.items()):
        axes = [grid[0][2 * f], grid[0][2 * f + 1], grid[1][2 * f], grid[1][2 * f + 1]]
        sub = its[its["run"].isin(ids)]
        for (method, line), g in sub.groupby(["method", "line"], sort=False):
            agg = g.groupby("iteration")[["w1_density", "test_acc", "region_px_median",
                                          "pixels_used"]].mean()  # fmt: skip
            last = agg.iloc[-1]
            label = (f"{method}{', ' + line if line else ''}: {100 * last['test_acc']:.2f}%,"
                     f" density {last['w1_density']:.3f}, regions {last['region_px_median']:.0f} px,"
                     f" {last['pixels_used']:.0f} pixels")  # fmt: skip
            ls, marker = styles[line]
            for i, (x, y, _) in enumerate(FRONTIER_PANELS):
                scale = 100 if y == "test_acc" else 1
                axes[i].plot(agg[x], scale * agg[y], linestyle=ls, marker=marker, ms=3.5,
                             color=METHOD_COLOURS.get(method, "0.3"),
                             label=label if i == 0 else None)  # fmt: skip
        for ax, (x, y, ylabel) in zip(axes, FRONTIER_PANELS):
            if x == "w1_density":
                _log_density_axis(ax)
                ax.set_xlabel("W1 density (surviving fraction, log scale)", fontsize=8)
            else:
                ax.set_xlabel("input pixels in use", fontsize=8)
            if y == "region_px_median":
                ax.set_yscale("log")
            if y == "test_acc":
                acc_axis(ax)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
        if title:
            axes[0].set_title(title, fontsize=9, loc="left")
    fig.suptitle("What readability costs: accuracy, region size and pixels in use, stage by stage",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    # legends after the layout, below each block: saved with bbox_inches="tight"
    for f in range(len(facets)):
        handles, labels = grid[0][2 * f].get_legend_handles_labels()
        grid[1][2 * f].legend(handles, labels, loc="upper left", bbox_to_anchor=(0.0, -0.16),
                              fontsize=7.5, frameon=False, title_fontsize=7.5,
                              title="method, region variant: last stage (mean over seeds)")  # fmt: skip
    return fig
