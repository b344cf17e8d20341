"""Figures of one stage's decision basis: class evidence maps, neuron gallery, deletion curves."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX .gz files")
    p.add_argument("--train-settings", required=True, help="TrainSettings as JSON")
    p.add_argument(
        "--settings", default="{}", help="EvidenceSettings as JSON: top_regions, gallery"
    )
    p.add_argument("--model", type=Path, required=True, help="the stage's checkpoint")
    p.add_argument(
        "--labels",
        type=Path,
        required=True,
        help="regions.h5 the evidence job labelled the stage's regions into",
    )
    p.add_argument("--importance", type=Path, required=True, help="region_importance.parquet")
    p.add_argument("--deletion", type=Path, required=True, help="deletion.parquet")
    p.add_argument("--out-dir", type=Path, required=True, help="where the figures go")


def run(args: argparse.Namespace) -> None:
    import numpy as np

    from regionprune.workflow.config import EvidenceSettings
    from regionprune.io.data import describe, load_split
    from regionprune.workflow.figures import evidence as EF
    from regionprune.core.explain import importance as EI
    from regionprune.workflow.figures.run import save_figure, weight_rgb
    from regionprune.core.regions import global_ids, region_index
    from regionprune.core.network import W1
    from regionprune.workflow.settings import TrainSettings
    from regionprune.io.storage import load_checkpoint, load_labels, read_table

    es = EvidenceSettings.from_json(args.settings)
    ts = TrainSettings.from_json(args.train_settings)
    spec = describe(args.data_dir, ts.dataset)
    shape, names = spec.image_shape, list(spec.class_names)
    images, y = load_split(args.data_dir, ts.dataset, "test", ts.test_limit)
    means = np.stack([images[y == c].mean(axis=0) for c in range(spec.n_classes)])
    ckpt = load_checkpoint(args.model, train=ts.to_dict())
    mask = ckpt.mask(W1)
    labels = load_labels(args.labels)
    if not np.array_equal(labels.reshape(len(mask), -1) > 0, mask):
        raise ValueError(f"{args.labels} does not label {args.model}'s surviving weights")
    neuron_of, region_of = region_index(global_ids(labels)[1])
    # checks that the table has a row per region and class of this checkpoint
    imp = EI.importance_matrix(read_table(args.importance), len(neuron_of), spec.n_classes)
    stage = f"{ckpt.attrs['stage']}, iteration {ckpt.attrs['iteration']}"

    def save(fig, name: str) -> None:
        save_figure(fig, args.out_dir, name)

    weights = weight_rgb(ckpt.params[W1], mask, shape)
    top = []
    for c in range(spec.n_classes):
        tiles = []
        for g in EI.top_regions(imp, c, es.top_regions):
            j, member = neuron_of[g], labels[neuron_of[g]] == region_of[g]
            tiles.append(
                (f"n{j} r{region_of[g]}", np.where(member[..., None], weights[j], 0.0), member)
            )
        top.append(tiles)
    maps = EI.evidence_maps(labels, imp)
    specific = EI.evidence_maps(labels, EI.specific_importance(imp))
    save(
        EF.evidence_maps_figure(
            means.reshape(-1, *shape),
            maps,
            specific,
            top,
            names,
            f"class evidence maps ({stage}): regions weighted by their"
            " importance for the class; its top regions",
        ),
        "evidence_maps",
    )

    per_neuron = EI.neuron_importance(imp, neuron_of, len(mask))
    order = EI.gallery_order(per_neuron, mask.any(axis=1), es.gallery)
    titles = [f"n{j}: {EI.roles(per_neuron[j], names)}" for j in order]
    save(
        EF.gallery_figure(
            weights[order],
            [labels[j] for j in order],
            titles,
            f"hidden neurons by importance ({stage})",
        ),
        "neuron_gallery",
    )
    save(
        EF.deletion_figure(read_table(args.deletion), names, f"deletion test ({stage})"),
        "deletion_curves",
    )
