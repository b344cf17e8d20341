"""Files on disk: HDF5 checkpoints and Parquet tables, always written atomically (no torch).

Every writer here writes to a hidden temporary file beside the target and renames it into place
only when the file is complete, so a crash or kill never leaves a half-written result that a
later run would trust.

Checkpoint layout (one HDF5 file per stage; see README.md, "Outputs"):

    /params/<layer>.weight, /params/<layer>.bias    float32, gzip-compressed
    /masks/<layer>.weight                           uint8 0/1, same shape as the weight
    /regions/labels                                 int32 (neurons, H, W), region stages only
    attributes of /: stage, iteration, test_acc, train_loss, settings (JSON), versions (JSON),
                     code_version, format_version
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.damage import reading
from regionprune.settings import W1

FORMAT_VERSION = 1
_VERSIONED = ("regionprune", "numpy", "torch", "h5py", "opencv-python-headless", "pandas")


@contextlib.contextmanager
def _h5(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """An HDF5 result opened to read: failing to open or to read it is ``DamagedFile``."""
    with reading(path), h5py.File(path, "r") as f:
        yield f


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on (read from metadata: imports nothing)."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class Checkpoint:
    """A network's parameters at one stage, its masks, region labels and metadata."""

    params: dict[str, NDArray[np.float32]]
    masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    labels: NDArray[np.int32] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def mask(self, name: str) -> NDArray[np.bool_]:
        """The mask of a parameter; all True where none is stored."""
        if name in self.masks:
            return self.masks[name]
        return np.ones(self.params[name].shape, dtype=bool)


def _write_attrs(f: h5py.File, attrs: dict[str, Any]) -> None:
    """Attributes of the file's root, with format and library versions; dicts/lists as JSON."""
    full = {"format_version": FORMAT_VERSION, "versions": library_versions(), **attrs}
    for key, value in full.items():
        f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    for name, m in ckpt.masks.items():
        if m.shape != ckpt.params[name].shape:
            raise ValueError(f"mask {name} has shape {m.shape}, weight {ckpt.params[name].shape}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for group, arrays, dtype in (
            ("params", ckpt.params, np.float32),
            ("masks", ckpt.masks, np.uint8),
        ):
            g = f.create_group(group)
            for name, arr in arrays.items():
                g.create_dataset(
                    name, data=np.asarray(arr, dtype=dtype), compression="gzip", shuffle=True
                )
        if ckpt.labels is not None:
            f.create_group("regions").create_dataset(
                "labels", data=np.asarray(ckpt.labels, np.int32), compression="gzip"
            )
        _write_attrs(f, ckpt.attrs)


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    with _h5(path) as f:
        params = {k: v[()] for k, v in f["params"].items()}
        masks = {k: v[()].astype(bool) for k, v in f["masks"].items()}
        labels = f["regions/labels"][()] if "regions/labels" in f else None
        attrs = {}
        for key, value in f.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, str) and value[:1] in "{[":
                value = json.loads(value)
            elif isinstance(value, np.generic):
                value = value.item()
            attrs[key] = value
    return Checkpoint(params=params, masks=masks, labels=labels, attrs=attrs)


def save_labels(path: str | os.PathLike[str], labels: NDArray[np.int32], **attrs: Any) -> None:
    """A region label file: ``/regions/labels`` plus attributes."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_group("regions").create_dataset(
            "labels", data=np.asarray(labels, np.int32), compression="gzip"
        )
        _write_attrs(f, attrs)


def load_labels(path: str | os.PathLike[str]) -> NDArray[np.int32]:
    with _h5(path) as f:
        return f["regions/labels"][()]


def save_mask(
    path: str | os.PathLike[str],
    mask: NDArray[np.bool_],
    labels: NDArray[np.int32] | None = None,
    **attrs: Any,
) -> None:
    """A pruning decision: ``/masks/<W1>`` (uint8 0/1), the kept regions' labels if any."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_group("masks").create_dataset(
            W1, data=np.asarray(mask, np.uint8), compression="gzip"
        )
        if labels is not None:
            f.create_group("regions").create_dataset(
                "labels", data=np.asarray(labels, np.int32), compression="gzip"
            )
        _write_attrs(f, attrs)


def load_mask(path: str | os.PathLike[str]) -> tuple[NDArray[np.bool_], NDArray[np.int32] | None]:
    with _h5(path) as f:
        mask = f[f"masks/{W1}"][()].astype(bool)
        labels = f["regions/labels"][()] if "regions/labels" in f else None
    return mask, labels


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a Parquet table atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, engine="pyarrow", index=False)


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    with reading(path):
        return pd.read_parquet(path, engine="pyarrow")


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
