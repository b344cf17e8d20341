"""HDF5 checkpoints and Parquet tables: exact round trips, and no partial files on failure."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from regionprune.storage import (
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


@pytest.mark.parametrize("damage", [_truncate, _garbage])
def test_a_damaged_result_names_the_file_and_the_command_that_rebuilds_it(tmp_path, damage):
    from regionprune.damage import DamagedFile
    from regionprune.storage import load_mask, save_mask

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

    from regionprune.damage import DamagedFile
    from regionprune.data import _read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes(range(256)) * 100)
    _truncate(path)
    with pytest.raises(DamagedFile, match="train-images-idx3-ubyte.gz is damaged"):
        _read_idx(path, 2051)
