"""Figures of a stage's decision basis: class evidence maps, neuron gallery, deletion curves
(functions from arrays and tables to matplotlib Figures, no file I/O)."""

from __future__ import annotations

import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from regionprune.core.explain.deletion import METHODS  # noqa: E402
from regionprune.workflow.figures.run import (  # noqa: E402
    PIXELS,
    outline,
    outline_segments,
    rgb_bytes,
    weight_colorbar,
)

#: Colours of a class's top regions #1, #2, ... in the evidence maps (outlines and titles).
RANK_COLOURS = ("#ff2d2d", "#00e5ff", "#ffd400", "#7cff4f", "#ff5cf4")


class PanelGrid:
    """Panels of ``h`` x ``w`` pixels in rows and columns of one image on one axis, each row
    with a band above it for its panels' titles, 1 px of white between panels: one image and a
    few texts to draw instead of an axis per panel (most of a gallery's time went to laying out
    and drawing 30-70 axes). The figure is sized so that a panel is ``panel_in`` inches wide;
    margins in inches leave room for row labels (left) and colour bars (right)."""

    def __init__(
        self,
        nrows: int,
        ncols: int,
        shape: tuple[int, int],
        bands_in: list[float],
        panel_in: float,
        margins_in: tuple[float, float, float, float],  # left, right, top, bottom
        frame: float | None = None,
    ):
        h, w = shape
        self.px = panel_in / w  # inches per image pixel
        self.bands = [max(1, round(b / self.px)) for b in bands_in]
        self.h, self.w = h, w
        tops = np.cumsum([0, *(b + h for b in self.bands)])  # each row's band starts here
        self.y0 = [int(t + b) for t, b in zip(tops, self.bands)]  # each row's first pixel row
        self.x0 = [1 + c * (w + 1) for c in range(ncols)]
        self.image = np.ones((int(tops[-1]) + 1, ncols * (w + 1) + 1, 3))
        left, right, top, bottom = margins_in
        img_h, img_w = self.image.shape[:2]
        self.size = (left + img_w * self.px + right, top + img_h * self.px + bottom)
        self.fig = plt.figure(figsize=self.size)
        width, height = self.size
        self.ax = self.fig.add_axes(
            (left / width, bottom / height, img_w * self.px / width, img_h * self.px / height)
        )
        self.ax.set_axis_off()
        self.margins = margins_in
        self.frame = frame

    def put(self, r: int, c: int, rgb: NDArray) -> None:
        """Panel (r, c)'s colours; with ``frame``, a 1 px line of that grey around it."""
        y, x = self.y0[r], self.x0[c]
        if self.frame is not None:
            self.image[y - 1 : y + self.h + 1, x - 1 : x + self.w + 1] = self.frame
        self.image[y : y + self.h, x : x + self.w] = rgb

    def shift(self, r: int, c: int, segments: NDArray) -> NDArray:
        """``outline_segments`` of panel (r, c)'s pixels, where that panel lies."""
        return segments + np.array([self.x0[c], self.y0[r]], dtype=float)

    def title(self, r: int, c: int, text: str, **kw: Any) -> None:
        """Text in the band above panel (r, c), centred on it."""
        x = self.x0[c] + (self.w - 1) / 2
        self.ax.text(x, self.y0[r] - 1.0, text, ha="center", va="bottom", fontsize=9, **kw)

    def row_label(self, r: int, text: str, **kw: Any) -> None:
        y = self.y0[r] + (self.h - 1) / 2
        self.ax.text(-2, y, text, ha="right", va="center", fontsize=9, **kw)

    def side_axis(self, first: int, last: int, fill: float = 0.8) -> plt.Axes:
        """A thin axis right of the panels, beside rows ``first`` to ``last``, ``fill`` of their
        height (colour bars)."""
        left, _, _, bottom = self.margins
        width, height = self.size
        img_h, img_w = self.image.shape[:2]
        y_top = bottom + (img_h - self.y0[first]) * self.px
        y_bottom = bottom + (img_h - self.y0[last] - self.h) * self.px
        span = y_top - y_bottom
        x = left + img_w * self.px + 0.15
        low = y_bottom + (1 - fill) / 2 * span
        return self.fig.add_axes((x / width, low / height, 0.12 / width, fill * span / height))

    def show(self) -> None:
        self.ax.imshow(rgb_bytes(self.image), interpolation=PIXELS, aspect="auto")
        self.ax.set_xlim(-0.5, self.image.shape[1] - 0.5)
        self.ax.set_ylim(self.image.shape[0] - 0.5, -0.5)


