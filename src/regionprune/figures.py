"""Figures like the paper's, as functions from arrays to matplotlib Figures (no file I/O).

Colours follow the paper's Fig. 1: red for positive weights, blue for negative, brighter for larger
|w|, each neuron's map scaled by its own largest surviving |w|; removed weights are black.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

GAP = 0.35  # grey of the lines between tiles


def weight_rgb(weight: NDArray, mask: NDArray, shape: tuple[int, int]) -> NDArray[np.float64]:
    """``(neurons, H, W, 3)`` colours of each neuron's input weights."""
    w = np.where(mask, weight, 0.0).astype(np.float64)
    scale = np.abs(w).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    v = (w / scale).reshape(-1, *shape)
    rgb = np.zeros((*v.shape, 3))
    rgb[..., 0] = np.clip(v, 0, 1)
    rgb[..., 2] = np.clip(-v, 0, 1)
    return rgb


def regions_rgb(labels: NDArray) -> NDArray[np.float64]:
    """``(neurons, H, W, 3)``: regions white on black (the paper's Fig. 4)."""
    return np.repeat((labels > 0)[..., None], 3, axis=-1).astype(np.float64)


def mosaic(tiles: NDArray, ncols: int = 10) -> NDArray[np.float64]:
    """Tiles ``(n, H, W, 3)`` in a grid, one grey pixel between them."""
    n, h, w, _ = tiles.shape
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + 1) + 1, ncols * (w + 1) + 1, 3), GAP)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = tile
    return out


def tile_figure(tiles: NDArray, title: str, ncols: int = 10) -> Figure:
    """All neurons' maps in one grid, each tile numbered by its neuron."""
    img = mosaic(tiles, ncols)
    h, w = tiles.shape[1:3]
    fig, ax = plt.subplots(figsize=(img.shape[1] / 28, img.shape[0] / 28 + 0.5), dpi=100)
    ax.imshow(img, interpolation="nearest")
    for i in range(len(tiles)):
        r, c = divmod(i, ncols)
        ax.text(2 + c * (w + 1), 4 + r * (h + 1), str(i), color="yellow", fontsize=6)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def neuron_figure(panels: list[tuple[str, NDArray]], neuron: int) -> Figure:
    """One neuron large, one panel per stage (the paper's Fig. 5)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6))
    for ax, (title, img) in zip(np.atleast_1d(axes), panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"hidden neuron {neuron}")
    fig.tight_layout()
    return fig


def ratio_histogram(ratios: NDArray, title: str) -> Figure:
    """Per-neuron pruning ratios, with the paper's 40% and 90% marks."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(ratios, bins=np.linspace(0, 1, 21), color="0.3", edgecolor="white")
    for x in (0.4, 0.9):
        ax.axvline(x, color="tab:red", linestyle="--", linewidth=1)
    ge90, le40 = np.mean(ratios >= 0.9), np.mean(ratios <= 0.4)
    ax.set_xlabel("fraction of the neuron's input weights removed")
    ax.set_ylabel("hidden neurons")
    ax.set_title(f"{title}\n>=90%: {ge90:.0%} of neurons, <=40%: {le40:.0%}", fontsize=9)
    fig.tight_layout()
    return fig


