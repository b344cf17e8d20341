"""The checks of one stage's decision basis: the sanity check and Quantus's metrics.

The sanity check randomises the layers top down and compares each method's maps with the trained
ones, on training images (the first ``sanity_images`` of those the deletion test ranks on);
Quantus scores every method's per-image maps on the first ``yardstick_images`` test images. A
job of its own beside ``evidence``, which it does not wait for: both read the stage the same way
and draw from the same random streams (``evidence.load_stage``, ``evidence.streams``), so the
tables are those one job would write.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from regionprune.workflow.jobs.evidence import load_stage, stage_arguments, streams


def add_arguments(p: argparse.ArgumentParser) -> None:
    stage_arguments(p)
    p.add_argument(
        "--settings",
        default="{}",
        help="EvidenceSettings as JSON: ig_steps, roar_epochs (whether the stream's first draw"
        " is the remove-and-retrain seed), sanity_images, yardstick_images",
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


def run(args: argparse.Namespace) -> None:
    import logging
    import time

    import numpy as np
    import pandas as pd

    from regionprune.core.explain.sanity import SANITY_COLUMNS, cascade
    from regionprune.core.explain.yardstick import YARDSTICK_COLUMNS, yardstick
    from regionprune.io.storage import write_table

    log = logging.getLogger(__name__)
    stage = load_stage(args)
    es = stage.es
    _, more, _ = streams(stage, args.iteration)
    sanity = pd.DataFrame(columns=list(SANITY_COLUMNS))
    if es.sanity_images:
        start = time.perf_counter()
        n = es.sanity_images
        sanity = cascade(
            stage.net,
            stage.labels,
            stage.xr[:n],
            stage.yr[:n],
            stage.spec.n_classes,
            stage.spec.image_shape,
            more,
            es.ig_steps,
        )
        log.info("sanity check in %.1f s", time.perf_counter() - start)
    quantus = pd.DataFrame(columns=list(YARDSTICK_COLUMNS))
    if es.yardstick_images:
        start = time.perf_counter()
        n = es.yardstick_images
        quantus = yardstick(
            stage.net,
            stage.labels,
            stage.x[:n],
            stage.y[:n],
            stage.spec.image_shape,
            more,
            es.ig_steps,
            seed=int(more.integers(2**31)),
        )
        log.info("Quantus's metrics in %.1f s", time.perf_counter() - start)
    for df in (sanity, quantus):
        df.insert(0, "iteration", np.int32(args.iteration))
        df.insert(0, "run", args.run_id)
    write_table(sanity, args.out_sanity)
    write_table(quantus, args.out_yardstick)
