"""The input pixels that are zero in every training image of a data set (MNIST's border), once
per data set and image count, for every job that needs them: their weights never get a
gradient and keep their initial values."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX .gz files")
    p.add_argument("--dataset", default="mnist", help="the data set")
    p.add_argument("--limit", default="all", help="the first N training images only, or all")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="Parquet table: pixel (H*W index), blank (zero in every image)",
    )


def run(args: argparse.Namespace) -> None:
    import logging

    import numpy as np
    import pandas as pd

    from regionprune.io.data import inactive_pixels, load_split
    from regionprune.io.storage import write_table

    limit = None if args.limit == "all" else int(args.limit)
    images, _ = load_split(args.data_dir, args.dataset, "train", limit)
    blank = inactive_pixels(images)
    logging.getLogger(__name__).info(
        "%d of %d input pixels are zero in all %d training images",
        int(blank.sum()),
        blank.size,
        len(images),
    )
    write_table(pd.DataFrame({"pixel": np.arange(blank.size), "blank": blank}), args.out)
