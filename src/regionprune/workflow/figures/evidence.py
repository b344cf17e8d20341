"""Figures of a stage's decision basis: class evidence maps, neuron gallery, deletion curves
(functions from arrays and tables to matplotlib Figures, no file I/O)."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from regionprune.core.explain.deletion import METHODS  # noqa: E402
from regionprune.workflow.figures.run import outline, side_axis, weight_colorbar  # noqa: E402

#: Colours of a class's top regions #1, #2, ... in the evidence maps (outlines and titles).
RANK_COLOURS = ("#ff2d2d", "#00e5ff", "#ffd400", "#7cff4f", "#ff5cf4")


def evidence_maps_figure(
    mean_images: NDArray,
    maps: NDArray,
    specific: NDArray,
    top: list[list[tuple[str, NDArray, NDArray]]],
    class_names: list[str],
    title: str,
) -> Figure:
    """Per class, a column: its mean test image; its evidence map (red: the regions there
    support the class, blue: they oppose it); the class-specific evidence (``specific``: what the
    regions do for this class beyond what they do for all, see
    ``evidence.specific_importance``), each map scaled by its own largest |value|; its most
    important regions outlined and tinted on the mean image, #1 first (``RANK_COLOURS``); then
    those regions one per row, as ``(name, (H, W, 3) colours, (H, W) member)``: their surviving
    weights (red +, blue -, the rest black)."""
    n = len(maps)
    k = max((len(t) for t in top), default=0)
    rows = 4 + k if k else 3
    # small panels and 9-pt text: the report shows the whole figure about 930 px wide
    fig, axes = plt.subplots(rows, n, figsize=(0.95 * n + 0.9, 1.0 * rows + 0.6), squeeze=False)
    for c in range(n):
        axes[0, c].imshow(mean_images[c], cmap="gray", interpolation="nearest")
        axes[0, c].set_title(class_names[c], fontsize=9)
        for row, m in ((1, maps[c]), (2, specific[c])):
            vmax = float(np.abs(m).max()) or 1.0
            axes[row, c].imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        if k:
            ax = axes[3, c]
            ax.imshow(mean_images[c], cmap="gray", interpolation="nearest", alpha=0.8)
            for r, (_, _, member) in enumerate(top[c]):
                colour = RANK_COLOURS[r % len(RANK_COLOURS)]
                tint = np.zeros((*member.shape, 4))
                tint[member] = (*matplotlib.colors.to_rgb(colour), 0.45)
                ax.imshow(tint, interpolation="nearest")
                outline(ax, member, colour)
        for r in range(k):
            ax = axes[4 + r, c]
            if r < len(top[c]):
                name, rgb, _ = top[c][r]
                ax.imshow(rgb, interpolation="nearest")
                ax.set_title(name, fontsize=9, pad=2, color=RANK_COLOURS[r % len(RANK_COLOURS)])
            else:
                ax.set_axis_off()
        for a in axes[:, c]:
            a.set_xticks([])
            a.set_yticks([])
    labels = ["mean\nimage", "evidence", "class-\nspecific"] + (["top\nregions"] if k else [])
    for r, label in enumerate(labels):
        axes[r, 0].set_ylabel(label, fontsize=9)
    for r in range(k):
        axes[4 + r, 0].set_ylabel(
            f"region\n#{r + 1}", fontsize=9, color=RANK_COLOURS[r % len(RANK_COLOURS)]
        )
    fig.suptitle(textwrap.fill(title, 110), fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.86, 1), h_pad=0.6, w_pad=0.2)
    # the colour bars beside the rows they explain, right of the last column
    evidence = fig.colorbar(
        plt.cm.ScalarMappable(plt.Normalize(-1, 1), "RdBu_r"),
        cax=side_axis(fig, axes[1, -1], axes[2, -1], 0.88),
    )
    evidence.set_label("for the class (red)\nor against it (blue),\n/ largest |value|", fontsize=9)
    evidence.set_ticks([-1, 0, 1])
    evidence.ax.tick_params(labelsize=9)
    if k:
        weight_colorbar(fig, cax=side_axis(fig, axes[4, -1], axes[-1, -1], 0.88))
    return fig


def gallery_figure(
    tiles: NDArray, outlines: list[NDArray], titles: list[str], title: str, ncols: int = 6
) -> Figure:
    """Hidden neurons, most important first: surviving weights (red +, blue -), region
    borders in thin grey, and the classes each neuron serves most (``+c`` supports, ``-c``
    opposes)."""
    n = len(tiles)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(1.5 * ncols + 1.0, 1.65 * nrows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(tiles[i], interpolation="nearest")
        for k in range(1, int(outlines[i].max()) + 1):
            outline(ax, outlines[i] == k, "0.75", width=0.5, alpha=0.7)
        ax.set_title(textwrap.fill(titles[i], 16), fontsize=9)
    fig.suptitle(title, fontsize=11)
    weight_colorbar(fig, list(axes.ravel()))
    return fig


def deletion_figure(deletion: pd.DataFrame, class_names: list[str], title: str) -> Figure:
    """Class accuracy as W1 weights are deleted in each method's order, one panel per class and
    one for the mean over classes; the random control as mean and a band of one sd (the deletion
    test's rows of ``deletion``; insertion and remove-and-retrain are in summary.md)."""
    if "test" in deletion.columns:
        deletion = deletion[deletion["test"] == "deletion"]
    classes = sorted(deletion["class"].unique())
    panels = [*classes, "mean"]
    ncols = 4  # rows that fit the report's frame (11 panels: 3 rows)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.2 * ncols, 2.0 * nrows + 0.5),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    for ax, panel in zip(axes.ravel(), panels):
        d = deletion if panel == "mean" else deletion[deletion["class"] == panel]
        for method, spec in METHODS.items():
            style = {**spec.style, "label": spec.label}
            m = d[d["method"] == method]
            if m.empty:
                continue
            # per draw, the mean over the panel's classes; then mean and sd over draws
            per_draw = m.groupby(["draw", "budget"])["class_acc"].mean().unstack("budget")
            mean, sd = per_draw.mean(), per_draw.std().fillna(0.0)
            x = 100 * mean.index.to_numpy()
            ax.plot(x, 100 * mean.to_numpy(), **style)
            if spec.scores is None:  # the random control: a band of one sd
                ax.fill_between(x, 100 * (mean - sd), 100 * (mean + sd), color="0.4", alpha=0.25)
        ax.set_title("mean over classes" if panel == "mean" else class_names[panel], fontsize=10)
        ax.set_ylim(-2, 102)
        ax.tick_params(labelsize=9)
    for c in range(ncols):  # each column's lowest panel (in a short last row, the one above)
        low = axes[max(r for r in range(nrows) if axes[r, c].axison), c]
        low.xaxis.set_tick_params(labelbottom=True)
        low.set_xlabel("W1 weights deleted (%)", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("class accuracy (%)", fontsize=9)
    fig.suptitle(title, fontsize=11)
    handles, names = axes.ravel()[len(panels) - 1].get_legend_handles_labels()
    rows = -(-len(names) // 3)
    fig.tight_layout(rect=(0, 0.045 * rows / nrows * 2, 1, 1))
    # one legend for every panel, below them, off the curves
    fig.legend(handles, names, loc="lower center", ncol=3, fontsize=9, frameon=False)
    return fig
