"""The decision basis of one stage: region ablation per class, and the deletion test.

The importance table is measured on the test images. The deletion test ranks regions and pixels
on training images (as many as there are test images) and measures the deletions on the test
images, so that no ranking is judged on the images it came from. The sanity check and Quantus's
metrics are the job ``evidence_checks``, which runs beside this one (both read the stage as
``load_stage`` does, and draw from the stage's random streams as ``streams`` does).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the job imports its libraries when it runs, not when the CLI is built
    import numpy as np
    from numpy.typing import NDArray

    from regionprune.core.explain.importance import Net
    from regionprune.core.network import Checkpoint
    from regionprune.io.data import DataInfo
    from regionprune.workflow.config import EvidenceSettings
    from regionprune.workflow.settings import TrainSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    stage_arguments(p)
    p.add_argument(
        "--settings",
        default="{}",
        help="EvidenceSettings as JSON: budgets, budget, random_draws, ig_steps, roar_epochs",
    )
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
        "--out-labels",
        type=Path,
        required=True,
        help="regions.h5: the stage's regions as labelled here, for the figures",
    )


def stage_arguments(p: argparse.ArgumentParser) -> None:
    """The options that name the stage, shared with ``evidence_checks``."""
    p.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX .gz files")
    p.add_argument("--train-settings", required=True, help="TrainSettings as JSON")
    p.add_argument(
        "--region-settings",
        required=True,
        help="RegionSettings as JSON (the connectivity regions are labelled with)",
    )
    p.add_argument("--model", type=Path, required=True, help="the stage's checkpoint")
    p.add_argument("--run-id", required=True, help="run id written into the tables")
    p.add_argument("--iteration", type=int, required=True, help="the stage's iteration")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")


@dataclass
class Stage:
    """What both evidence jobs read of a stage: its settings, test images (pixels in [0, 1]),
    the training images its rankings come from (as many as the test images), the network and
    its regions."""

    es: EvidenceSettings
    ts: TrainSettings
    connectivity: int
    spec: DataInfo
    x: NDArray[np.float32]
    y: NDArray[np.int64]
    xr: NDArray[np.float32]
    yr: NDArray[np.int64]
    ckpt: Checkpoint
    net: Net
    labels: NDArray[np.int32]


def load_stage(args: argparse.Namespace) -> Stage:
    import torch

    from regionprune.core.explain.importance import Net
    from regionprune.core.network import W1
    from regionprune.core.regions import label_neurons
    from regionprune.io.data import describe, load_split, unit_pixels
    from regionprune.io.storage import load_checkpoint
    from regionprune.workflow.config import EvidenceSettings
    from regionprune.workflow.settings import RegionSettings, TrainSettings

    es = EvidenceSettings.from_json(args.settings)
    ts = TrainSettings.from_json(args.train_settings)
    connectivity = RegionSettings.from_json(args.region_settings).connectivity
    torch.set_num_threads(args.threads)
    spec = describe(args.data_dir, ts.dataset)
    x, y = load_split(args.data_dir, ts.dataset, "test", ts.test_limit)
    xr, yr = load_split(args.data_dir, ts.dataset, "train", ts.train_limit)
    ckpt = load_checkpoint(args.model, train=ts.to_dict())
    mask = ckpt.mask(W1)
    net = Net.from_params(ckpt.params, ts.activation, mask)
    labels = label_neurons(mask, spec.image_shape, connectivity)
    n = len(y)
    return Stage(
        es,
        ts,
        connectivity,
        spec,
        unit_pixels(x),
        y,
        unit_pixels(xr[:n]),
        yr[:n],
        ckpt,
        net,
        labels,
    )


def streams(
    stage: Stage, iteration: int
) -> tuple[np.random.Generator, np.random.Generator, int | None]:
    """The stage's random streams: the random control's draws, then the rest (the sanity check
    and Quantus's metrics draw from it after the remove-and-retrain seed, whichever job runs
    them), and that seed (None without remove-and-retrain)."""
    import numpy as np

    from regionprune.workflow.settings import EVIDENCE_STREAM, stream_seed

    seed = stream_seed(stage.ts.seed, EVIDENCE_STREAM + iteration)
    rng = np.random.default_rng(seed)  # the random control's draws
    more = np.random.default_rng([seed, 1])  # the rest: retraining's batches, the sanity check
    retrain_seed = int(more.integers(2**31)) if stage.es.roar_epochs else None
    return rng, more, retrain_seed


def run(args: argparse.Namespace) -> None:
    import logging
    import time

    import numpy as np

    from regionprune.core.explain.deletion import Ranked, Retrain, deletion_test, faithfulness_table
    from regionprune.core.explain.importance import region_importance
    from regionprune.workflow.codehash import code_version
    from regionprune.io.storage import save_labels, write_table

    log = logging.getLogger(__name__)
    stage = load_stage(args)
    es, ts, net, labels, x, y = stage.es, stage.ts, stage.net, stage.labels, stage.x, stage.y
    n_classes = stage.spec.n_classes

    start = time.perf_counter()
    importance = region_importance(net, labels, x, y, n_classes)
    log.info(
        "%d regions ablated on %d test images in %.1f s",
        len(importance) // n_classes,
        len(y),
        time.perf_counter() - start,
    )

    # ranked on as many training images as there are test images, measured on the test images
    ranked = Ranked(net, labels, stage.xr, stage.yr, n_classes, es.ig_steps)
    rng, _, retrain_seed = streams(stage, args.iteration)
    # remove-and-retrain: the training settings' SGD on the ranking images
    retrain = None
    if retrain_seed is not None:
        retrain = Retrain(
            ranked.x,
            ranked.y,
            es.budget,
            ts.lr,
            ts.batch_size,
            retrain_seed,
            ts.weight_decay,
            es.roar_epochs,
        )
    start = time.perf_counter()
    deletion = deletion_test(net, labels, ranked, x, y, es.budgets, es.random_draws, rng, retrain)
    log.info(
        "deletion, insertion and remove-and-retrain tests in %.1f s", time.perf_counter() - start
    )
    faithful = faithfulness_table(deletion)
    for df in (importance, deletion, faithful):
        df.insert(0, "iteration", np.int32(args.iteration))
        df.insert(0, "run", args.run_id)
    summary = faithful.groupby("budget")[["drop_region", "drop_random"]].mean()
    log.info("mean class-accuracy drop by budget:\n%s", summary.to_string())
    write_table(importance, args.out_importance)
    write_table(deletion, args.out_deletion)
    write_table(faithful, args.out_faithfulness)
    save_labels(
        args.out_labels,
        labels,
        stage=stage.ckpt.attrs["stage"],
        iteration=args.iteration,
        connectivity=stage.connectivity,
        code_version=code_version("evidence"),
    )
