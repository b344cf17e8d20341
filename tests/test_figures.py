"""Figures the report shows legibly: their smallest text, at the size the report's frame shows
them, is at least ``MIN_TEXT_PT`` (the browser test measures the frame and checks the real
figures of a run; here figures of made-up grids of one to six facets)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regionprune.workflow.figures import grid as G
from regionprune.workflow.figures.run import (
    FIGURE_DPI,
    MIN_TEXT_PT,
    fix_layout,
    neuron_figure,
    shown_text_pt,
    tile_figure,
)


def test_a_regions_outline_is_the_edges_of_its_pixels():
    """Known answers: one pixel is a unit square around its centre; an L of three pixels has
    a border of 8 unit edges; nothing has none; a pixel at the map's edge is closed there."""
    from regionprune.workflow.figures.run import outline_segments

    one = np.zeros((3, 3), bool)
    one[1, 2] = True
    edges = {tuple(map(tuple, s)) for s in outline_segments(one)}
    assert edges == {
        ((1.5, 0.5), (2.5, 0.5)),  # top
        ((1.5, 1.5), (2.5, 1.5)),  # bottom
        ((1.5, 0.5), (1.5, 1.5)),  # left
        ((2.5, 0.5), (2.5, 1.5)),  # right, the map's edge
    }
    ell = np.array([[1, 0], [1, 1]], bool)
    segments = outline_segments(ell)
    assert len(segments) == 8
    # every edge has unit length and lies on the pixel grid (half-integers)
    assert np.allclose(np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1), 1.0)
    assert np.allclose(segments % 1, 0.5)
    # no edge between two member pixels: not between (1, 0) and (1, 1), at x = 0.5
    assert ((0.5, 0.5), (0.5, 1.5)) not in {tuple(map(tuple, s)) for s in segments}
    assert len(outline_segments(np.zeros((4, 4), bool))) == 0


def test_text_shrinks_with_a_figure_larger_than_the_frame():
    assert shown_text_pt(20, (800, 600), (932, 862)) == 15.0  # shown as is: 20 CSS px = 15 pt
    assert shown_text_pt(20, (1864, 600), (932, 862)) == 7.5  # at half its width
    assert shown_text_pt(20, (900, 1724), (932, 862)) == 7.5  # at half its height


def grid_tables(rates: list[float], seeds=(0, 1, 2)) -> tuple[pd.DataFrame, ...]:
    """Summary tables of a grid over region.rate and the three methods, with made-up numbers."""
    rng = np.random.default_rng(0)
    runs, its, neurons, pixels = [], [], [], []
    for rate in rates:
        for method in ("region", "magnitude", "random"):
            for seed in seeds:
                run = f"s{seed}_{rate}_{method}"
                runs.append(
                    dict(
                        run=run,
                        method=method,
                        train_dataset="mnist",
                        region_rate=rate,
                        train_seed=seed,
                    )
                )
                for it in range(5):
                    its.append(
                        dict(
                            run=run,
                            method=method,
                            iteration=it,
                            w1_density=0.5 * (1 - rate) ** it,
                            test_acc=0.94 - 0.01 * it * rate,
                            region_px_median=300.0 / (it + 1),
                            pixels_used=780 - 40 * it,
                        )
                    )
                neurons += [dict(run=run, method=method, pruning_ratio=r) for r in rng.random(100)]
                used = rng.integers(0, 30, 784)
                pixels += [
                    dict(run=run, method=method, pixel=p, neurons=used[p], inactive=p < 28)
                    for p in range(784)
                ]
    return tuple(map(pd.DataFrame, (runs, its, neurons, pixels)))


