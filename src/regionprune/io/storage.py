"""Files on disk: HDF5 checkpoints and Parquet tables, always written atomically (no torch).

Every writer here writes to a hidden temporary file beside the target and renames it into place
only when the file is complete, so a crash or kill never leaves a half-written result that a
later run would trust. Every file is verified when read: each HDF5 result carries a SHA-256 of
its datasets and attributes (and HDF5's Fletcher-32 on each data chunk), each Parquet page its
CRC, and the loaders here check them, so a truncated, overwritten or foreign file is a
``DamagedFile`` naming itself, never silent input.

Checkpoint layout (one HDF5 file per stage; see docs/outputs.md):

    /params/<layer>.weight, /params/<layer>.bias    float32, gzip-compressed, Fletcher-32
    /masks/<layer>.weight                           uint8 0/1, same shape as the weight
    /regions/labels                                 int32 (neurons, H, W), region stages only
    attributes of /: stage, iteration, test_acc, train_loss, settings (JSON), versions (JSON),
                     code_version, format_version, inputs (JSON: each file the job read and
                     its content checksum), made_as (its place: runs/.../iter2/model.h5),
                     checksum (``content_checksum``)

Every HDF5 result records ``inputs`` and ``made_as`` (``provenance``); a Parquet result records
them in its schema's metadata (key ``regionprune``).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import io
import json
import os
import platform
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from regionprune.io import provenance
from regionprune.io.damage import DamagedFile, DiskFull, check_belongs, is_disk_full, reading
from regionprune.core.network import W1, Checkpoint

#: 2: a content checksum over every dataset and attribute (1 had none)
FORMAT_VERSION = 2
#: how every dataset is stored: compressed, each chunk with HDF5's Fletcher-32 checksum
_DATASET = {"compression": "gzip", "shuffle": True, "fletcher32": True}
_VERSIONED = ("regionprune", "numpy", "torch", "h5py", "opencv-python-headless", "pandas")


def content_checksum(datasets: dict[str, NDArray[Any]], attrs: dict[str, Any]) -> str:
    """SHA-256 of a result's datasets (name, dtype, shape, bytes) and attributes as stored.

    HDF5 checks its data chunks (Fletcher-32) but not every byte of its metadata: a flipped
    bit in an attribute would be read as a different value. This covers what HDF5 does not.
    """
    digest = hashlib.sha256()
    for name in sorted(datasets):
        arr = np.ascontiguousarray(datasets[name])
        digest.update(f"{name}|{arr.dtype.str}|{arr.shape}\n".encode())
        digest.update(arr.tobytes())
    as_read = {k: v.item() if isinstance(v, np.generic) else v for k, v in attrs.items()}
    digest.update(json.dumps(as_read, sort_keys=True).encode())
    return digest.hexdigest()


def _read_h5(path: str | os.PathLike[str]) -> tuple[dict[str, NDArray[Any]], dict[str, Any], str]:
    """Every dataset (by full name) and root attribute of an HDF5 result, verified, and its
    content checksum (``sha256:...``, as results made from it record it).

    A file that cannot be read, fails its checksum, or was not written by this code (no or
    another ``format_version``) is a ``DamagedFile``. Attributes come back as stored (JSON as
    strings; see ``_decoded``).
    """
    datasets: dict[str, NDArray[Any]] = {}

    def read(name: str, obj: h5py.HLObject) -> None:  # a value returned would stop the visit
        if isinstance(obj, h5py.Dataset):
            datasets[name] = obj[()]

    with reading(path), h5py.File(path, "r") as f:
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in f.attrs.items()}
        attrs = {k: v.item() if isinstance(v, np.generic) else v for k, v in attrs.items()}
        if attrs.get("format_version") != FORMAT_VERSION:
            raise DamagedFile(
                path,
                f"format_version {attrs.get('format_version')}, not {FORMAT_VERSION}: "
                "not written by this code",
            )
        f.visititems(read)
    stored = attrs.pop("checksum", None)
    if stored != content_checksum(datasets, attrs):
        raise DamagedFile(path, "content checksum does not match")
    provenance.note(path, f"sha256:{stored}")
    return datasets, attrs, f"sha256:{stored}"


def _decoded(attrs: dict[str, Any]) -> dict[str, Any]:
    """Stored attributes with the JSON ones (dicts, lists) parsed."""
    return {
        k: json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for k, v in attrs.items()
    }


def verify_h5(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    """Read and verify an HDF5 result (``DamagedFile`` if it fails); its attributes and its
    content checksum as the results made from it record it."""
    _, attrs, checksum = _read_h5(path)
    return _decoded(attrs), checksum


def recorded_train(attrs: dict[str, Any]) -> dict | None:
    """The training settings a result records of the run that made it (None: none recorded)."""
    return (attrs.get("settings") or {}).get("train")


#: Called with each result's path once it is in place; None (the default) calls nothing. The
#: workflow's jobs set it (``cli.main``) to their fail point ``wrote <path>``, where the fault tests
#: cut the power.
after_write: Callable[[Path], None] | None = None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success, after
    its bytes are on the disk (so a power cut leaves the old file or the new, never half).

    Temporary files of ``path`` that a killed writer left behind are removed first: one job at
    a time writes a given result (Snakemake's DAG, and one live run per folder). A full disk is
    ``DiskFull``, naming the file, with nothing of it left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as err:
        if is_disk_full(err):
            raise DiskFull(path) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    if after_write is not None:
        after_write(path)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on (read from metadata: imports nothing;
    read once per process, and by the job server for every job it forks: 7-10 ms a read)."""
    return dict(_library_versions())


