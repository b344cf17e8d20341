"""HDF5 checkpoints and Parquet tables: exact round trips, and no partial files on failure."""

from __future__ import annotations

import hashlib
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from regionprune.io.storage import (
    Checkpoint,
    atomic_path,
    load_checkpoint,
    load_labels,
    read_table,
    save_checkpoint,
    save_labels,
    write_table,
)


def _ckpt(rng):
    params = {
        "fc1.weight": rng.standard_normal((100, 784)).astype(np.float32),
        "fc1.bias": rng.standard_normal(100).astype(np.float32),
    }
    mask = rng.random((100, 784)) > 0.5
    labels = rng.integers(0, 5, (100, 28, 28)).astype(np.int32)
    attrs = {"stage": "region", "iteration": 3, "test_acc": 0.9412, "settings": {"a": {"b": 1}}}
    return Checkpoint(params=params, masks={"fc1.weight": mask}, labels=labels, attrs=attrs)


def test_checkpoint_round_trip(tmp_path):
    ck = _ckpt(np.random.default_rng(0))
    save_checkpoint(tmp_path / "m.h5", ck)
    back = load_checkpoint(tmp_path / "m.h5")
    for k, v in ck.params.items():
        np.testing.assert_array_equal(back.params[k], v)
        assert back.params[k].dtype == np.float32
    np.testing.assert_array_equal(back.masks["fc1.weight"], ck.masks["fc1.weight"])
    assert back.masks["fc1.weight"].dtype == bool
    np.testing.assert_array_equal(back.labels, ck.labels)
    for k, v in ck.attrs.items():
        assert back.attrs[k] == v
    assert "torch" in back.attrs["versions"] and "numpy" in back.attrs["versions"]
    # missing masks read as all-True, stored masks are uint8 0/1 and compressed
    assert back.mask("fc1.bias").all()
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["masks/fc1.weight"].dtype == np.uint8
        assert f["params/fc1.weight"].compression == "gzip"


def test_another_runs_checkpoint_is_refused_by_name(tmp_path):
    """Seed 1's valid checkpoint copied over seed 0's passes every checksum; its recorded
    training settings name it (issue 23: it was trusted, and seed 0's summary showed seed 1)."""
    from regionprune.io.damage import ForeignFile

    ck = _ckpt(np.random.default_rng(0))
    ck.attrs["settings"] = {"train": {"seed": 1, "lr": 0.1}, "magnitude": {"rate": 0.5}}
    save_checkpoint(tmp_path / "m.h5", ck)
    assert load_checkpoint(tmp_path / "m.h5", train={"seed": 1, "lr": 0.1, "new": 2}).params
    with pytest.raises(ForeignFile) as err:
        load_checkpoint(tmp_path / "m.h5", train={"seed": 0, "lr": 0.1})
    text = str(err.value)
    assert (
        "belongs to another run: it was made with train.seed 1, where this run has "
        "train.seed 0" in text
    )
    assert text.endswith(
        f"Fix: add --forcerun {tmp_path / 'm.h5'} to your snakemake command; it "
        "rebuilds this file and everything computed from it."
    )


