"""Shared fixtures: where the real MNIST files lie, and the repository root."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
# The real data set, verified against its official MD5s (../shared/data/mnist, read-only).
MNIST_DIR = Path(os.environ.get("REGIONPRUNE_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist"))


#: The test files that take longest, longest first (PYTEST_ADDOPTS=--durations=0; docs/
#: development.md): each file runs on one worker (--dist loadfile), and handing out the longest
#: first keeps one long file from starting last and running alone at the end (xdist's own order
#: is by the number of tests, which put the two SLURM tests last).
SLOWEST_FIRST = (
    "test_slurm.py",
    "test_rebuild.py",
    "test_faults.py",
    "test_workflow.py",
    "test_grid.py",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """The package compiled to bytecode once, before the tests start their processes. Where
    PYTHONDONTWRITEBYTECODE is set (this project's CI machines set it), Python writes no .pyc
    of src/ itself, and every snakemake call and job compiled the package again: 0.35-0.7 s
    more for a snakemake call with nothing to do (docs/development.md)."""
    if hasattr(session.config, "workerinput"):  # xdist's controller does it for its workers
        return
    import compileall

    compileall.compile_dir(REPO / "src", quiet=2)  # a read-only checkout: nothing written


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: else as found


def shared_folder(
    name: str,
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    make: Callable[[Path], None],
) -> Path:
    """A folder ``make`` fills once per test session, whichever pytest-xdist worker asks first
    (the others wait for it, then read it: tests copy it, never change it). Without xdist, a
    folder of this session's own."""
    if worker_id == "master":
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    from filelock import FileLock

    session = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers
    folder, done = session / name, session / f"{name}.done"
    with FileLock(str(session / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker that died while making it
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(
            f"real MNIST not found in {MNIST_DIR}; set REGIONPRUNE_MNIST_DIR to a folder holding "
            "the four IDX .gz files"
        )
    return MNIST_DIR


#: The summary tables two workflow folders are compared by.
SUMMARY_TABLES = (
    "results/summary/iterations.parquet",
    "results/summary/runs.parquet",
    "results/summary/faithfulness.parquet",
)


def _checkpoints(a: Path, b: Path) -> Iterator[tuple[Path, h5py.File, h5py.File]]:
    """Every checkpoint of ``a`` (there must be some), open beside ``b``'s, holding the same
    parameter and mask names."""
    models = sorted((a / "results" / "runs").rglob("model.h5"))
    assert models
    for pa in models:
        with h5py.File(pa) as fa, h5py.File(b / pa.relative_to(a)) as fb:
            for group in ("params", "masks"):
                assert sorted(fa.get(group, {})) == sorted(fb.get(group, {})), (pa, group)
            yield pa, fa, fb


def close_results(
    a: Path, b: Path, rtol: float = 1e-5, atol: float = 1e-6, weights: float = 1e-5
) -> None:
    """Two workflow folders that differ only by float rounding (another thread count): the same
    masks, counts and accuracies; the summaries' other floats within ``rtol``/``atol``, every
    weight within ``weights``."""
    for rel in SUMMARY_TABLES:
        ta, tb = pd.read_parquet(a / rel), pd.read_parquet(b / rel)
        assert list(ta.columns) == list(tb.columns) and len(ta) == len(tb), rel
        for c in ta.columns:
            if pd.api.types.is_float_dtype(ta[c]) and "acc" not in c:
                np.testing.assert_allclose(tb[c], ta[c], rtol=rtol, atol=atol, err_msg=f"{rel} {c}")
            else:
                pd.testing.assert_series_equal(ta[c], tb[c], obj=f"{rel} {c}")
    for pa, fa, fb in _checkpoints(a, b):
        for k in fa.get("masks", {}):
            np.testing.assert_array_equal(fa[f"masks/{k}"][()], fb[f"masks/{k}"][()])
        for k in fa["params"]:
            np.testing.assert_allclose(
                fb[f"params/{k}"][()],
                fa[f"params/{k}"][()],
                rtol=0,
                atol=weights,
                err_msg=f"{pa} {k}",
            )


def same_results(a: Path, b: Path) -> None:
    """Two workflow folders hold bit-identical summaries and checkpoints."""
    for rel in SUMMARY_TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(a / rel), pd.read_parquet(b / rel))
    for _, fa, fb in _checkpoints(a, b):
        for group in ("params", "masks"):
            for k in fa.get(group, {}):
                np.testing.assert_array_equal(fa[f"{group}/{k}"][()], fb[f"{group}/{k}"][()])


def synthetic_images(
    n_train: int = 400,
    n_test: int = 200,
    shape: tuple[int, int] = (16, 20),
    classes: int = 4,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A small learnable data set of grey images unlike MNIST: class c is a bright blob at its
    own place on a noisy ``shape`` grid (uint8 images N x H x W, int64 labels 0..classes-1)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    centres = [
        ((1 + 2 * (c % 2)) * h // 4, (1 + 2 * (c // 2 % 2)) * w // 4 + c // 4)
        for c in range(classes)
    ]
    yy, xx = np.mgrid[0:h, 0:w]

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % classes
        rng.shuffle(y)
        x = rng.uniform(0, 60, (n, h, w))
        for i, c in enumerate(y):
            cy, cx = np.add(centres[c], rng.integers(-1, 2, size=2))
            x[i] += 190 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)

    x_train, y_train = split(n_train)
    x_test, y_test = split(n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def sequential(params: dict, activation: str) -> torch.nn.Sequential:
    """A network's ``fc{i}.weight``/``fc{i}.bias`` arrays as torch's own ``nn.Sequential`` of
    ``nn.Linear`` and activation modules: a reference written without the package's forward
    pass."""
    act = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
    n = len(params) // 2
    layers: list[torch.nn.Module] = []
    for i in range(1, n + 1):
        w = torch.from_numpy(np.asarray(params[f"fc{i}.weight"], dtype=np.float32))
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(torch.from_numpy(np.asarray(params[f"fc{i}.bias"], dtype=np.float32)))
        layers += [lin, act()] if i < n else [lin]
    return torch.nn.Sequential(*layers).eval()
