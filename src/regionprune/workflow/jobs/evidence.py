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
    p.add_argument(
        "--region-settings",
        required=True,
        help="RegionSettings as JSON (the connectivity regions are labelled with)",
    )
    p.add_argument(
        "--settings",
        default="{}",
        help="EvidenceSettings as JSON: budgets, budget, random_draws, ig_steps,"
        " roar_epochs, sanity_images, yardstick_images",
    )
    p.add_argument("--model", type=Path, required=True, help="the stage's checkpoint")
    p.add_argument("--run-id", required=True, help="run id written into the tables")
    p.add_argument("--iteration", type=int, required=True, help="the stage's iteration")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    p.add_argument(
        "--out-importance",
        type=Path,
        required=True,
        help="region_importance.parquet: every region ablated, per class",
    )
    p.add_argument(
        "--out-deletion",
        type=Path,
        required=True,
        help="deletion.parquet: every method's deletion curve, per class",
    )
    p.add_argument(
        "--out-faithfulness",
        type=Path,
        required=True,
        help="faithfulness.parquet: the drops per class and budget",
    )
    p.add_argument(
        "--out-sanity",
        type=Path,
        required=True,
        help="sanity.parquet: trained against randomised maps, per layer and class",
    )
    p.add_argument(
        "--out-yardstick",
        type=Path,
        required=True,
        help="yardstick.parquet: Quantus's metrics of each method's per-image maps",
    )
    p.add_argument(
        "--out-labels",
        type=Path,
        required=True,
        help="regions.h5: the stage's regions as labelled here, for the figures",
    )


def run(args: argparse.Namespace) -> None:
    import logging
    import time

    import numpy as np
    import pandas as pd
    import torch

    from regionprune.workflow.config import EvidenceSettings
    from regionprune.io.data import describe, load_split, unit_pixels
    from regionprune.core.explain.deletion import Ranked, Retrain, deletion_test, faithfulness_table
    from regionprune.core.explain.sanity import SANITY_COLUMNS, cascade
    from regionprune.core.explain.yardstick import YARDSTICK_COLUMNS, yardstick
    from regionprune.core.explain.importance import Net, region_importance
    from regionprune.core.regions import label_neurons
    from regionprune.core.network import W1
    from regionprune.workflow.settings import (
        EVIDENCE_STREAM,
        RegionSettings,
        TrainSettings,
        stream_seed,
    )
    from regionprune.workflow.codehash import code_version
    from regionprune.io.storage import load_checkpoint, save_labels, write_table

    log = logging.getLogger(__name__)
    es = EvidenceSettings.from_json(args.settings)
    ts = TrainSettings.from_json(args.train_settings)
    connectivity = RegionSettings.from_json(args.region_settings).connectivity
    torch.set_num_threads(args.threads)
    spec = describe(args.data_dir, ts.dataset)
    x, y = load_split(args.data_dir, ts.dataset, "test", ts.test_limit)
    x = unit_pixels(x)
    ckpt = load_checkpoint(args.model, train=ts.to_dict())
    mask = ckpt.mask(W1)
    net = Net.from_params(ckpt.params, ts.activation, mask)
    labels = label_neurons(mask, spec.image_shape, connectivity)

    start = time.perf_counter()
    importance = region_importance(net, labels, x, y, spec.n_classes)
    log.info(
        "%d regions ablated on %d test images in %.1f s",
        len(importance) // spec.n_classes,
        len(y),
        time.perf_counter() - start,
    )

    # ranked on as many training images as there are test images, measured on the test images
    xr, yr = load_split(args.data_dir, ts.dataset, "train", ts.train_limit)
    ranked = Ranked(
        net, labels, unit_pixels(xr[: len(y)]), yr[: len(y)], spec.n_classes, es.ig_steps
    )
    seed = stream_seed(ts.seed, EVIDENCE_STREAM + args.iteration)
    rng = np.random.default_rng(seed)  # the random control's draws
    more = np.random.default_rng([seed, 1])  # the rest: retraining's batches, the sanity check
    # remove-and-retrain: the training settings' SGD on the ranking images
    retrain = None
    if es.roar_epochs:
        retrain = Retrain(
            ranked.x,
            ranked.y,
            es.budget,
            ts.lr,
            ts.batch_size,
            int(more.integers(2**31)),
            ts.weight_decay,
            es.roar_epochs,
        )
    start = time.perf_counter()
    deletion = deletion_test(net, labels, ranked, x, y, es.budgets, es.random_draws, rng, retrain)
    log.info(
        "deletion, insertion and remove-and-retrain tests in %.1f s", time.perf_counter() - start
    )
    faithful = faithfulness_table(deletion)
    sanity = pd.DataFrame(columns=list(SANITY_COLUMNS))
    if es.sanity_images:
        start = time.perf_counter()
        n = es.sanity_images
        sanity = cascade(
            net,
            labels,
            ranked.x[:n],
            ranked.y[:n],
            spec.n_classes,
            spec.image_shape,
            more,
            es.ig_steps,
        )
        log.info("sanity check in %.1f s", time.perf_counter() - start)
    quantus = pd.DataFrame(columns=list(YARDSTICK_COLUMNS))
    if es.yardstick_images:
        start = time.perf_counter()
        n = es.yardstick_images
        quantus = yardstick(
            net,
            labels,
            x[:n],
            y[:n],
            spec.image_shape,
            more,
            es.ig_steps,
            seed=int(more.integers(2**31)),
        )
        log.info("Quantus's metrics in %.1f s", time.perf_counter() - start)
    for df in (importance, deletion, faithful, sanity, quantus):
        df.insert(0, "iteration", np.int32(args.iteration))
        df.insert(0, "run", args.run_id)
    summary = faithful.groupby("budget")[["drop_region", "drop_random"]].mean()
    log.info("mean class-accuracy drop by budget:\n%s", summary.to_string())
    write_table(importance, args.out_importance)
    write_table(deletion, args.out_deletion)
    write_table(faithful, args.out_faithfulness)
    write_table(sanity, args.out_sanity)
    write_table(quantus, args.out_yardstick)
    save_labels(
        args.out_labels,
        labels,
        stage=ckpt.attrs["stage"],
        iteration=args.iteration,
        connectivity=connectivity,
        code_version=code_version("evidence"),
    )
