"""Draw one run's figures: W1 maps (paper Figs. 1, 3), regions (Fig. 4), one neuron (Fig. 5),
the per-neuron pruning ratios and the stages' accuracy and density."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="mnist", help="gives the input image shape")
    p.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="the data set's folder: its image shape and classes",
    )
    p.add_argument("--baseline", type=Path, required=True, help="the baseline checkpoint")
    p.add_argument(
        "--magnitude",
        type=Path,
        required=True,
        help="checkpoint of the first pruning (iteration 0)",
    )
    p.add_argument("--final", type=Path, required=True, help="checkpoint of the last stage")
    p.add_argument(
        "--region-settings",
        default="{}",
        help="RegionSettings as JSON: the connectivity of the regions of the first"
        " pruning (the paper's Fig. 4)",
    )
    p.add_argument(
        "--settings", default="{}", help="FiguresSettings as JSON: neuron (drawn large, or auto)"
    )
    p.add_argument("--stages", type=Path, required=True, help="the run's iterations.parquet")
    p.add_argument("--out-dir", type=Path, required=True, help="where the figures go")


def run(args: argparse.Namespace) -> None:
    from regionprune.workflow.figures import run as F
    from regionprune.io.data import describe
    from regionprune.core.pruning import neuron_pruning_ratios
    from regionprune.core.regions import label_neurons
    from regionprune.workflow.config import FiguresSettings
    from regionprune.core.network import W1
    from regionprune.workflow.settings import RegionSettings
    from regionprune.io.storage import load_checkpoint, read_table

    connectivity = RegionSettings.from_json(args.region_settings).connectivity
    wanted = FiguresSettings.from_json(args.settings).neuron

    shape = describe(args.data_dir, args.dataset).image_shape
    base, mag, final = (load_checkpoint(p) for p in (args.baseline, args.magnitude, args.final))
    maps = {
        name: F.weight_rgb(c.params[W1], c.mask(W1), shape)
        for name, c in (("baseline", base), ("magnitude", mag), ("final", final))
    }
    # Fig. 4: the regions of what survives the first pruning, as iteration 1 labels them.
    labels = label_neurons(mag.mask(W1), shape, connectivity)
    ratios = neuron_pruning_ratios(final.mask(W1))
    neuron = F.pick_neuron(ratios) if wanted == "auto" else int(wanted)
    if not 0 <= neuron < len(ratios):
        raise ValueError(f"figures.neuron {neuron} is out of range 0..{len(ratios) - 1}")
    it = final.attrs["iteration"]

    def save(fig, name: str) -> None:
        F.save_figure(fig, args.out_dir, name)

    save(
        F.tile_figure(maps["baseline"], "W1 after baseline training (red +, blue -)"), "w1_baseline"
    )
    first = mag.attrs["stage"]  # magnitude, or random for the random method
    save(
        F.tile_figure(maps["magnitude"], f"W1 after {first} pruning (removed: black)"),
        "w1_magnitude",
    )
    method = final.attrs["stage"]
    save(F.tile_figure(maps["final"], f"W1 after {method} pruning, iteration {it}"), "w1_final")
    save(
        F.tile_figure(
            F.regions_rgb(labels),
            f"connected regions after {first} pruning, each"
            " region of a neuron in its own colour",
            weights=False,
        ),
        "regions",
    )
    save(
        F.neuron_figure(
            [
                ("baseline", maps["baseline"][neuron]),
                (f"{first} pruned", maps["magnitude"][neuron]),
                ("regions", F.regions_rgb(labels)[neuron]),
                (f"final (iteration {it}), {ratios[neuron]:.0%} removed", maps["final"][neuron]),
            ],
            neuron,
        ),
        "neuron",
    )
    save(F.ratio_histogram(ratios, f"per-neuron pruning ratios, iteration {it}"), "pruning_ratios")
    save(F.stages_figure(read_table(args.stages)), "stages")
