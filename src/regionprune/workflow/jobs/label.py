"""Carve and label: the carving steps before labelling, then the connected regions of the
surviving W1 weights per hidden neuron, tabulated."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="checkpoint of the previous stage")
    p.add_argument("--dataset", default="mnist", help="gives the input image shape")
    p.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="the data set's folder: its image shape and classes",
    )
    p.add_argument(
        "--settings",
        required=True,
        help="RegionSettings as JSON (connectivity; pixel_cut, cut, cut_scope)",
    )
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out-labels", type=Path, required=True)
    p.add_argument("--out-table", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import logging

    from regionprune.core.carving import carve
    from regionprune.workflow.codehash import code_version
    from regionprune.io.data import describe
    from regionprune.core.regions import label_neurons, region_table
    from regionprune.core.network import W1
    from regionprune.workflow.settings import RegionSettings
    from regionprune.io.storage import load_checkpoint, save_labels, write_table

    rs = RegionSettings.from_json(args.settings)
    ckpt = load_checkpoint(args.model)
    before = ckpt.mask(W1)
    mask = carve(ckpt.params[W1], before, **rs.carve_args())
    labels = label_neurons(mask, describe(args.data_dir, args.dataset).image_shape, rs.connectivity)
    table = region_table(ckpt.params[W1], labels)
    log = logging.getLogger(__name__)
    if rs.pixel_cut or rs.cut:
        log.info(
            "iteration %d: carving (%s) removed %d of %d weights; %d of %d input pixels in use",
            args.iteration,
            rs.variant,
            int(before.sum() - mask.sum()),
            int(before.sum()),
            int(mask.any(axis=0).sum()),
            int(before.any(axis=0).sum()),
        )
    log.info(
        "iteration %d: %d regions over %d neurons (%d-connectivity)",
        args.iteration,
        len(table),
        table["neuron"].nunique(),
        rs.connectivity,
    )
    write_table(table, args.out_table)
    save_labels(
        args.out_labels,
        labels,
        stage="labelled",
        iteration=args.iteration,
        connectivity=rs.connectivity,
        code_version=code_version("label"),
    )
