"""What the training jobs share: their common arguments, data and device set-up."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from regionprune.workflow.settings import TrainSettings

log = logging.getLogger(__name__)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX .gz files")
    p.add_argument("--train-settings", required=True, help="TrainSettings as JSON")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")


def prepare(
    args: argparse.Namespace, need_train: bool = True
) -> tuple[TrainSettings, Any, Any, Any]:
    """(settings, device, train split or None, test split), with deterministic torch."""
    from regionprune.core import training
    from regionprune.io.data import load_split

    ts = TrainSettings.from_json(args.train_settings)
    training.set_determinism(args.threads)
    device = training.resolve_device(args.device)
    log.info("device %s, %d thread(s); %s", device, args.threads, ts.name)
    train = (
        training.to_split(*load_split(args.data_dir, ts.dataset, "train", ts.train_limit), device)
        if need_train
        else None
    )
    test = training.to_split(*load_split(args.data_dir, ts.dataset, "test", ts.test_limit), device)
    return ts, device, train, test


def epoch_done(epoch: int) -> None:
    """A training's ``after_epoch``: the fault tests' point after each epoch (``failpoint``)."""
    from regionprune.workflow import failpoint

    failpoint.reached(f"training epoch {epoch}")


def run_attrs(args: argparse.Namespace, device: Any) -> dict[str, Any]:
    """Where a checkpoint was computed: results are bit-identical only for the same device and
    thread count (float sums are ordered differently otherwise, ~1e-7 apart)."""
    return {"device": str(device), "threads": args.threads}


def epochs_table(records: list[dict[str, float]], stage: str, iteration: int) -> Any:
    import pandas as pd

    cols = ["stage", "iteration", "epoch", "train_loss", "test_acc", "seconds"]
    df = pd.DataFrame(records, columns=cols[2:])
    df.insert(0, "iteration", iteration)
    df.insert(0, "stage", stage)
    return df.astype({"iteration": "int32", "epoch": "int32"})
