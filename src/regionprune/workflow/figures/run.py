"""Figures like the paper's, as functions from arrays to matplotlib Figures (no file I/O).

Colours follow the paper's Fig. 1: red for positive weights, blue for negative, brighter for larger
|w|, each neuron's map scaled by its own largest surviving |w|; removed weights are black.
"""

from __future__ import annotations

import logging
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

log = logging.getLogger(__name__)

GAP = 0.35  # grey of the lines between tiles
#: The colours of ``weight_rgb`` as a colour map, for its colour bar: -1 blue, 0 black, +1 red.
WEIGHT_CMAP = LinearSegmentedColormap.from_list("weights", ["#0000ff", "#000000", "#ff0000"])
WEIGHT_LABEL = "weight / largest |w| of its neuron"
#: Region colours (``regions_rgb``): 20 distinct hues, repeated for regions beyond 20.
REGION_COLOURS = plt.get_cmap("tab20").colors
#: An accuracy axis spans at least this many points, so that small changes look small.
MIN_ACC_SPAN = 5.0
#: Text on images: white with a black edge, legible on any colour.
ON_IMAGE = [patheffects.withStroke(linewidth=2, foreground="black")]
#: The report shows a figure in a frame this wide and high (CSS px), scaled down to fit where it
#: is larger: the frame's inner size in Chromium at a 1400x900 window (the browser test measures
#: it).
REPORT_FRAME_PX = (932, 862)
#: The least size of a figure's text as the report shows it, in points (CSS: 96 px per inch).
MIN_TEXT_PT = 8.0
#: Every PNG's resolution: the report shows figures about 930 px wide, so more only costs
#: drawing time (the PDF beside each PNG is the vector copy for print).
FIGURE_DPI = 150
#: The PNG text chunk that records a figure's smallest text, in the PNG's own pixels.
TEXT_PX_KEY = "Smallest text px"
#: How ``imshow`` draws every pixel map: in a PNG as nearest-neighbour (the same pixels as
#: "nearest"), in a PDF as the map's own pixels, embedded once, where "nearest" resamples it
#: to the figure's resolution first (a W1 mosaic's PDF: 25-50% more bytes, 1.5-2.3x the time).
PIXELS = "none"


def smallest_text_pt(fig: Figure) -> float:
    """The size in points of the smallest visible text of ``fig`` (titles, labels, ticks,
    legends, colour bars); inf where it has none."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    return min(sizes, default=math.inf)


def shown_text_pt(
    text_px: float, size_px: tuple[float, float], frame_px: tuple[float, float] = REPORT_FRAME_PX
) -> float:
    """The size in points at which text ``text_px`` high in a PNG of ``size_px`` (width,
    height) shows in a frame of ``frame_px``: shrunk with the image where that is larger than
    the frame, 0.75 pt per CSS px."""
    scale = min(1.0, frame_px[0] / size_px[0], frame_px[1] / size_px[1])
    return text_px * scale * 0.75


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
    """``(neurons, H, W, 3)``: each region of a neuron in its own colour on black (the paper's
    Fig. 4 draws them all white, so that touching regions cannot be told apart)."""
    palette = np.vstack([np.zeros(3), np.asarray(REGION_COLOURS)])
    index = np.where(labels > 0, (labels - 1) % len(REGION_COLOURS) + 1, 0)
    return palette[index]


def grid_columns(n: int) -> int:
    """Columns of a grid of ``n`` neuron tiles: 10 up to 100 neurons (the paper's 10 x 10),
    then about square (300 neurons: 18 columns)."""
    return max(10, math.ceil(math.sqrt(n)))


def rgb_bytes(rgb: NDArray) -> NDArray[np.uint8]:
    """Colours in [0, 1] as the bytes ``imshow`` turns them into (x 255, truncated). Given
    floats, matplotlib converts the image after resampling it to the output's pixels (a
    291 x 291 mosaic drawn 1585 x 1467): that was a quarter of a run's figure time."""
    return (np.asarray(rgb, dtype=np.float64) * 255).astype(np.uint8)