def test_a_result_records_where_it_belongs_and_what_it_read(tmp_path):
    """Each result records its place in the results tree and the files its job read, with
    their content checksums; a file of another stage copied over this one is refused by name
    (issue 23: its checksums held, so it was trusted)."""
    from regionprune.io import provenance
    from regionprune.io.damage import MisplacedFile

    assert provenance.place("results/runs/t_s0/mag0.5/r/region/iter2/model.h5") == (
        "runs/t_s0/mag0.5/r/region/iter2/model.h5"
    )
    assert provenance.place("/archive/x/results/runs/t_s0/baseline/model.h5") == (
        "runs/t_s0/baseline/model.h5"
    )
    assert provenance.place("results/summary/runs.parquet") is None
    run = tmp_path / "results" / "runs" / "t_s0" / "region"
    provenance.reset()
    save_checkpoint(run / "iter1" / "model.h5", _ckpt(np.random.default_rng(0)))
    first = load_checkpoint(run / "iter1" / "model.h5")
    assert (
        first.attrs["made_as"] == "runs/t_s0/region/iter1/model.h5" and first.attrs["inputs"] == {}
    )
    write_table(pd.DataFrame({"x": [1, 2]}), run / "iter1" / "epochs.parquet")
    read_table(run / "iter1" / "epochs.parquet")
    with h5py.File(run / "iter1" / "model.h5") as f:
        model_sha = f.attrs["checksum"]
    table_sha = hashlib.sha256((run / "iter1" / "epochs.parquet").read_bytes()).hexdigest()
    save_checkpoint(run / "iter2" / "model.h5", _ckpt(np.random.default_rng(1)))  # "retrained"
    second = load_checkpoint(run / "iter2" / "model.h5")
    assert second.attrs["inputs"] == {
        str(run / "iter1" / "epochs.parquet"): f"sha256:{table_sha}",
        str(run / "iter1" / "model.h5"): f"sha256:{model_sha}",
    }
    # iteration 2's valid files copied over iteration 1's
    shutil.copy(run / "iter2" / "model.h5", run / "iter1" / "model.h5")
    with pytest.raises(MisplacedFile) as err:
        load_checkpoint(run / "iter1" / "model.h5")
    assert str(err.value).startswith(
        f"{run / 'iter1' / 'model.h5'} belongs to another stage: it was written as "
        "runs/t_s0/region/iter2/model.h5. Fix: add --forcerun "
    )
    write_table(pd.DataFrame({"x": [3]}), run / "iter2" / "epochs.parquet")
    shutil.copy(run / "iter2" / "epochs.parquet", run / "iter1" / "epochs.parquet")
    with pytest.raises(MisplacedFile, match="written as runs/t_s0/region/iter2/epochs.parquet"):
        read_table(run / "iter1" / "epochs.parquet")
    provenance.reset()


def test_checkpoint_rejects_mismatched_mask(tmp_path):
    ck = _ckpt(np.random.default_rng(1))
    ck.masks["fc1.weight"] = ck.masks["fc1.weight"][:, :10]
    with pytest.raises(ValueError, match="mask fc1.weight"):
        save_checkpoint(tmp_path / "m.h5", ck)
    assert list(tmp_path.iterdir()) == []


def test_labels_round_trip(tmp_path):
    labels = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4)
    save_labels(tmp_path / "l.h5", labels, iteration=2)
    np.testing.assert_array_equal(load_labels(tmp_path / "l.h5"), labels)


def test_parquet_round_trip(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": ["x", "y"], "d": [True, False]})
    write_table(df, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "t.parquet"), df)


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("finished result")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "finished result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _garbage(path):
    path.write_bytes(b"not a result\n" * 100)


def _bit_rot(path):
    """One flipped bit in the middle of the file: it still opens; only a checksum can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _garbage, _bit_rot])
def test_a_damaged_result_names_the_file_and_the_command_that_rebuilds_it(tmp_path, damage):
    from regionprune.io.damage import DamagedFile
    from regionprune.io.storage import load_mask, save_mask

    ck = _ckpt(np.random.default_rng(1))
    files = {
        "model.h5": (lambda p: save_checkpoint(p, ck), load_checkpoint),
        "mask.h5": (lambda p: save_mask(p, ck.masks["fc1.weight"], ck.labels), load_mask),
        "labels.h5": (lambda p: save_labels(p, ck.labels), load_labels),
        "t.parquet": (lambda p: write_table(pd.DataFrame({"a": range(1000)}), p), read_table),
    }
    for name, (save, load) in files.items():
        path = tmp_path / name
        save(path)
        damage(path)
        with pytest.raises(DamagedFile) as err:
            load(path)
        assert str(err.value).startswith(f"{path} is damaged (")
        assert f"Fix: add --forcerun {path} to your snakemake command" in str(err.value)
    with pytest.raises(FileNotFoundError):  # missing is not damaged
        load_checkpoint(tmp_path / "absent.h5")


def test_a_damaged_data_file_names_itself(tmp_path):
    import gzip

    from regionprune.io.damage import DamagedFile
    from regionprune.io.data import _read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes(range(256)) * 100)
    _truncate(path)
    with pytest.raises(DamagedFile, match="train-images-idx3-ubyte.gz is damaged"):
        _read_idx(path, 2051)


def test_a_data_file_with_other_content_names_itself(tmp_path):
    """A whole, readable IDX file whose content is not the data set's: its MD5 tells."""
    import gzip
    import hashlib
    import struct

    from regionprune.io.damage import DamagedFile
    from regionprune.io.data import _read_idx

    raw = struct.pack(">IIII", 2051, 2, 28, 28) + bytes(2 * 28 * 28)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw)
    assert _read_idx(path, 2051, hashlib.md5(raw).hexdigest()).shape == (2, 28, 28)
    with pytest.raises(DamagedFile, match=f"content MD5 {hashlib.md5(raw).hexdigest()}, expected"):
        _read_idx(path, 2051, "6bbc9ace898e44ae57da46a324031adb")


