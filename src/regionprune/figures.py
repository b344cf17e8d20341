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
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter  # noqa: E402
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


def _facets(runs: pd.DataFrame, keys: list[str]) -> dict[str, list[str]]:
    """Panel title -> run ids, one panel per combination of the varying ``keys``."""
    if not keys:
        return {"all runs": list(runs["run"])}
    out: dict[str, list[str]] = {}
    for values, g in runs.groupby([runs[k].astype(str) for k in keys], sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        title = ", ".join(f"{k.split('_', 1)[-1] if k != 'iterations' else k}={v}"
                          for k, v in zip(keys, values))  # fmt: skip
        out[title] = list(g["run"])
    return out


METHOD_COLOURS = {"region": "tab:red", "magnitude": "tab:blue", "random": "tab:gray"}


def accuracy_density_figure(runs: pd.DataFrame, iterations: pd.DataFrame, keys: list[str]) -> Figure:
    """Test accuracy against W1 density per method: mean over seeds, bars one s.d."""
    facets = _facets(runs, keys)
    fig, axes = plt.subplots(1, len(facets), figsize=(4.2 * len(facets), 3.6), squeeze=False)
    its = iterations.merge(runs[["run", "method"]], on="run")
    its = its[its["iteration"] >= 0]
    for ax, (title, ids) in zip(axes[0], facets.items()):
        sub = its[its["run"].isin(ids)]
        for method, g in sub.groupby("method"):
            agg = g.groupby("iteration").agg(
                d=("w1_density", "mean"), a=("test_acc", "mean"), s=("test_acc", "std")
            )
            ax.errorbar(agg["d"], 100 * agg["a"], yerr=100 * agg["s"].fillna(0), marker="o",
                        ms=3, capsize=2, color=METHOD_COLOURS.get(method), label=method)  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("W1 density (log scale)")
        ax.set_title(title, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def ratio_histograms_figure(runs: pd.DataFrame, neurons: pd.DataFrame, keys: list[str]) -> Figure:
    """Final per-neuron pruning ratios, pooled over seeds: methods by rows, settings by columns."""
    facets = _facets(runs, [k for k in keys if k != "method"])
    methods = list(dict.fromkeys(runs["method"]))
    fig, axes = plt.subplots(len(methods), len(facets), squeeze=False,
                             figsize=(3.2 * len(facets), 2.4 * len(methods)))  # fmt: skip
    nm = neurons.merge(runs[["run", "method"]], on="run")
    for i, method in enumerate(methods):
        for j, (title, ids) in enumerate(facets.items()):
            ax = axes[i][j]
            r = nm[(nm["method"] == method) & nm["run"].isin(ids)]["pruning_ratio"]
            ax.hist(r, bins=np.linspace(0, 1, 21), color=METHOD_COLOURS.get(method, "0.3"))
            ax.set_title(f"{method}; {title}" if len(facets) > 1 else method, fontsize=7)
            ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("pruning ratio", fontsize=8)
    fig.tight_layout()
    return fig


def pixel_usage_figure(
    runs: pd.DataFrame, pixels: pd.DataFrame, keys: list[str], shape: tuple[int, int]
) -> Figure:
    """Per input pixel, hidden neurons still using it after the last iteration (mean over seeds)."""
    facets = _facets(runs, [k for k in keys if k != "method"])
    methods = list(dict.fromkeys(runs["method"]))
    fig, axes = plt.subplots(len(methods), len(facets), squeeze=False,
                             figsize=(2.8 * len(facets), 2.8 * len(methods)))  # fmt: skip
    pm = pixels.merge(runs[["run", "method"]], on="run")
    vmax = max(1, pm.groupby(["run"])["neurons"].max().max())
    for i, method in enumerate(methods):
        for j, (title, ids) in enumerate(facets.items()):
            ax = axes[i][j]
            sub = pm[(pm["method"] == method) & pm["run"].isin(ids)]
            img = sub.groupby("pixel")["neurons"].mean().reindex(range(shape[0] * shape[1]))
            im = ax.imshow(img.to_numpy().reshape(shape), cmap="magma", vmin=0, vmax=vmax)
            used = int((img > 0).sum())
            text = f"{used} pixels used by any seed"
            if "inactive" in sub:  # never-inked pixels, outlined in cyan
                blank = sub.groupby("pixel")["inactive"].all().reindex(img.index, fill_value=False)
                blank_used = int((blank & (img > 0)).sum())
                _outline(ax, blank.to_numpy().reshape(shape), "cyan")
                text += f"\n({blank_used} never inked, in cyan)"
            ax.set_title(f"{method}; {title}\n{text}" if len(facets) > 1
                         else f"{method}: {text}", fontsize=7)  # fmt: skip
            ax.set_axis_off()
    fig.colorbar(im, ax=axes, shrink=0.6, label="hidden neurons using the pixel")
    return fig


def _outline(ax: plt.Axes, member: NDArray, color: str) -> None:
    """Draw the border of a boolean map's pixels (a region) on an image axis."""
    if member.any():
        ax.contour(member.astype(float), levels=[0.5], colors=[color], linewidths=0.9)


def evidence_maps_figure(
    mean_images: NDArray,
    maps: NDArray,
    specific: NDArray,
    top: list[list[tuple[str, NDArray]]],
    class_names: list[str],
    title: str,
) -> Figure:
    """Per class, a column: its mean test image; its evidence map (red: the regions there
    support the class, blue: they oppose it); the class-specific evidence (``specific``: what the
    regions do for this class beyond what they do for all, see
    ``evidence.specific_importance``), each map scaled by its own largest |value|; then its most
    important regions one per row, as ``(name, (H, W, 3) colours)`` of their surviving weights
    (red +, blue -, the rest black)."""
    n = len(maps)
    k = max((len(t) for t in top), default=0)
    fig, axes = plt.subplots(3 + k, n, figsize=(1.45 * n, 1.5 * (3 + k) + 0.5), squeeze=False)
    for c in range(n):
        axes[0, c].imshow(mean_images[c], cmap="gray", interpolation="nearest")
        axes[0, c].set_title(class_names[c], fontsize=8)
        for row, m in ((1, maps[c]), (2, specific[c])):
            vmax = float(np.abs(m).max()) or 1.0
            axes[row, c].imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
        for r in range(k):
            ax = axes[3 + r, c]
            if r < len(top[c]):
                name, rgb = top[c][r]
                ax.imshow(rgb, interpolation="nearest")
                ax.set_title(name, fontsize=7, pad=2)
            else:
                ax.set_axis_off()
        for a in axes[:, c]:
            a.set_xticks([])
            a.set_yticks([])
    for r, label in enumerate(("mean image", "evidence", "class-specific")):
        axes[r, 0].set_ylabel(label, fontsize=8)
    for r in range(k):
        axes[3 + r, 0].set_ylabel(f"region #{r + 1}", fontsize=8)
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
            _outline(ax, outlines[i] == k, "yellow")
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
