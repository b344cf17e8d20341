"""Data limits that leave a class out of the decision basis, refused at the start
(``workflow/coverage.py``): hand-made labels with known answers, the label readers on the two
forms a data set takes, and the workflow refusing one before any job."""

from __future__ import annotations

import gzip
import subprocess

import numpy as np
import pytest

from regionprune.workflow.coverage import limit_problems, missing_classes, split_labels

#: 12 test and 12 training labels of 3 classes: class 2 first appears at position 5 (test) and
#: position 8 (train)
TEST = np.array([0, 1, 0, 1, 0, 2, 1, 0, 2, 2, 1, 0])
TRAIN = np.array([1, 1, 0, 0, 1, 0, 1, 0, 2, 0, 1, 2])


def test_the_classes_a_prefix_misses():
    assert missing_classes(TEST, 5) == [2]
    assert missing_classes(TEST, 6) == []
    assert missing_classes(TEST, 1) == [1, 2]
    assert missing_classes(TEST, 100) == []


@pytest.mark.parametrize(
    "train_limit, test_limit, sanity, says",
    [
        (None, None, 5, "evidence.sanity_images=5: the sanity check's first 5 ranking images"),
        (None, None, 9, None),
        (None, 5, 0, "data.test_limit=5: the first 5 test images hold no image of class [2]"),
        (None, 6, 0, "ranks on the first 6 training images"),  # 6 test -> 6 ranking images
        (8, 12, 0, "ranks on the first 8 training images"),  # train_limit below the test count
        (9, 12, 0, None),
        (None, 12, 8, "evidence.sanity_images=8: the sanity check's first 8 ranking images"),
        (None, 12, 9, None),
    ],
)
def test_each_limit_is_named_where_it_leaves_a_class_out(train_limit, test_limit, sanity, says):
    problems = limit_problems(TRAIN, TEST, train_limit, test_limit, sanity)
    if says is None:
        assert problems == [], problems
    else:
        assert len(problems) == 1 and says in problems[0] and "Fix: " in problems[0], problems


def _write_idx_labels(path, labels):
    with gzip.open(path, "wb") as f:
        f.write(b"\x00\x00\x08\x01" + len(labels).to_bytes(4, "big") + bytes(labels.tolist()))


def test_labels_are_read_from_the_copy_first_then_the_local_folder(tmp_path):
    copy, local = tmp_path / "copy", tmp_path / "local"
    copy.mkdir(), local.mkdir()
    _write_idx_labels(local / "train-labels-idx1-ubyte.gz", TRAIN)
    _write_idx_labels(local / "t10k-labels-idx1-ubyte.gz", TEST)
    got = split_labels("mnist", copy, str(local))
    np.testing.assert_array_equal(got["train"], TRAIN)
    np.testing.assert_array_equal(got["test"], TEST)
    assert split_labels("mnist", copy, None) is None  # to be downloaded: nothing to read yet
    _write_idx_labels(copy / "train-labels-idx1-ubyte.gz", TEST)
    _write_idx_labels(copy / "t10k-labels-idx1-ubyte.gz", TRAIN)
    np.testing.assert_array_equal(split_labels("mnist", copy, str(local))["train"], TEST)
    (copy / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b damaged")
    assert split_labels("mnist", copy, str(local)) is None  # for check and the jobs to name
    # a data set of one's own: its .npz (the source, or the copy's data.npz)
    x = np.zeros((12, 4, 4), np.uint8)
    np.savez(tmp_path / "own.npz", x_train=x, y_train=TRAIN, x_test=x, y_test=TEST)
    got = split_labels("blobs", tmp_path / "none", str(tmp_path / "own.npz"))
    np.testing.assert_array_equal(got["test"], TEST)


@pytest.mark.workflow
def test_a_test_limit_that_leaves_a_digit_out_is_refused_before_any_job(tmp_path, mnist_dir):
    """MNIST's first 30 test images hold no 8: the run trained its baseline, then its decision
    basis failed with "classes [8] have no images"; now it is refused at start."""
    from test_faults import _command
    from test_workflow import write_config

    work = tmp_path / "work"
    write_config(work, mnist_dir, data={"test_limit": 30})
    out = subprocess.run(_command(work), capture_output=True, text=True, timeout=300)
    said = out.stdout + out.stderr
    assert out.returncode != 0 and "Traceback" not in said and len(said.splitlines()) <= 6, said
    assert "data.test_limit=30: the first 30 test images hold no image of class [8]" in said
    assert not (work / "results").exists()