def test_an_hdf5_file_not_written_here_is_refused(tmp_path):
    from regionprune.io.damage import DamagedFile

    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as f:  # right layout, but not this code's
        f["params/fc1.weight"] = np.zeros((2, 2), np.float32)
    with pytest.raises(DamagedFile, match="format_version None, not 2: not written by this code"):
        load_checkpoint(path)


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.h5"
    (tmp_path / ".model.h5.tmp-4242").write_bytes(b"half a checkpoint")  # SIGKILL mid-write
    (tmp_path / ".other.h5.tmp-4242").write_bytes(b"another file's")
    save_labels(target, np.zeros((1, 2, 2), np.int32))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.h5.tmp-4242", "model.h5"]


def test_no_flipped_bit_is_read_as_a_different_result(tmp_path):
    """A bit flipped anywhere (400 places across the file: data, metadata, attributes) is
    either refused as damaged or harmless: never a checkpoint with other values."""
    from regionprune.io.damage import DamagedFile

    ck = _ckpt(np.random.default_rng(2))
    ck.attrs |= {"n": np.int64(3), "acc": np.float32(0.25)}  # numpy scalars, as jobs write them
    save_checkpoint(tmp_path / "m.h5", ck)
    raw = (tmp_path / "m.h5").read_bytes()
    base = load_checkpoint(tmp_path / "m.h5")
    refused = 0
    for offset in range(0, len(raw), len(raw) // 400):
        flipped = bytearray(raw)
        flipped[offset] ^= 0x10
        (tmp_path / "f.h5").write_bytes(bytes(flipped))
        try:
            back = load_checkpoint(tmp_path / "f.h5")
        except DamagedFile:
            refused += 1
            continue
        assert back.attrs == base.attrs, offset
        for k in base.params:
            np.testing.assert_array_equal(back.params[k], base.params[k])
        np.testing.assert_array_equal(back.masks["fc1.weight"], base.masks["fc1.weight"])
        np.testing.assert_array_equal(back.labels, base.labels)
    assert refused > 300  # most of the file is data that matters


def test_a_full_disk_is_one_error_and_leaves_nothing(tmp_path):
    """Writers on a full disk (/dev/full: every write fails with ENOSPC, as a full disk does)
    raise DiskFull naming the file; no temporary file stays. The workflow's own full-disk test,
    on a small tmpfs, is in test_faults.py."""
    import errno

    from regionprune.io.damage import DiskFull, is_disk_full

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(
        OSError(
            "[Errno 28] Error writing bytes to file. Detail: [errno 28] " "No space left on device"
        )
    )  # pyarrow's, without errno
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    target = tmp_path / "model.h5"
    with pytest.raises(DiskFull, match=f"no space left on the device to write {target}"):
        with atomic_path(target) as tmp:
            tmp.symlink_to("/dev/full")
            with open(tmp, "wb") as f:
                f.write(b"x" * 100000)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_without_masks_keeps_the_layout(tmp_path):
    """A baseline has no masks: /masks is there, empty, as readers of the layout expect."""
    save_checkpoint(tmp_path / "b.h5", Checkpoint(params={"fc1.bias": np.zeros(3, np.float32)}))
    with h5py.File(tmp_path / "b.h5") as f:
        assert list(f["masks"]) == [] and list(f["params"]) == ["fc1.bias"]
    assert load_checkpoint(tmp_path / "b.h5").mask("fc1.bias").all()
