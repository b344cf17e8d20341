"""Figures of one stage's decision basis: class evidence maps, neuron gallery, deletion curves."""

from __future__ import annotations

import argparse
from pathlib import Path



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX .gz files")
    p.add_argument("--train-settings", required=True, help="TrainSettings as JSON")
    p.add_argument("--region-settings", required=True,
                   help="RegionSettings as JSON (the connectivity regions are labelled with)")  # fmt: skip
    p.add_argument("--settings", default="{}",
                   help="EvidenceSettings as JSON: top_regions, gallery")  # fmt: skip
    p.add_argument("--model", type=Path, required=True, help="the stage's checkpoint")
    p.add_argument("--importance", type=Path, required=True, help="region_importance.parquet")
    p.add_argument("--deletion", type=Path, required=True, help="deletion.parquet")
    p.add_argument("--out-dir", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    from regionprune import evidence as ev
    from regionprune import figures as F
    from regionprune.data import get_spec, load_split
    from regionprune.regions import global_ids, label_neurons, region_index
    from regionprune.config import EvidenceSettings
    from regionprune.settings import W1, RegionSettings, TrainSettings
    from regionprune.storage import atomic_path, load_checkpoint, read_table

    es = EvidenceSettings.from_json(args.settings)
    connectivity = RegionSettings.from_json(args.region_settings).connectivity
    ts = TrainSettings.from_json(args.train_settings)
    spec = get_spec(ts.dataset)
    shape, names = spec.image_shape, list(spec.class_names)
    images, y = load_split(args.data_dir, ts.dataset, "test", ts.test_limit)
    means = np.stack([images[y == c].mean(axis=0) for c in range(spec.n_classes)])
    ckpt = load_checkpoint(args.model)
    mask = ckpt.mask(W1)
    labels = label_neurons(mask, shape, connectivity)
    neuron_of, region_of = region_index(global_ids(labels)[1])
    # checks that the table has a row per region and class of this checkpoint
    imp = ev.importance_matrix(read_table(args.importance), len(neuron_of), spec.n_classes)
    stage = f"{ckpt.attrs['stage']}, iteration {ckpt.attrs['iteration']}"

    def save(fig, name: str) -> None:
        with atomic_path(args.out_dir / f"{name}.png") as tmp:
            fig.savefig(tmp, format="png", dpi=150)
        plt.close(fig)

    maps = ev.evidence_maps(labels, imp)
    weights = F.weight_rgb(ckpt.params[W1], mask, shape)
    top = []
    for c in range(spec.n_classes):
        best = [g for g in ev.ranking(imp[:, c])[: es.top_regions] if imp[g, c] > 0]
        tiles = []
        for g in best:
            j = neuron_of[g]
            member = labels[j] == region_of[g]
            tiles.append((f"n{j} r{region_of[g]}", np.where(member[..., None], weights[j], 0.0),
                          member))  # fmt: skip
        top.append(tiles)
    specific = ev.evidence_maps(labels, ev.specific_importance(imp))
    save(F.evidence_maps_figure(means.reshape(-1, *shape), maps, specific, top, names,
                                f"class evidence maps ({stage}): regions weighted by their"
                                " importance for the class; its top regions"),
         "evidence_maps")  # fmt: skip

    per_neuron = np.zeros((mask.shape[0], spec.n_classes))
    np.add.at(per_neuron, neuron_of, imp)
    order = [j for j in np.argsort(-np.abs(per_neuron).sum(axis=1), kind="stable")
             if mask[j].any()][: es.gallery]  # fmt: skip
    tiles = weights[order]
    titles = []
    for j in order:
        serves = np.argsort(-np.abs(per_neuron[j]), kind="stable")[:3]
        titles.append(f"n{j}: " + " ".join(
            f"{'+' if per_neuron[j, c] > 0 else '-'}{names[c]}" for c in serves))  # fmt: skip
    save(F.gallery_figure(tiles, [labels[j] for j in order], titles,
                          f"hidden neurons by importance ({stage})"), "neuron_gallery")  # fmt: skip
    save(F.deletion_figure(read_table(args.deletion), names, f"deletion test ({stage})"),
         "deletion_curves")  # fmt: skip