@pytest.mark.parametrize("rates", [[0.4], [0.2, 0.4, 0.6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
def test_grid_figures_are_legible_in_the_report(rates):
    runs, its, neurons, pixels = grid_tables(rates)
    keys = ["region_rate"] if len(rates) > 1 else []
    figures = {
        "accuracy_density": G.accuracy_density_figure(runs, its, keys),
        "frontier": G.frontier_figure(runs, its, keys),
        "ratio_histograms": G.ratio_histograms_figure(runs, neurons, keys),
        "pixel_usage": G.pixel_usage_figure(runs, pixels, keys, {"mnist": (28, 28)}),
    }
    for name, fig in figures.items():
        _, text_px, size = fix_layout(fig, FIGURE_DPI)
        assert shown_text_pt(text_px, size) >= MIN_TEXT_PT, (name, size)


def test_run_figures_are_legible_in_the_report():
    rng = np.random.default_rng(0)
    tiles = rng.random((100, 28, 28, 3))
    figures = {
        "w1 maps": tile_figure(tiles, "W1 after magnitude pruning (removed: black)"),
        "regions (Fig. 4)": tile_figure(
            tiles,
            "connected regions after magnitude pruning, each"
            " region of a neuron in its own colour",
            weights=False,
        ),
        "neuron (Fig. 5)": neuron_figure(
            [
                (t, tiles[0])
                for t in (
                    "baseline",
                    "magnitude pruned",
                    "regions",
                    "final (iteration 8), 46% removed",
                )
            ],
            59,
        ),
    }
    for name, fig in figures.items():
        _, text_px, size = fix_layout(fig, FIGURE_DPI)
        assert shown_text_pt(text_px, size) >= MIN_TEXT_PT, (name, size)
    assert size[0] < 1.2 * size[1]  # Fig. 5 is compact: 2 x 2, not a strip


@pytest.mark.parametrize("shape", [(28, 28), (16, 24)])
def test_decision_basis_figures_are_one_image_and_legible_in_the_report(shape):
    """The evidence maps and the neuron gallery: each panel a part of one image on one axis
    (with the colour bars' axes beside it), the regions' borders one line per colour, and
    their text legible in the report; any image shape."""
    from regionprune.workflow.figures.evidence import evidence_maps_figure, gallery_figure

    rng = np.random.default_rng(0)
    h, w = shape
    member = np.zeros(shape, bool)
    member[2:6, 3:9] = True
    top = [
        [(f"n{c} r{r}", rng.random((h, w, 3)), np.roll(member, 3 * r, axis=1)) for r in range(3)]
        for c in range(10)
    ]
    maps = rng.normal(size=(10, h, w))
    labels = rng.integers(0, 4, size=(30, h, w))
    figures = {
        "evidence maps": evidence_maps_figure(
            rng.random((10, h, w)), maps, maps / 2, top, [str(c) for c in range(10)], "maps"
        ),
        "gallery": gallery_figure(
            rng.random((30, h, w, 3)), list(labels), [f"n{j}: +1 -2" for j in range(30)], "g"
        ),
    }
    for name, fig in figures.items():
        image_axes = [ax for ax in fig.axes if ax.get_images()]
        assert len(image_axes) == 1 and len(fig.axes) <= 3, (name, len(fig.axes))
        _, text_px, size = fix_layout(fig, FIGURE_DPI)
        assert shown_text_pt(text_px, size) >= MIN_TEXT_PT, (name, size)
    lines = figures["evidence maps"].axes[0].get_lines()
    assert len(lines) == 3  # the borders of the regions of rank 1, 2 and 3, across the classes


def test_colours_given_as_bytes_draw_the_pixels_matplotlib_draws_from_floats():
    """``rgb_bytes`` hands imshow what it would make of float colours itself (there after
    resampling to the figure's pixels): the PNG is the same, pixel for pixel, with colours at
    the edges of the byte steps (k/255 and just under, 0, 1)."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from regionprune.workflow.figures.run import rgb_bytes

    rng = np.random.default_rng(0)
    steps = np.arange(256) / 255
    values = np.concatenate([steps, np.nextafter(steps, -1)[1:], rng.uniform(0, 1, 745)])
    rgb = rng.permutation(values.repeat(3))[: 31 * 33 * 3].reshape(31, 33, 3)
    assert rgb_bytes(rgb).dtype == np.uint8

    def png(image: np.ndarray) -> np.ndarray:
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.imshow(image, interpolation="nearest")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=FIGURE_DPI)
        plt.close(fig)
        return np.asarray(Image.open(buf))

    floats, as_bytes = png(rgb), png(rgb_bytes(rgb))
    assert floats.shape == as_bytes.shape and (floats == as_bytes).all()
    assert len(np.unique(floats.reshape(-1, 4), axis=0)) > 500  # the colours survived


def test_pixel_maps_are_the_same_png_and_their_own_pixels_in_the_pdf():
    """``PIXELS``: a tile figure's PNG is pixel for pixel the one "nearest" draws, and its PDF
    embeds the mosaic once at its own size (291 x 291 for 100 tiles of 28 x 28), instead of
    resampled to the figure's resolution."""
    import io
    import re

    import matplotlib.pyplot as plt
    from PIL import Image

    tiles = np.random.default_rng(1).random((100, 28, 28, 3))

    def saved(interpolation: str | None, fmt: str) -> bytes:
        fig = tile_figure(tiles, "W1")
        if interpolation is not None:
            fig.axes[0].images[0].set_interpolation(interpolation)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=FIGURE_DPI)
        plt.close(fig)
        return buf.getvalue()

    def embedded(pdf: bytes) -> set[tuple[int, int]]:  # the PDF's images, (width, height)
        return {
            (int(w), int(h)) for w, h in re.findall(rb"/Width (\d+).*?/Height (\d+)", pdf, re.S)
        }

    ours, nearest = (np.asarray(Image.open(io.BytesIO(saved(i, "png")))) for i in (None, "nearest"))
    assert ours.shape == nearest.shape and (ours == nearest).all()
    assert (291, 291) in embedded(saved(None, "pdf"))
    assert (291, 291) not in embedded(saved("nearest", "pdf"))  # the test can tell
