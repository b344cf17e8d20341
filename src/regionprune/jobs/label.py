"""Label the connected regions of surviving W1 weights per hidden neuron; tabulate them."""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.settings import CONNECTIVITIES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="checkpoint of the previous stage")
    p.add_argument("--dataset", default="mnist", help="gives the input image shape")
    p.add_argument("--connectivity", type=int, choices=CONNECTIVITIES, required=True)
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out-labels", type=Path, required=True)
    p.add_argument("--out-table", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.codehash import code_version
    from regionprune.data import get_spec
    from regionprune.regions import label_neurons, region_table
    from regionprune.settings import W1
    from regionprune.storage import load_checkpoint, save_labels, write_table

    ckpt = load_checkpoint(args.model)
    labels = label_neurons(ckpt.mask(W1), get_spec(args.dataset).image_shape, args.connectivity)
    table = region_table(ckpt.params[W1], labels)
    logging.getLogger(__name__).info(
        "iteration %d: %d regions over %d neurons (%d-connectivity)",
        args.iteration, len(table), table["neuron"].nunique(), args.connectivity,
    )  # fmt: skip
    write_table(table, args.out_table)
    save_labels(
        args.out_labels,
        labels,
        stage="labelled",
        iteration=args.iteration,
        connectivity=args.connectivity,
        code_version=code_version("label"),
    )