@functools.cache
def _library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def made_from(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a result written to ``path`` records of its origin: the inputs this job read, with
    their content checksums, and its place in the results (``provenance``)."""
    here = provenance.place(path)
    return {"inputs": provenance.inputs(), **({"made_as": here} if here else {})}


def _write_h5(
    path: str | os.PathLike[str],
    datasets: dict[str, NDArray[Any]],
    attrs: dict[str, Any],
    groups: tuple[str, ...] = (),
) -> None:
    """One HDF5 result, atomically: the datasets by their full names, the root's attributes
    with the format and library versions (dicts and lists as JSON), and ``groups`` even where
    empty (a baseline's /masks)."""
    # Built in memory, then written as plain bytes: HDF5 on a full disk does not raise, it
    # prints errors at exit and can crash; a plain write raises ENOSPC, which atomic_path reports.
    full = {
        "format_version": FORMAT_VERSION,
        "versions": library_versions(),
        **made_from(path),
        **attrs,
    }
    stored = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in full.items()}
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for group in groups:
            f.require_group(group)
        for name, arr in datasets.items():
            f.create_dataset(name, data=arr, **_DATASET)
        f.attrs.update(stored)
        f.attrs["checksum"] = content_checksum(datasets, stored)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    for name, m in ckpt.masks.items():
        if m.shape != ckpt.params[name].shape:
            raise ValueError(f"mask {name} has shape {m.shape}, weight {ckpt.params[name].shape}")
    datasets = {f"params/{k}": np.asarray(v, np.float32) for k, v in ckpt.params.items()}
    datasets |= {f"masks/{k}": np.asarray(v, np.uint8) for k, v in ckpt.masks.items()}
    if ckpt.labels is not None:
        datasets["regions/labels"] = np.asarray(ckpt.labels, np.int32)
    _write_h5(path, datasets, ckpt.attrs, groups=("params", "masks"))


def _group(datasets: dict[str, NDArray[Any]], group: str) -> dict[str, NDArray[Any]]:
    return {k.split("/", 1)[1]: v for k, v in datasets.items() if k.startswith(f"{group}/")}


def load_checkpoint(path: str | os.PathLike[str], train: dict | None = None) -> Checkpoint:
    """A checkpoint; with ``train`` (the reading run's training settings, ``to_dict()``), one
    that another run made is refused (``ForeignFile``): a copy of another seed's file passes
    every checksum but not this; nor one of another stage (``MisplacedFile``)."""
    datasets, attrs, _ = _read_h5(path)
    params = _group(datasets, "params")
    if not params:
        raise DamagedFile(path, "no /params: not a checkpoint")
    ckpt = Checkpoint(
        params=params,
        masks={k: v.astype(bool) for k, v in _group(datasets, "masks").items()},
        labels=datasets.get("regions/labels"),
        attrs=_decoded(attrs),
    )
    if train is not None:
        check_belongs(path, recorded_train(ckpt.attrs), train)
    provenance.check_place(path, ckpt.attrs.get("made_as"))
    return ckpt


def save_labels(path: str | os.PathLike[str], labels: NDArray[np.int32], **attrs: Any) -> None:
    """A region label file: ``/regions/labels`` plus attributes."""
    _write_h5(path, {"regions/labels": np.asarray(labels, np.int32)}, attrs)


def _dataset(path: str | os.PathLike[str], name: str) -> NDArray[Any]:
    datasets, attrs, _ = _read_h5(path)
    provenance.check_place(path, attrs.get("made_as"))
    if name not in datasets:
        raise DamagedFile(path, f"no /{name}")
    return datasets[name]


def load_labels(path: str | os.PathLike[str]) -> NDArray[np.int32]:
    return _dataset(path, "regions/labels")


def save_mask(
    path: str | os.PathLike[str],
    mask: NDArray[np.bool_],
    labels: NDArray[np.int32] | None = None,
    **attrs: Any,
) -> None:
    """A pruning decision: ``/masks/<W1>`` (uint8 0/1), the kept regions' labels if any."""
    datasets = {f"masks/{W1}": np.asarray(mask, np.uint8)}
    if labels is not None:
        datasets["regions/labels"] = np.asarray(labels, np.int32)
    _write_h5(path, datasets, attrs)


def load_mask(path: str | os.PathLike[str]) -> tuple[NDArray[np.bool_], NDArray[np.int32] | None]:
    datasets, attrs, _ = _read_h5(path)
    provenance.check_place(path, attrs.get("made_as"))
    if f"masks/{W1}" not in datasets:
        raise DamagedFile(path, f"no /masks/{W1}: not a mask file")
    return datasets[f"masks/{W1}"].astype(bool), datasets.get("regions/labels")


#: The key of a Parquet result's schema metadata that holds ``made_from`` (JSON).
PARQUET_KEY = b"regionprune"


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a Parquet table atomically, each page with its CRC, and what it was made from
    (``made_from``) in its schema's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {**(table.schema.metadata or {}), PARQUET_KEY: json.dumps(made_from(path)).encode()}
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp, write_page_checksum=True)


def table_origin(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """A Parquet result, every page checked against its CRC; what it records of its origin
    ({} for a table written before it did) and its content checksum."""
    import pyarrow.parquet as pq

    with reading(path):
        raw = Path(path).read_bytes()
        table = pq.read_table(io.BytesIO(raw), page_checksum_verification=True)
        origin = json.loads((table.schema.metadata or {}).get(PARQUET_KEY, b"{}"))
        df = table.to_pandas()
    return df, origin, f"sha256:{hashlib.sha256(raw).hexdigest()}"


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A Parquet result, every page checked against its CRC; one of another stage is refused
    (``MisplacedFile``). Noted as this job's input."""
    df, origin, checksum = table_origin(path)
    provenance.check_place(path, origin.get("made_as"))
    provenance.note(path, checksum)
    return df


def write_text(text: str, path: str | os.PathLike[str]) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
