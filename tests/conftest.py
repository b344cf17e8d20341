"""Shared fixtures: where the real MNIST files lie, and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
# The real data set, verified against its official MD5s (../shared/data/mnist, read-only).
MNIST_DIR = Path(os.environ.get("REGIONPRUNE_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(
            f"real MNIST not found in {MNIST_DIR}; set REGIONPRUNE_MNIST_DIR to a folder holding "
            "the four IDX .gz files"
        )
    return MNIST_DIR


def same_results(a: Path, b: Path) -> None:
    """Two workflow folders hold bit-identical summaries and checkpoints."""
    for rel in ("results/summary/iterations.parquet", "results/summary/runs.parquet",
                "results/summary/faithfulness.parquet"):  # fmt: skip
        pd.testing.assert_frame_equal(pd.read_parquet(a / rel), pd.read_parquet(b / rel))
    models = sorted((a / "results" / "runs").rglob("model.h5"))
    assert models
    for pa in models:
        with h5py.File(pa) as fa, h5py.File(b / pa.relative_to(a)) as fb:
            for group in ("params", "masks"):
                assert sorted(fa.get(group, {})) == sorted(fb.get(group, {})), (pa, group)
                for k in fa.get(group, {}):
                    np.testing.assert_array_equal(fa[f"{group}/{k}"][()], fb[f"{group}/{k}"][()])
