"""A user's own data set: any image shape and class count, from an .npz file or IDX files,
checked before use with one line per problem, and run through the whole workflow."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, synthetic_images
from regionprune.io.damage import DamagedFile
from regionprune.io.data import (
    DataError,
    check_arrays,
    describe,
    fetch,
    load_split,
    read_user_source,
    unit_pixels,
    verify_copy,
)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file written from its published layout (magic: two zero bytes, type 0x08 for
    unsigned bytes, the number of dimensions; then each dimension as a big-endian int32)."""
    head = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(head + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def save_npz(path: Path, arrays: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def blobs():
    return synthetic_images()


def test_an_npz_data_set_is_imported_and_described_by_its_own_shape(tmp_path, blobs):
    source = save_npz(tmp_path / "src" / "blobs.npz", blobs)
    fetch("blobs", tmp_path / "data", local_dir=source.parent)
    info = describe(tmp_path / "data", "blobs")
    assert (info.image_shape, info.n_classes, info.class_names) == (
        (16, 20),
        4,
        ("0", "1", "2", "3"),
    )
    assert info.sizes([7, 5]) == (320, 7, 5, 4)
    x, y = load_split(tmp_path / "data", "blobs", "test", limit=50)
    np.testing.assert_array_equal(x, blobs["x_test"][:50].reshape(50, 320))
    np.testing.assert_array_equal(y, blobs["y_test"][:50])
    assert x.dtype == np.uint8


def test_idx_files_of_another_shape_give_the_same_arrays(tmp_path, blobs):
    folder = tmp_path / "idx"
    folder.mkdir()
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    for name, key in zip(names, ("x_train", "y_train", "x_test", "y_test")):
        write_idx(folder / name, blobs[key])
    arrays, info = read_user_source(folder)
    assert info.image_shape == (16, 20) and info.n_classes == 4
    for key in blobs:
        np.testing.assert_array_equal(arrays[key], blobs[key])


def test_float_images_and_class_names(tmp_path, blobs):
    arrays = {
        **blobs,
        "x_train": blobs["x_train"] / 255.0,
        "x_test": blobs["x_test"] / 255.0,
        "class_names": np.array(["ne", "se", "nw", "sw"]),
    }
    fetch("floats", tmp_path / "data", local_dir=save_npz(tmp_path / "f.npz", arrays))
    info = describe(tmp_path / "data", "floats")
    assert info.class_names == ("ne", "se", "nw", "sw")
    x, _ = load_split(tmp_path / "data", "floats", "train")
    assert x.dtype == np.float32
    # the network sees the same values as from the uint8 images, up to float32 rounding
    np.testing.assert_allclose(
        unit_pixels(x), blobs["x_train"].reshape(len(x), -1) / 255.0, atol=1e-7
    )


def _broken(blobs, what):
    a = dict(blobs)
    if what == "wrong shape":
        a["x_train"] = a["x_train"].reshape(len(a["x_train"]), -1)
    elif what == "labels out of range":
        a["y_test"] = a["y_test"].copy()
        a["y_test"][3] = -1
    elif what == "labels beyond the class names":
        a["class_names"] = np.array(["a", "b", "c"])
    elif what == "counts differ":
        a["y_train"] = a["y_train"][:-5]
    elif what == "missing array":
        del a["y_test"]
    elif what == "floats beyond 1":
        a["x_train"] = a["x_train"] / np.float32(255)
        a["x_test"] = a["x_test"].astype(np.float32)  # not divided
    elif what == "class without test images":
        a["y_test"] = np.where(a["y_test"] == 2, 1, a["y_test"])
    elif what == "labels not integers":
        a["y_train"] = a["y_train"].astype(np.float64)
    return a


#: Each broken data set, and the words of the one line that names its problem.
PROBLEMS = {
    "wrong shape": "x_train has shape (400, 320); images must be N x H x W",
    "labels out of range": "y_test holds the label -1; labels must be 0..C-1",
    "labels beyond the class names": "y_train holds the label 3, out of range for 3 class_names",
    "counts differ": "x_train holds 400 images but y_train 395 labels",
    "missing array": "no array y_test",
    "floats beyond 1": "x_test holds floats from 0 to 2",  # 0 to 249 or so
    "class without test images": "y_test has no images of class(es) [2]",
    "labels not integers": "y_train is float64; labels must be integers",
}


@pytest.mark.parametrize("what", PROBLEMS)
def test_every_problem_is_named_with_its_file(tmp_path, blobs, what):
    source = save_npz(tmp_path / "bad.npz", _broken(blobs, what))
    with pytest.raises(DataError) as err:
        read_user_source(source)
    message = str(err.value)
    assert PROBLEMS[what] in message, message
    assert str(source.resolve()) in message
    # a good data set has none of these problems
    assert check_arrays(blobs, "x") == []


def test_all_problems_are_listed_at_once(tmp_path, blobs):
    arrays = _broken(_broken(blobs, "counts differ"), "labels out of range")
    with pytest.raises(DataError) as err:
        read_user_source(save_npz(tmp_path / "bad.npz", arrays))
    assert PROBLEMS["counts differ"] in str(err.value)
    assert PROBLEMS["labels out of range"] in str(err.value)


def test_a_folder_without_data_is_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_user_source(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no .npz file and no IDX files"):
        read_user_source(tmp_path / "empty")
    (tmp_path / "empty" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: missing"):
        read_user_source(tmp_path / "empty")


def test_a_damaged_copy_is_found(tmp_path, blobs):
    fetch("blobs", tmp_path / "data", local_dir=save_npz(tmp_path / "b.npz", blobs))
    copy = tmp_path / "data" / "data.npz"
    verify_copy(copy)
    raw = bytearray(copy.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy.write_bytes(bytes(raw))
    with pytest.raises(DamagedFile, match="content MD5"):
        load_split(tmp_path / "data", "blobs", "train")
    with pytest.raises(DamagedFile):
        verify_copy(copy)


# ---- the workflow ------------------------------------------------------------------------------


def snakemake(work: Path, *args: str, check: bool = True):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(work / "config.yaml"),
        "--cores",
        "2",
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{out.stdout}\n{out.stderr}")
    return out


def configure(work: Path, source: Path, **sections) -> None:
    cfg = {
        "data": {"dataset": "blobs", "local_dir": str(source)},
        "train": {"epochs": 5, "hidden": [12, 8, 6], "activation": "relu", "batch_size": 10},
        "region": {"pixel_cut": 0.2, "pixel_budget": 150, "cut": 0.1, "max_regions": 2},
        "iterations": 3,
        "train_threads": 1,
        **sections,
    }
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))


@pytest.mark.workflow
def test_synthetic_data_of_another_shape_runs_end_to_end(tmp_path, blobs):
    """16x20 images of 4 classes, three hidden layers, carving to a pixel budget: every
    output of the workflow, sized by the data and the settings."""
    import h5py
    import pandas as pd

    work = tmp_path / "work"
    configure(work, save_npz(tmp_path / "blobs.npz", blobs))
    snakemake(work)
    runs = pd.read_parquet(work / "results/summary/runs.parquet")
    assert runs["train_hidden"].tolist() == ["12-8-6"] and runs["train_dataset"].tolist() == [
        "blobs"
    ]
    assert runs["final_acc"].iloc[0] > 0.5  # learnt: chance is 0.25
    run_dir = work / "results/runs" / runs["run_path"].iloc[0]
    assert "_h12-8-6/" in str(run_dir)
    with h5py.File(run_dir / "model.h5") as f:
        shapes = [f[f"params/fc{i}.weight"].shape for i in range(1, 5)]
    assert shapes == [(12, 320), (8, 12), (6, 8), (4, 6)]
    iterations = pd.read_parquet(work / "results/summary/iterations.parquet")
    used = iterations.sort_values("iteration")["pixels_used"].tolist()
    assert used[-1] <= 150 < used[1], used  # the pixel stage went down to its budget
    deletion = pd.read_parquet(run_dir / "evidence/deletion.parquet")
    assert sorted(deletion["class"].unique()) == [0, 1, 2, 3]
    for f in (
        "figures/w1_final.png",
        "figures/neuron.png",
        "evidence/evidence_maps.png",
        "evidence/neuron_gallery.png",
    ):
        assert (run_dir / f).stat().st_size > 0, f
    assert (work / "results/summary/figures/pixel_usage.png").is_file()
    # the paper's row says whose numbers it holds
    assert (
        "paper (Takehana & Ozaki, 4.2: MNIST, 784-100-50-10)"
        in (work / "results/summary/summary.md").read_text()
    )
    assert "Nothing to be done" in snakemake(work, "-n").stdout


#: Broken user data, as the workflow must refuse it: before any job, naming file and problem.
WORKFLOW_PROBLEMS = ["wrong shape", "labels out of range", "counts differ", "missing array"]


@pytest.mark.workflow
@pytest.mark.parametrize("what", [*WORKFLOW_PROBLEMS, "missing file"])
def test_bad_user_data_is_refused_before_any_job(tmp_path, blobs, what):
    source = tmp_path / "src" / "blobs.npz"
    if what != "missing file":
        save_npz(source, _broken(blobs, what))
    work = tmp_path / "work"
    configure(work, source)
    out = snakemake(work, check=False)
    said = out.stdout + out.stderr
    assert out.returncode != 0
    assert str(source.resolve()) in said, said
    assert (PROBLEMS[what] if what != "missing file" else "does not exist") in said, said
    assert "Traceback" not in said and len(said.splitlines()) <= 12, said
    assert not (work / "results").exists()


@pytest.mark.workflow
def test_a_grid_over_network_shapes(tmp_path, mnist_dir):
    """The README's run command with a grid over train.hidden: a baseline per shape, each in its
    own folder (dry run: the DAG, not the training)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text((REPO / "config.yaml").read_text())  # as in a clone
    grid = "grid={train: {hidden: [[100, 50], [300, 100], [100, 100, 50]]}}"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--cores",
            "2",
            "-n",
            "--quiet",
            "rules",
            "--config",
            f"data={{local_dir: {mnist_dir}}}",
            grid,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    counts = dict(
        ln.split() for ln in out.stdout.splitlines() if ln.startswith(("baseline", "retrain "))
    )
    assert counts == {"baseline": "3", "retrain": str(3 * 8)}, out.stdout
