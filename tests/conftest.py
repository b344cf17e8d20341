"""Shared fixtures: where the real MNIST files lie, and the repository root."""

from __future__ import annotations

import os
from pathlib import Path

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