def grey_rgb(img: NDArray) -> NDArray[np.float64]:
    """An image in grey, scaled from its own minimum (black) to maximum (white), as ``imshow``
    with ``cmap="gray"`` draws it."""
    lo, hi = float(img.min()), float(img.max())
    v = (img - lo) / (hi - lo) if hi > lo else np.zeros(img.shape)
    return np.repeat(np.asarray(v, dtype=np.float64)[..., None], 3, axis=-1)


def diverging_rgb(m: NDArray) -> NDArray[np.float64]:
    """A map in ``RdBu_r`` scaled by its own largest |value| (red +, blue -, white 0)."""
    vmax = float(np.abs(m).max()) or 1.0
    return plt.get_cmap("RdBu_r")(0.5 + 0.5 * np.asarray(m) / vmax)[..., :3]


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
    bands = [0.22, 0.04, 0.04] + ([0.04] if k else []) + [0.2] * k
    grid = PanelGrid(
        rows, n, mean_images.shape[1:3], bands, 0.82, (0.75, 1.55, 0.35, 0.1), frame=0.55
    )
    colours = [RANK_COLOURS[r % len(RANK_COLOURS)] for r in range(k)]
    borders: list[list[NDArray]] = [[] for _ in range(k)]
    for c in range(n):
        grid.put(0, c, grey_rgb(mean_images[c]))
        grid.title(0, c, class_names[c])
        grid.put(1, c, diverging_rgb(maps[c]))
        grid.put(2, c, diverging_rgb(specific[c]))
        if k:
            rgb = 0.8 * grey_rgb(mean_images[c]) + 0.2  # the mean image at 80% on white
            for r, (_, _, member) in enumerate(top[c]):
                rgb[member] = 0.55 * rgb[member] + 0.45 * np.array(to_rgb(colours[r]))
                borders[r].append(grid.shift(3, c, outline_segments(member)))
            grid.put(3, c, rgb)
        for r, (name, tile, _) in enumerate(top[c]):
            grid.put(4 + r, c, tile)
            grid.title(4 + r, c, name, color=colours[r])
    grid.show()
    for r in range(k):
        outline(grid.ax, borders[r], colours[r])
    labels = ["mean\nimage", "evidence", "class-\nspecific"] + (["top\nregions"] if k else [])
    for r, label in enumerate(labels):
        grid.row_label(r, label)
    for r in range(k):
        grid.row_label(4 + r, f"region\n#{r + 1}", color=colours[r])
    grid.fig.suptitle(textwrap.fill(title, 110), fontsize=10, y=1 - 0.08 / grid.size[1])
    # the colour bars beside the rows they explain, right of the last column
    evidence = grid.fig.colorbar(
        plt.cm.ScalarMappable(plt.Normalize(-1, 1), "RdBu_r"), cax=grid.side_axis(1, 2)
    )
    evidence.set_label("for the class (red)\nor against it (blue),\n/ largest |value|", fontsize=9)
    evidence.set_ticks([-1, 0, 1])
    evidence.ax.tick_params(labelsize=9)
    if k:
        weight_colorbar(grid.fig, cax=grid.side_axis(4, rows - 1))
    return grid.fig


def gallery_figure(
    tiles: NDArray, outlines: list[NDArray], titles: list[str], title: str, ncols: int = 6
) -> Figure:
    """Hidden neurons, most important first: surviving weights (red +, blue -), region
    borders in thin grey, and the classes each neuron serves most (``+c`` supports, ``-c``
    opposes)."""
    n = len(tiles)
    nrows = max(1, -(-n // ncols))
    grid = PanelGrid(nrows, ncols, tiles.shape[1:3], [0.3] * nrows, 1.4, (0.1, 1.3, 0.35, 0.1))
    borders = []
    for i in range(n):
        r, c = divmod(i, ncols)
        grid.put(r, c, tiles[i])
        grid.title(r, c, textwrap.fill(titles[i], 16))
        for k in range(1, int(outlines[i].max()) + 1):
            borders.append(grid.shift(r, c, outline_segments(outlines[i] == k)))
    grid.show()
    outline(grid.ax, borders, "0.75", width=0.5, alpha=0.7)
    grid.fig.suptitle(title, fontsize=11, y=1 - 0.08 / grid.size[1])
    weight_colorbar(grid.fig, cax=grid.side_axis(0, nrows - 1, fill=min(0.8, 2.5 / nrows)))
    return grid.fig


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
