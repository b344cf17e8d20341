"""The decision basis of one stage: region ablation per class, and the deletion test.

The importance table is measured on the test images. The deletion test ranks regions and pixels
on training images (as many as there are test images) and measures the deletions on the test
images, so that no ranking is judged on the images it came from.
"""

from __future__ import annotations

import argparse
from pathlib import Path



def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX .gz files")
    p.add_argument("--train-settings", required=True, help="TrainSettings as JSON")
    p.add_argument("--region-settings", required=True,
                   help="RegionSettings as JSON (the connectivity regions are labelled with)")  # fmt: skip
    p.add_argument("--settings", default="{}",
                   help="EvidenceSettings as JSON: budgets, random_draws, ig_steps")  # fmt: skip
    p.add_argument("--model", type=Path, required=True, help="the stage's checkpoint")
    p.add_argument("--run-id", required=True, help="run id written into the tables")
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    p.add_argument("--out-importance", type=Path, required=True)
    p.add_argument("--out-deletion", type=Path, required=True)
    p.add_argument("--out-faithfulness", type=Path, required=True)


def run(args: argparse.Namespace) -> None:
    import logging
    import time

    import numpy as np
    import pandas as pd
    import torch

    from regionprune import evidence as ev
    from regionprune.attribution import PIXEL_METHODS, class_attributions, network
    from regionprune.data import get_spec, load_split, unit_pixels
    from regionprune.regions import label_neurons
    from regionprune.config import EvidenceSettings
    from regionprune.settings import (
        EVIDENCE_STREAM, W1, RegionSettings, TrainSettings, stream_seed,
    )  # fmt: skip
    from regionprune.storage import load_checkpoint, write_table

    log = logging.getLogger(__name__)
    es = EvidenceSettings.from_json(args.settings)
    connectivity = RegionSettings.from_json(args.region_settings).connectivity
    torch.set_num_threads(args.threads)
    ts = TrainSettings.from_json(args.train_settings)
    spec = get_spec(ts.dataset)
    n_classes = spec.n_classes
    images, y = load_split(args.data_dir, ts.dataset, "test", ts.test_limit)
    x = unit_pixels(images)
    ckpt = load_checkpoint(args.model)
    mask = ckpt.mask(W1)
    net = ev.Net.from_params(ckpt.params, ts.activation, mask)
    labels = label_neurons(mask, spec.image_shape, connectivity)

    start = time.perf_counter()
    importance = ev.region_importance(net, labels, x, y, n_classes)
    n_regions = len(importance) // n_classes
    log.info("%d regions ablated on %d test images in %.1f s", n_regions, len(y),
             time.perf_counter() - start)  # fmt: skip

    # The deletion test ranks on other images than it measures on, so that no method is scored
    # on the images it was fitted to: as many training images as there are test images.
    train_images, train_y = load_split(args.data_dir, ts.dataset, "train", ts.train_limit)
    xr, yr = unit_pixels(train_images[: len(y)]), train_y[: len(y)]
    ranked = ev.region_importance(net, labels, xr, yr, n_classes)
    imp = ev.importance_matrix(ranked, n_regions, n_classes)
    torch_net = network({**ckpt.params, W1: net.w1}, ts.activation)
    attributions = {
        m: class_attributions(torch_net, xr, yr, n_classes, m, steps=es.ig_steps)
        for m in PIXEL_METHODS
    }
    regions = ev.region_groups(labels)
    pixels = ev.pixel_groups(mask)
    counts = ev.budget_counts(int(mask.sum()), es.budgets)
    rng = np.random.default_rng(stream_seed(ts.seed, EVIDENCE_STREAM + args.iteration))
    rows = []
    start = time.perf_counter()
    for c in range(n_classes):
        xc, yc = x[y == c], y[y == c]
        orders = [("region", 0, ev.deletion_order(regions, ev.ranking(imp[:, c]), net.w1))]
        orders += [
            ("random", d, ev.deletion_order(regions, rng.permutation(n_regions), net.w1))
            for d in range(es.random_draws)
        ]
        orders += [
            (m, 0, ev.deletion_order(pixels, ev.ranking(attributions[m][c]), net.w1))
            for m in PIXEL_METHODS
        ]
        for method, draw, order in orders:
            acc, logit = ev.deletion_curve(net, order, counts, xc, yc, c)
            for b, k, a, lg in zip([0.0, *es.budgets], counts, acc, logit):
                rows.append((c, method, draw, b, int(k), a, lg))
    deletion = pd.DataFrame(
        rows, columns=["class", "method", "draw", "budget", "removed", "class_acc", "class_logit"]
    )
    log.info("deletion curves in %.1f s", time.perf_counter() - start)
    faithful = ev.faithfulness_table(deletion)
    for df in (importance, deletion, faithful):
        df.insert(0, "iteration", np.int32(args.iteration))
        df.insert(0, "run", args.run_id)
    summary = faithful.groupby("budget")[["drop_region", "drop_random"]].mean()
    log.info("mean class-accuracy drop by budget:\n%s", summary.to_string())
    write_table(importance, args.out_importance)
    write_table(deletion, args.out_deletion)
    write_table(faithful, args.out_faithfulness)
