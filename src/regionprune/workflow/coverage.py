"""Data limits that leave a class without images, refused when the workflow starts.

The decision basis scores every class: on the first ``data.test_limit`` test images, with
rankings from as many training images (the first of at most ``data.train_limit``), and the
sanity check on the first ``evidence.sanity_images`` of those. A limit that leaves a class out
of one of them made a run train, then fail in its decision basis ("classes [3, 5] have no
images"). The Snakefile checks each training setting's limits here, from the labels alone,
wherever they can be read before any job: the data set's copy in ``results/data/<name>/``, or
``data.local_dir`` (a download still to come is checked by nothing until it is there). No job
imports this module, so it is not part of any job's code version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from regionprune.io.damage import DamagedFile
from regionprune.io.data import (
    USER_DATA,
    DataError,
    _read_idx,
    find_user_source,
    get_spec,
    is_builtin,
)

#: An IDX label file's magic number (``io.data`` reads it: magic and shape checked).
LABELS_MAGIC = 2049


def missing_classes(labels: NDArray, n: int) -> list[int]:
    """The classes of ``labels`` that its first ``n`` do not hold."""
    labels = np.asarray(labels)
    return np.setdiff1d(np.unique(labels), np.unique(labels[:n])).tolist()


def limit_problems(
    train: NDArray,
    test: NDArray,
    train_limit: int | None,
    test_limit: int | None,
    sanity_images: int,
) -> list[str]:
    """What the limits leave out, one line each (none: every class is in every part)."""
    n_test = len(test) if test_limit is None else min(test_limit, len(test))
    n_rank = min(len(train) if train_limit is None else train_limit, n_test, len(train))
    problems = []
    if missing := missing_classes(test, n_test):
        problems.append(
            f"data.test_limit={test_limit}: the first {n_test} test images hold no image of"
            f" class {missing}. Fix: raise data.test_limit, or set it to null."
        )
    elif missing := missing_classes(train, n_rank):
        problems.append(
            f"the decision basis ranks on the first {n_rank} training images (as many as test"
            f" images, data.train_limit={train_limit}, data.test_limit={test_limit}); they hold"
            f" no image of class {missing}. Fix: raise data.test_limit (and data.train_limit)."
        )
    elif sanity_images and (missing := missing_classes(train, min(sanity_images, n_rank))):
        problems.append(
            f"evidence.sanity_images={sanity_images}: the sanity check's first"
            f" {min(sanity_images, n_rank)} ranking images hold no image of class {missing}."
            " Fix: raise evidence.sanity_images, or set it to 0 (no sanity check)."
        )
    return problems


def split_labels(dataset: str, copy_dir: Path, local_dir: str | None) -> dict[str, NDArray] | None:
    """The training and test labels of ``dataset``, from its copy (``copy_dir``) or from
    ``local_dir``; None where neither holds them yet, or they cannot be read (a damaged copy
    is for the jobs and ``regionprune check`` to name, with its fix)."""
    import zipfile

    try:
        return _split_labels(dataset, copy_dir, local_dir)
    except (DataError, DamagedFile, OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _split_labels(dataset: str, copy_dir: Path, local_dir: str | None) -> dict[str, NDArray] | None:
    if is_builtin(dataset):
        folders = [copy_dir, *([Path(local_dir)] if local_dir else [])]
        for folder in folders:
            if labels := _idx_split_labels(dataset, folder):
                return labels
        return None
    if (copy_dir / USER_DATA).is_file():
        path, form = copy_dir / USER_DATA, "npz"
    elif local_dir:
        path, form = find_user_source(local_dir)
    else:
        return None
    if form != "npz":  # IDX files under MNIST's names
        return _idx_split_labels("mnist", path)
    with np.load(path, allow_pickle=False) as arrays:
        return {s: np.asarray(arrays[f"y_{s}"]) for s in ("train", "test")}


def _idx_split_labels(dataset: str, folder: Path) -> dict[str, NDArray] | None:
    """The labels of the IDX files ``folder`` holds under ``dataset``'s names, if all are there."""
    files = {s: folder / get_spec(dataset).splits[s][1] for s in ("train", "test")}
    if not all(f.is_file() for f in files.values()):
        return None
    return {s: _read_idx(f, LABELS_MAGIC) for s, f in files.items()}