def stages_figure(stages: pd.DataFrame) -> Figure:
    """Test accuracy and W1 density over the stages of one run."""
    s = stages.sort_values("iteration")
    names = ["baseline" if i < 0 else "magnitude" if i == 0 else f"iter {i}" for i in s["iteration"]]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(s))
    ax.plot(x, 100 * s["test_acc"], "o-", color="tab:blue", label="test accuracy")
    ax.set_ylabel("test accuracy (%)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(x, s["w1_density"], "s--", color="tab:orange", label="W1 density")
    ax2.set_ylabel("W1 density (surviving fraction)", color="tab:orange")
    ax2.set_ylim(0, 1.05)
    ax.set_xticks(x, names, rotation=30)
    ax.set_title("accuracy and W1 density over the stages", fontsize=10)
    fig.tight_layout()
    return fig


def pick_neuron(ratios: NDArray, target: float = 0.35) -> int:
    """The neuron whose pruning ratio is closest to ``target`` (the paper's Fig. 5 shows ~35%)."""
    alive = ratios < 1.0
    if not alive.any():
        return 0
    dist = np.where(alive, np.abs(ratios - target), np.inf)
    return int(np.argmin(dist))


def outline(ax: plt.Axes, member: NDArray, color: str) -> None:
    """Draw the border of a boolean map's pixels (a region) on an image axis."""
    if member.any():
        ax.contour(member.astype(float), levels=[0.5], colors=[color], linewidths=0.9)


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
    fig, axes = plt.subplots(rows, n, figsize=(1.45 * n, 1.5 * rows + 0.6), squeeze=False)
    for c in range(n):
        axes[0, c].imshow(mean_images[c], cmap="gray", interpolation="nearest")
        axes[0, c].set_title(class_names[c], fontsize=8)
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
                ax.set_title(name, fontsize=7, pad=2, color=RANK_COLOURS[r % len(RANK_COLOURS)])
            else:
                ax.set_axis_off()
        for a in axes[:, c]:
            a.set_xticks([])
            a.set_yticks([])
    labels = ["mean image", "evidence", "class-specific"] + (["top regions"] if k else [])
    for r, label in enumerate(labels):
        axes[r, 0].set_ylabel(label, fontsize=8)
    for r in range(k):
        axes[4 + r, 0].set_ylabel(f"region #{r + 1}", fontsize=8,
                                  color=RANK_COLOURS[r % len(RANK_COLOURS)])  # fmt: skip
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def gallery_figure(
    tiles: NDArray, outlines: list[NDArray], titles: list[str], title: str, ncols: int = 6
) -> Figure:
    """Hidden neurons, most important first: surviving weights (red +, blue -), region
    borders in yellow, and the classes each neuron serves most (``+c`` supports, ``-c`` opposes)."""
    n = len(tiles)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(tiles[i], interpolation="nearest")
        for k in range(1, int(outlines[i].max()) + 1):
            outline(ax, outlines[i] == k, "yellow")
        ax.set_title(titles[i], fontsize=6.5)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


DELETION_STYLE = {
    "region": {"color": "tab:red", "linestyle": "-", "label": "regions by importance"},
    "random": {"color": "0.4", "linestyle": "-", "label": "random regions (mean, sd)"},
    "input_x_gradient": {"color": "tab:blue", "linestyle": "--", "label": "input x gradient"},
    "integrated_gradients": {"color": "tab:green", "linestyle": ":",
                             "label": "integrated gradients"},  # fmt: skip
}


def deletion_figure(deletion: pd.DataFrame, class_names: list[str], title: str) -> Figure:
    """Class accuracy as W1 weights are deleted in each method's order, one panel per class and
    one for the mean over classes; the random control as mean and a band of one sd."""
    classes = sorted(deletion["class"].unique())
    panels = [*classes, "mean"]
    ncols = 6
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.1 * nrows), squeeze=False,
                             sharex=True, sharey=True)  # fmt: skip
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    for ax, panel in zip(axes.ravel(), panels):
        d = deletion if panel == "mean" else deletion[deletion["class"] == panel]
        for method, style in DELETION_STYLE.items():
            m = d[d["method"] == method]
            if m.empty:
                continue
            # per draw, the mean over the panel's classes; then mean and sd over draws
            per_draw = m.groupby(["draw", "budget"])["class_acc"].mean().unstack("budget")
            mean, sd = per_draw.mean(), per_draw.std().fillna(0.0)
            x = 100 * mean.index.to_numpy()
            ax.plot(x, 100 * mean.to_numpy(), **style)
            if method == "random":
                ax.fill_between(x, 100 * (mean - sd), 100 * (mean + sd), color="0.4", alpha=0.25)
        ax.set_title("mean over classes" if panel == "mean" else class_names[panel], fontsize=8)
        ax.set_ylim(-2, 102)
    for ax in axes[-1]:
        ax.set_xlabel("surviving W1 weights deleted (%)", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("class accuracy (%)", fontsize=7)
    axes.ravel()[len(panels) - 1].legend(fontsize=6, loc="lower left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
