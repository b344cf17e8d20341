"""Data sets in the IDX format: obtain, verify by content checksum, load (numpy, no torch).

``fetch`` takes the four ``.gz`` files from a local folder or downloads them from the data set's
mirrors, checks the MD5 of each file's *decompressed* content (a recompressed file with the same
content is fine), and only then moves them into place, all four or none.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from regionprune.damage import DamagedFile, reading

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
#: The four files of an IDX data set (MNIST's names; Fashion-MNIST uses the same).
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


class DataError(RuntimeError):
    """A data file is missing, unreachable or not what it should be; the message says the fix."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    mirrors: tuple[str, ...]
    #: file name -> MD5 of its decompressed content
    md5: dict[str, str]
    #: split -> (images file, labels file)
    splits: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"train": IDX_FILES[0:2], "test": IDX_FILES[2:4]}
    )
    image_shape: tuple[int, int] = (28, 28)
    n_classes: int = 10
    class_names: tuple[str, ...] = tuple(str(d) for d in range(10))


MNIST = DatasetSpec(
    name="mnist",
    # torchvision's mirrors, in its order
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    md5=dict(
        zip(
            IDX_FILES,
            (
                "6bbc9ace898e44ae57da46a324031adb",
                "a25bea736e30d166cdddb491f175f624",
                "2646ac647ad5339dbf082846283269ea",
                "27ae3e4e09519cfbb04c329615203637",
            ),
        )
    ),
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),  # torchvision's
    md5=dict(
        zip(
            IDX_FILES,
            (
                "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                "9018921c3c673c538a1fc5bad174d6f9",
                "8181f5470baa50b63fa0f6fddb340f0a",
                "15d484375f8d13e6eb1aabb0c3f46965",
            ),
        )
    ),
    class_names=("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                 "sneaker", "bag", "boot"),  # fmt: skip
)

SPECS: dict[str, DatasetSpec] = {MNIST.name: MNIST, FASHION_MNIST.name: FASHION_MNIST}


def get_spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {sorted(SPECS)}") from None


def content_md5(path: Path) -> str:
    """MD5 of a gzip file's decompressed content."""
    digest = hashlib.md5()
    try:
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError) as err:  # not gzip, truncated
        return f"unreadable ({err})"
    return digest.hexdigest()


def _download(urls: list[str], dest: Path, timeout: float) -> None:
    errors = []
    for url in urls:
        try:
            log.info("downloading %s", url)
            with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
                shutil.copyfileobj(r, f)
            return
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"  {url}: {err}")
    raise DataError(
        f"could not download {dest.name} from any mirror:\n" + "\n".join(errors) + "\n"
        "Fix: on a machine without network access, put the four IDX .gz files into a folder and "
        "set data.local_dir to it (config.yaml, or --config 'data={local_dir: /path}')."
    )


def _local_file(spec: DatasetSpec, folder: Path, name: str) -> Path:
    """``folder/name``, if the folder and a non-empty file are there (else DataError)."""
    fix = "or unset data.local_dir to download the files"
    if not folder.is_dir():
        raise DataError(
            f"data.local_dir: the folder {folder.resolve()} does not exist. Fix: set "
            f"data.local_dir to the folder that holds the four {spec.name} IDX .gz files, {fix}."
        )
    src = folder / name
    if not src.is_file():
        raise DataError(
            f"{name} is missing from data.local_dir ({folder.resolve()}). Fix: put the "
            f"{spec.name} file {name} there (content MD5 {spec.md5[name]}), {fix}."
        )
    if src.stat().st_size == 0:
        raise DataError(
            f"{src.resolve()} (data.local_dir) is empty. Fix: replace it with the official "
            f"{spec.name} file {name}, {fix}."
        )
    return src


def check_local_dir(dataset: str, folder: str | os.PathLike[str]) -> None:
    """Refuse a local folder that cannot give the data set, before anything runs: missing, a
    file missing or empty, or a file whose content is not the data set's (its MD5)."""
    spec = get_spec(dataset)
    for name, expected in spec.md5.items():
        src = _local_file(spec, Path(folder), name)
        if (got := content_md5(src)) != expected:
            raise DataError(
                f"{src.resolve()} (data.local_dir) is not the {spec.name} file {name}: the MD5 "
                f"of its content is {got}, expected {expected}. Fix: replace it with the "
                "official file, or unset data.local_dir to download the files."
            )