def mosaic(tiles: NDArray, ncols: int | None = None) -> NDArray[np.float64]:
    """Tiles ``(n, H, W, 3)`` in a grid, one grey pixel between them."""
    n, h, w, _ = tiles.shape
    ncols = ncols or grid_columns(n)
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + 1) + 1, ncols * (w + 1) + 1, 3), GAP)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        out[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = tile
    return out


def tile_figure(
    tiles: NDArray, title: str, ncols: int | None = None, weights: bool = True
) -> Figure:
    """All neurons' maps in one grid, each tile numbered by its neuron; ``weights``: the tiles
    are ``weight_rgb`` colours, explained by a colour bar."""
    ncols = ncols or grid_columns(len(tiles))
    img = mosaic(tiles, ncols)
    h, w = tiles.shape[1:3]
    width = img.shape[1] / 28 + 1.2
    fig, ax = plt.subplots(figsize=(width, img.shape[0] / 28 + 0.5), dpi=100)
    ax.imshow(img, interpolation=PIXELS)
    for i in range(len(tiles)):
        r, c = divmod(i, ncols)
        ax.text(
            1.5 + c * (w + 1),
            1 + r * (h + 1),
            str(i),
            color="white",
            fontsize=10,
            va="top",
            path_effects=ON_IMAGE,
        )
    # a long title wraps to the tiles' width (about 0.1 inch per character at 12 pt)
    ax.set_title(textwrap.fill(title, int(10 * (width - 1.2))), fontsize=12)
    ax.set_axis_off()
    if weights:
        weight_colorbar(fig, ax)
    fig.tight_layout()
    return fig


def weight_colorbar(
    fig: Figure, ax: plt.Axes | list[plt.Axes] | None = None, cax: plt.Axes | None = None
) -> None:
    """The colour bar of ``weight_rgb`` tiles: beside ``ax``, or in ``cax``."""
    bar = fig.colorbar(
        plt.cm.ScalarMappable(plt.Normalize(-1, 1), WEIGHT_CMAP),
        ax=ax,
        cax=cax,
        shrink=0.5,
        pad=0.02,
    )
    label = f"{WEIGHT_LABEL} (removed: black)"  # in a thin axis beside rows: wrapped
    bar.set_label(
        label if cax is None else textwrap.fill(label, 22), fontsize=10 if cax is None else 9
    )
    bar.set_ticks([-1, 0, 1])
    bar.ax.tick_params(labelsize=10)


def neuron_figure(panels: list[tuple[str, NDArray]], neuron: int) -> Figure:
    """One neuron large, one panel per stage (the paper's Fig. 5); weights as in
    ``weight_rgb``, regions as in ``regions_rgb``."""
    ncols = 2 if len(panels) > 2 else len(panels)  # compact: the paper's four stages in 2 x 2
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.7 * ncols + 1.2, 2.9 * nrows + 0.4),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    for ax, (title, img) in zip(axes.ravel(), panels):
        ax.imshow(rgb_bytes(img), interpolation=PIXELS)
        ax.set_title(textwrap.fill(title, 30), fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"hidden neuron {neuron}", fontsize=12)
    weight_colorbar(fig, list(axes.ravel()))
    return fig


def ratio_histogram(ratios: NDArray, title: str) -> Figure:
    """Per-neuron pruning ratios, with the paper's 40% and 90% marks."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(ratios, bins=np.linspace(0, 1, 21), color="0.3", edgecolor="white")
    mark_paper_groups(ax, "tab:red", 1.0)
    ge90, le40 = np.mean(ratios >= 0.9), np.mean(ratios <= 0.4)
    ax.set_xlabel("fraction of the neuron's input weights removed")
    ax.set_ylabel("hidden neurons")
    ax.set_title(f"{title}\n>=90%: {ge90:.0%} of neurons, <=40%: {le40:.0%}", fontsize=9)
    fig.tight_layout()
    return fig


def mark_paper_groups(ax: plt.Axes, color: str, width: float) -> None:
    """Dashed lines at the pruning ratios of the paper's two groups of neurons: <= 40% and
    >= 90% of their input weights removed."""
    for x in (0.4, 0.9):
        ax.axvline(x, color=color, linestyle="--", linewidth=width)


def stages_figure(stages: pd.DataFrame) -> Figure:
    """Test accuracy and W1 density over the stages of one run."""
    s = stages.sort_values("iteration")
    names = [
        "baseline" if i < 0 else "magnitude" if i == 0 else f"iter {i}" for i in s["iteration"]
    ]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(s))
    ax.plot(x, 100 * s["test_acc"], "o-", color="tab:blue", label="test accuracy")
    ax.set_ylabel("test accuracy (%)", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(x, s["w1_density"], "s--", color="tab:orange", label="W1 density")
    ax2.set_ylabel("W1 density (surviving fraction)", color="tab:orange")
    ax2.set_ylim(0, 1.05)
    ax.set_xticks(x, names, rotation=30)
    acc_axis(ax)
    ax.set_title("accuracy and W1 density over the stages", fontsize=10)
    fig.tight_layout()
    return fig


def acc_axis(ax: plt.Axes) -> None:
    """Widen an accuracy axis (in %) to at least ``MIN_ACC_SPAN`` points around its data."""
    low, high = ax.get_ylim()
    if high - low < MIN_ACC_SPAN:
        mid = (low + high) / 2
        ax.set_ylim(mid - MIN_ACC_SPAN / 2, mid + MIN_ACC_SPAN / 2)


def fix_layout(fig: Figure, dpi: int) -> tuple[Any, float, tuple[float, float]]:
    """Lay ``fig`` out once for saving at ``dpi`` (its layout engine, then none): its tight
    bounding box (inches), its smallest text in the image's pixels and the image's size."""
    # "tight" would lay the figure out and measure it again for each format; once is enough
    fig.draw_without_rendering()  # runs the layout engine, draws nothing
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    fig.set_layout_engine("none")  # keep that layout
    return bbox, smallest_text_pt(fig) * dpi / 72, (bbox.width * dpi, bbox.height * dpi)


def save_figure(fig: Figure, out_dir: Path, name: str, dpi: int = FIGURE_DPI) -> None:
    """Write a figure as ``out_dir/name.<format>`` in every format of ``FIGURE_FORMATS``,
    each atomically, and close it. The PNG records its smallest text (``TEXT_PX_KEY``); a
    figure whose text the report would show under ``MIN_TEXT_PT`` is logged."""
    from regionprune.workflow.config import FIGURE_FORMATS
    from regionprune.io.storage import atomic_path

    bbox, text_px, size = fix_layout(fig, dpi)
    if (shown := shown_text_pt(text_px, size)) < MIN_TEXT_PT:
        log.warning(
            "%s: its smallest text shows at %.1f pt in the report (%.0f x %.0f px), "
            "under %.0f pt",
            name,
            shown,
            *size,
            MIN_TEXT_PT,
        )
    for fmt in FIGURE_FORMATS:
        meta = {TEXT_PX_KEY: f"{text_px:.2f}"} if fmt == "png" else None
        with atomic_path(out_dir / f"{name}.{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches=bbox, metadata=meta)
    plt.close(fig)


def pick_neuron(ratios: NDArray, target: float = 0.35) -> int:
    """The neuron whose pruning ratio is closest to ``target`` (the paper's Fig. 5 shows ~35%)."""
    alive = ratios < 1.0
    if not alive.any():
        return 0
    dist = np.where(alive, np.abs(ratios - target), np.inf)
    return int(np.argmin(dist))


def outline_segments(member: NDArray) -> NDArray[np.float64]:
    """The border of a boolean map's pixels as line segments ``(n, 2, 2)`` of (x, y) points in
    image coordinates (pixel centres at integers): the edges between a member pixel and a
    non-member one, or the map's edge."""
    m = np.pad(np.asarray(member, dtype=bool), 1)
    rows, cols = np.nonzero(m[1:, 1:-1] != m[:-1, 1:-1])  # between pixel rows r-1 and r
    horizontal = np.stack(
        [np.stack([cols - 0.5, rows - 0.5], 1), np.stack([cols + 0.5, rows - 0.5], 1)], 1
    )
    rows, cols = np.nonzero(m[1:-1, 1:] != m[1:-1, :-1])  # between pixel columns c-1 and c
    vertical = np.stack(
        [np.stack([cols - 0.5, rows - 0.5], 1), np.stack([cols - 0.5, rows + 0.5], 1)], 1
    )
    return np.concatenate([horizontal, vertical]).astype(np.float64)


def outline(
    ax: plt.Axes,
    segments: list[NDArray] | NDArray,
    color: str,
    width: float = 0.9,
    alpha: float = 1.0,
) -> None:
    """Draw borders (``outline_segments``, each shifted to where its tile lies) on an image
    axis as one line broken by NaNs: a single path, however many regions (a contour per region
    cost most of a gallery's drawing time)."""
    parts = [s for s in ([segments] if isinstance(segments, np.ndarray) else segments) if len(s)]
    if parts:
        lines = np.concatenate(parts)
        gaps = np.full((len(lines), 1, 2), np.nan)
        x, y = np.concatenate([lines, gaps], axis=1).reshape(-1, 2).T
        ax.plot(x, y, color=color, linewidth=width, alpha=alpha, scalex=False, scaley=False)