def fetch(
    dataset: str,
    out_dir: Path,
    local_dir: Path | None = None,
    mirrors: list[str] | None = None,
    timeout: float = 60.0,
) -> list[Path]:
    """Place the data set's four verified ``.gz`` files in ``out_dir``: all of them, or none."""
    spec = get_spec(dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bases = list(mirrors) if mirrors else list(spec.mirrors)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".fetch-") as tmp:
        staged = []
        for name, expected in spec.md5.items():
            dest = Path(tmp) / name
            if local_dir is not None:
                src = _local_file(spec, Path(local_dir), name)
                log.info("copying %s", src)
                shutil.copyfile(src, dest)
                origin = str(src)
            else:
                urls = [b.rstrip("/") + "/" + name for b in bases]
                _download(urls, dest, timeout)
                origin = "download"
            got = content_md5(dest)
            if got != expected:
                raise DataError(
                    f"{name} ({origin}) fails its checksum: the MD5 of its decompressed content "
                    f"is {got}, expected {expected}. The file is corrupt, truncated or another "
                    f"data set's. Fix: replace it with the official {spec.name} file "
                    "(or delete it and let the workflow download it)."
                )
            log.info("%s: content MD5 %s ok", name, got)
            staged.append(dest)
        placed = []
        for path in staged:
            final = out_dir / path.name
            os.replace(path, final)
            placed.append(final)
    return placed


def _require_md5(path: Path, got: str, expected: str) -> None:
    if got != expected:
        raise DamagedFile(path, f"content MD5 {got}, expected {expected}")


def verify_copy(path: Path) -> None:
    """A data file that ``fetch`` placed (``<dataset>/<name>``), against its data set's MD5."""
    _require_md5(path, content_md5(path), get_spec(path.parent.name).md5[path.name])


#: Arrays read and checked in this process, by file identity (``_identity``), kept only after
#: ``remember``: the job server (``jobserver``) reads a data set once and its forked jobs find it
#: here. A file changed since (other size, time or inode) is read and checked again.
_KEPT: dict[tuple, NDArray[np.uint8]] = {}
_keeping = False


def _identity(path: Path, expected_magic: int, md5: str | None) -> tuple:
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev,
            expected_magic, md5)  # fmt: skip


def remember(data_dir: Path, dataset: str) -> None:
    """Keep both splits of ``dataset`` in ``data_dir`` in memory for this process and its
    children; a damaged or missing file raises, as in ``load_split``, and is not kept."""
    global _keeping
    _keeping = True
    for split in SPLITS:
        load_split(data_dir, dataset, split)


def _read_idx(path: Path, expected_magic: int, md5: str | None = None) -> NDArray[np.uint8]:
    """An IDX file's array; with ``md5``, checked against the MD5 of its content first."""
    try:
        key = _identity(path, expected_magic, md5)
    except OSError:
        key = None
    if key in _KEPT:
        return _KEPT[key]
    array = _read_idx_file(path, expected_magic, md5)
    if _keeping and key is not None:
        array.setflags(write=False)
        _KEPT[key] = array
    return array


def _read_idx_file(path: Path, expected_magic: int, md5: str | None) -> NDArray[np.uint8]:
    with reading(path), gzip.open(path, "rb") as f:
        raw = f.read()
    if md5 is not None:
        _require_md5(path, hashlib.md5(raw).hexdigest(), md5)
    if len(raw) < 8:
        raise DataError(f"{path} is too short to be an IDX file")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise DataError(f"{path}: IDX magic {magic}, expected {expected_magic}")
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: {data.size} bytes of data for shape {dims}")
    return data.reshape(dims)


def load_split(
    data_dir: Path, dataset: str, split: str, limit: int | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Images as ``(N, H*W)`` uint8 and labels as ``(N,)`` uint8; the first ``limit`` only."""
    spec = get_spec(dataset)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images_file, labels_file = spec.splits[split]
    images = _read_idx(Path(data_dir) / images_file, 2051, spec.md5[images_file])
    labels = _read_idx(Path(data_dir) / labels_file, 2049, spec.md5[labels_file])
    if images.shape[0] != labels.shape[0] or images.shape[1:] != spec.image_shape:
        raise DataError(f"{data_dir}: images {images.shape} do not match labels {labels.shape}")
    n = images.shape[0] if limit is None else min(limit, images.shape[0])
    # copies: writable arrays of just the rows asked for (frombuffer's view is read-only)
    return images[:n].reshape(n, -1).copy(), labels[:n].copy()


def inactive_pixels(images: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Per input pixel (``images`` is ``(N, H*W)``): True where every image is zero there.

    Such a pixel gives its weights no gradient, so they keep their initial values (MNIST's
    border: 67 of 784 pixels in the training set).
    """
    return ~np.asarray(images).any(axis=0)


def read_blank_pixels(path: Path) -> NDArray[np.bool_]:
    """The blank-pixel table the ``blank`` job wrote, as a boolean per input pixel."""
    from regionprune.storage import read_table

    table = read_table(path)
    if list(table["pixel"]) != list(range(len(table))):
        raise DataError(f"{path}: pixels out of order or missing")
    return table["blank"].to_numpy(dtype=bool)


def unit_pixels(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Pixels as float32 in [0, 1], the network's input (``training.as_float`` on a tensor)."""
    return np.asarray(images).astype(np.float32) / np.float32(255.0)
