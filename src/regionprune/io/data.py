"""Data sets of grey images: obtain, check, verify by content checksum, load (numpy, no torch).

Built in: MNIST and Fashion-MNIST. ``fetch`` takes their four IDX ``.gz`` files from a local folder
or downloads them from the data set's mirrors, checks the MD5 of each file's *decompressed*
content (a recompressed file with the same content is fine), and only then moves them into place,
all four or none.

A user's data set is any other name, read from a local folder (or file): the four IDX files at
any H x W, or one ``.npz`` holding ``x_train, y_train, x_test, y_test`` (images N x H x W, uint8
or floats in [0, 1]; integer labels 0..C-1; an optional ``class_names``). ``check_user_source``
lists every problem of such a source, one line each naming the file; ``fetch`` writes the checked
arrays as ``data.npz`` with ``info.json`` (image shape, classes, the copy's MD5) beside it, and
every later reader verifies the copy against that MD5. ``describe`` gives any data set's image
shape and classes: the network's inputs and outputs come from it, never from a constant.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from regionprune.io import provenance
from regionprune.io.damage import DamagedFile, reading

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
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
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
    class_names=(
        "T-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "boot",
    ),
)

SPECS: dict[str, DatasetSpec] = {MNIST.name: MNIST, FASHION_MNIST.name: FASHION_MNIST}

#: A user's data set, as ``fetch`` writes it: the checked arrays, and what they hold.
USER_DATA = "data.npz"
USER_INFO = "info.json"
#: The arrays a user's ``.npz`` must hold (``class_names`` may be added).
NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def get_spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; known: {sorted(SPECS)}") from None


def is_builtin(dataset: str) -> bool:
    return dataset in SPECS


def copy_files(dataset: str) -> tuple[str, ...]:
    """The files ``fetch`` places in a data set's folder: the four IDX files of a built-in
    data set, ``data.npz`` and ``info.json`` of a user's."""
    return IDX_FILES if is_builtin(dataset) else (USER_DATA, USER_INFO)


@dataclass(frozen=True)
class DataInfo:
    """What the network needs to know of a data set: the image shape and the classes."""

    image_shape: tuple[int, int]
    n_classes: int
    class_names: tuple[str, ...]

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def sizes(self, hidden: list[int] | tuple[int, ...]) -> tuple[int, ...]:
        """A network's layer widths for this data: pixels, ``hidden``, classes."""
        return (self.n_pixels, *hidden, self.n_classes)

    def to_dict(self) -> dict[str, object]:
        return {
            "image_shape": list(self.image_shape),
            "n_classes": self.n_classes,
            "class_names": list(self.class_names),
        }


def describe(data_dir: str | os.PathLike[str], dataset: str) -> DataInfo:
    """The image shape and classes of ``dataset``, whose copy is in ``data_dir``."""
    if is_builtin(dataset):
        spec = get_spec(dataset)
        return DataInfo(spec.image_shape, spec.n_classes, spec.class_names)
    path = Path(data_dir) / USER_INFO
    with reading(path):
        info = json.loads(path.read_text())
        return DataInfo(
            tuple(info["image_shape"]),
            int(info["n_classes"]),  # type: ignore[arg-type]
            tuple(info["class_names"]),
        )


def content_md5(path: Path) -> str:
    """MD5 of a gzip file's decompressed content."""
    try:
        with gzip.open(path, "rb") as f:
            return _stream_md5(f)
    except (OSError, EOFError) as err:  # not gzip, truncated
        return f"unreadable ({err})"


def _stream_md5(f: Any) -> str:
    """MD5 of what a binary stream holds, read in 1 MiB chunks."""
    digest = hashlib.md5()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


#: Rounds over the mirrors before a download gives up, and the wait before each next round (s).
DOWNLOAD_ROUNDS = (0.0, 2.0, 8.0)


def _offline(err: Exception) -> bool:
    """Whether ``err`` is a failed name lookup: no network (or no DNS), which waiting does not
    mend, unlike a timeout or a dropped connection."""
    import socket

    return isinstance(getattr(err, "reason", err), socket.gaierror)


def _download(urls: list[str], dest: Path, timeout: float) -> None:
    """Download from the first mirror that answers; each round (``DOWNLOAD_ROUNDS``) tries every
    mirror, and a round whose every failure is a failed name lookup (offline) is the last."""
    import time

    errors: list[str] = []
    offline = False
    for wait in DOWNLOAD_ROUNDS:
        if wait:
            log.info("no mirror answered; trying again in %.0f s", wait)
            time.sleep(wait)
        errors, failures = [], []
        for url in urls:
            try:
                log.info("downloading %s", url)
                with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
                    shutil.copyfileobj(r, f)
                return
            except (urllib.error.URLError, OSError, ValueError) as err:
                errors.append(f"  {url}: {err}")
                failures.append(err)
        offline = all(_offline(err) for err in failures)
        if offline:
            break
    why = ""
    if offline:
        why = " (no mirror's name could be looked up: this machine seems to be offline)"
    raise DataError(
        f"could not download {dest.name} from any mirror{why}:\n" + "\n".join(errors) + "\n"
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


def user_needs_folder(dataset: str) -> str:
    return (
        f"data set {dataset!r} is not built in ({', '.join(SPECS)}), so it is read from a local"
        f" folder. Fix: set data.local_dir to the folder (or .npz file) that holds it, e.g."
        f" --config 'data={{dataset: {dataset}, local_dir: /path/to/{dataset}}}' (docs/data.md)."
    )


def check_local_dir(dataset: str, folder: str | os.PathLike[str]) -> DataInfo:
    """Refuse a local folder that cannot give the data set, before anything runs: missing, a
    file missing or empty, or a file whose content is not the data set's (its MD5); a user's
    data set, every problem of its arrays (``check_user_source``). What it holds, if usable."""
    if not is_builtin(dataset):
        return check_user_source(folder)
    spec = get_spec(dataset)
    for name, expected in spec.md5.items():
        src = _local_file(spec, Path(folder), name)
        if (got := content_md5(src)) != expected:
            raise DataError(
                f"{src.resolve()} (data.local_dir) is not the {spec.name} file {name}: the MD5 "
                f"of its content is {got}, expected {expected}. Fix: replace it with the "
                "official file, or unset data.local_dir to download the files."
            )
    return DataInfo(spec.image_shape, spec.n_classes, spec.class_names)


def fetch(
    dataset: str,
    out_dir: Path,
    local_dir: Path | None = None,
    mirrors: list[str] | None = None,
    timeout: float = 60.0,
) -> list[Path]:
    """Place the data set's four verified ``.gz`` files in ``out_dir``: all of them, or none.
    A user's data set (not built in) is checked and written as ``data.npz`` and ``info.json``."""
    if not is_builtin(dataset):
        if local_dir is None:
            raise DataError(user_needs_folder(dataset))
        return import_user_data(dataset, local_dir, Path(out_dir))
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


def verify_copy(path: Path) -> str:
    """A data file that ``fetch`` placed (``<dataset>/<name>``), against its data set's MD5
    (a user's ``data.npz`` against the MD5 in the ``info.json`` beside it); that MD5."""
    if path.name == USER_DATA:
        expected = _user_md5(path.parent)
        _require_md5(path, _file_md5(path), expected)
    else:
        expected = get_spec(path.parent.name).md5[path.name]
        _require_md5(path, content_md5(path), expected)
    return expected


#: Where a process keeps the arrays it has read and checked, or None (read each time). The job
#: server (``jobserver.FileCache``) sets one: it reads a data set once and its forked jobs find
#: it there. Called as ``kept(path, extra, read)``: ``read()``, or what it gave for this file.
kept: Callable[[Path, tuple, Callable[[], Any]], Any] | None = None


def _kept(path: Path, extra: tuple, read: Callable[[], Any]) -> Any:
    return read() if kept is None else kept(path, extra, read)


def _read_idx(path: Path, expected_magic: int, md5: str | None = None) -> NDArray[np.uint8]:
    """An IDX file's array; with ``md5``, checked against the MD5 of its content first."""
    return _kept(path, (expected_magic, md5), lambda: _read_idx_file(path, expected_magic, md5))


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
) -> tuple[NDArray[Any], NDArray[Any]]:
    """Images as ``(N, H*W)`` (uint8, or float32 in [0, 1] for a user's float images) and
    labels as ``(N,)`` integers; the first ``limit`` only."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not is_builtin(dataset):
        path = Path(data_dir) / USER_DATA
        md5 = _user_md5(Path(data_dir))
        arrays = _kept(path, (md5,), lambda: _read_user_copy(path, md5))
        provenance.note(path, f"md5:{md5}")
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        n = len(labels) if limit is None else min(limit, len(labels))
        return images[:n].reshape(n, -1).copy(), labels[:n].copy()
    spec = get_spec(dataset)
    images_file, labels_file = spec.splits[split]
    images = _read_idx(Path(data_dir) / images_file, 2051, spec.md5[images_file])
    labels = _read_idx(Path(data_dir) / labels_file, 2049, spec.md5[labels_file])
    for name in (images_file, labels_file):  # checked against these MD5s when read
        provenance.note(Path(data_dir) / name, f"md5:{spec.md5[name]}")
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
    from regionprune.io.storage import read_table

    table = read_table(path)
    if list(table["pixel"]) != list(range(len(table))):
        raise DataError(f"{path}: pixels out of order or missing")
    return table["blank"].to_numpy(dtype=bool)


def unit_pixels(images: NDArray[Any]) -> NDArray[np.float32]:
    """Pixels as float32 in [0, 1], the network's input (``training.as_float`` on a tensor):
    uint8 over 255; float images are in [0, 1] already."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        return images.astype(np.float32)
    return images.astype(np.float32) / np.float32(255.0)


# ---- a user's data set ------------------------------------------------------------------------

#: The IDX files of a user's data set, by the array they hold.
_IDX_ARRAYS = dict(zip(NPZ_ARRAYS, IDX_FILES))


def _read_user_idx(folder: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    arrays, problems = {}, []
    for name, file in _IDX_ARRAYS.items():
        path = folder / file
        if not path.is_file():
            problems.append(
                f"{path}: missing (an IDX data set needs the four files {', '.join(IDX_FILES)})"
            )
            continue
        try:
            arrays[name] = _read_idx_file(path, 2051 if name.startswith("x") else 2049, None)
        except (DataError, DamagedFile) as err:
            problems.append(
                f"{path}: not an IDX {'image' if name.startswith('x') else 'label'}"
                f" file ({getattr(err, 'reason', err)})"
            )
    return arrays, problems


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as err:  # not a zip, truncated, object arrays
        return {}, [f"{path}: cannot be read as an .npz file ({str(err).splitlines()[0]})"]
    missing = [k for k in NPZ_ARRAYS if k not in arrays]
    problems = [
        f"{path}: no array {k} (an .npz data set holds {', '.join(NPZ_ARRAYS)}, and may hold"
        " class_names)"
        for k in missing
    ]
    return arrays, problems


def find_user_source(source: str | os.PathLike[str]) -> tuple[Path, str]:
    """(the file or folder to read, its form: ``npz`` or ``idx``) of a user's ``local_dir``."""
    path = Path(source)
    fix = (
        f"Fix: point data.local_dir at a folder holding the four IDX files ({', '.join(IDX_FILES)})"
        f" or one .npz file with {', '.join(NPZ_ARRAYS)}, or at the .npz file itself."
    )
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(f"data.local_dir: {path.resolve()} is a file but no .npz. {fix}")
        return path, "npz"
    if not path.is_dir():
        raise DataError(f"data.local_dir: {path.resolve()} does not exist. {fix}")
    npz = sorted(path.glob("*.npz"))
    idx = [f for f in IDX_FILES if (path / f).exists()]
    if len(npz) == 1 and not idx:
        return npz[0], "npz"
    if len(npz) > 1:
        raise DataError(
            f"data.local_dir: {path.resolve()} holds {len(npz)} .npz files"
            f" ({', '.join(p.name for p in npz)}): which is the data set? {fix}"
        )
    if npz and idx:
        raise DataError(
            f"data.local_dir: {path.resolve()} holds both an .npz file and IDX"
            f" files: which is the data set? {fix}"
        )
    if not idx:
        raise DataError(
            f"data.local_dir: {path.resolve()} holds no .npz file and no IDX files. {fix}"
        )
    return path, "idx"


def check_arrays(arrays: dict[str, np.ndarray], where: str) -> list[str]:
    """Every problem of a user's arrays, one line each naming ``where`` (the file): shapes,
    dtypes, value and label ranges, matching counts, classes without images."""
    problems = []
    xs = {k: arrays[k] for k in ("x_train", "x_test") if k in arrays}
    ys = {k: arrays[k] for k in ("y_train", "y_test") if k in arrays}
    for k, x in xs.items():
        if x.ndim != 3:
            problems.append(
                f"{where}: {k} has shape {x.shape}; images must be N x H x W."
                " Fix: reshape them to (N, H, W)"
            )
        elif 0 in x.shape:
            problems.append(f"{where}: {k} is empty (shape {x.shape})")
        if x.dtype == np.uint8:
            continue
        if not np.issubdtype(x.dtype, np.floating):
            problems.append(
                f"{where}: {k} is {x.dtype}; images must be uint8 (0-255) or floats" " in [0, 1]"
            )
        elif x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
            problems.append(
                f"{where}: {k} holds floats from {np.nanmin(x):g} to {np.nanmax(x):g};"
                " float images must lie in [0, 1]. Fix: divide by the maximum, or"
                " give uint8"
            )
    shapes = {x.shape[1:] for x in xs.values() if x.ndim == 3}
    if len(shapes) > 1:
        problems.append(
            f"{where}: x_train's images are {xs['x_train'].shape[1:]} but x_test's"
            f" {xs['x_test'].shape[1:]}; both splits need one image shape"
        )
    if len({x.dtype for x in xs.values()}) > 1:
        problems.append(
            f"{where}: x_train is {xs['x_train'].dtype} but x_test"
            f" {xs['x_test'].dtype}; give both splits one dtype"
        )
    names = arrays.get("class_names")
    n_named = None
    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "US":
            problems.append(f"{where}: class_names must be a 1-D array of strings")
        else:
            n_named = len(names)
    good_labels = True
    for k, y in ys.items():
        if y.ndim != 1:
            problems.append(
                f"{where}: {k} has shape {y.shape}; labels must be one integer per"
                " image, shape (N,)"
            )
            good_labels = False
        elif not np.issubdtype(y.dtype, np.integer):
            problems.append(f"{where}: {k} is {y.dtype}; labels must be integers 0..C-1")
            good_labels = False
        elif y.size and y.min() < 0:
            problems.append(f"{where}: {k} holds the label {y.min()}; labels must be 0..C-1")
            good_labels = False
        elif n_named is not None and y.size and y.max() >= n_named:
            problems.append(
                f"{where}: {k} holds the label {y.max()}, out of range for"
                f" {n_named} class_names (0..{n_named - 1})"
            )
            good_labels = False
    for split in ("train", "test"):
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is not None and y is not None and len(x) != len(y):
            problems.append(
                f"{where}: x_{split} holds {len(x)} images but y_{split}"
                f" {len(y)} labels; they must pair up"
            )
    if good_labels and len(ys) == 2 and all(y.size for y in ys.values()):
        n = _class_count(list(ys.values()), names if n_named is not None else None)
        if n < 2:
            problems.append(f"{where}: the labels name {n} class; a classifier needs two or more")
        for k, y in ys.items():
            absent = np.flatnonzero(np.bincount(y, minlength=n) == 0)
            if len(absent):
                problems.append(
                    f"{where}: {k} has no images of class(es)"
                    f" {absent[:10].tolist()}; labels must be 0..{n - 1}, each"
                    " class present in both splits"
                )
    return problems


def _class_count(ys: list[np.ndarray], names: np.ndarray | None) -> int:
    """C: the class names' count where given, else the largest label + 1."""
    return len(names) if names is not None else int(max(y.max() for y in ys)) + 1


def read_user_source(source: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], DataInfo]:
    """A user's data set from ``data.local_dir``, checked: its arrays (images N x H x W, labels
    int64) and what they hold. Every problem found is raised together, one line each."""
    path, form = find_user_source(source)
    arrays, problems = _read_npz(path) if form == "npz" else _read_user_idx(path)
    where = str(path.resolve())
    problems += check_arrays(arrays, where)
    if problems:
        raise DataError(f"data.local_dir ({where}) cannot be used:\n  " + "\n  ".join(problems))
    names = arrays.get("class_names")
    n = _class_count([arrays["y_train"], arrays["y_test"]], names)
    class_names = tuple(str(c) for c in names) if names is not None else tuple(map(str, range(n)))
    x_dtype = np.uint8 if arrays["x_train"].dtype == np.uint8 else np.float32
    out = {
        "x_train": np.ascontiguousarray(arrays["x_train"], dtype=x_dtype),
        "y_train": arrays["y_train"].astype(np.int64),
        "x_test": np.ascontiguousarray(arrays["x_test"], dtype=x_dtype),
        "y_test": arrays["y_test"].astype(np.int64),
    }
    shape = out["x_train"].shape[1:]
    return out, DataInfo((int(shape[0]), int(shape[1])), n, class_names)


def check_user_source(source: str | os.PathLike[str]) -> DataInfo:
    """Refuse a user's data source that cannot be used, before anything runs (``DataError``
    with every problem); what it holds, where it can."""
    return read_user_source(source)[1]


def _file_md5(path: Path) -> str:
    with open(path, "rb") as f:
        return _stream_md5(f)


def import_user_data(dataset: str, source: str | os.PathLike[str], out_dir: Path) -> list[Path]:
    """Check a user's data source and write it as ``data.npz`` and ``info.json`` in
    ``out_dir``: both, or neither."""
    arrays, info = read_user_source(source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".fetch-") as tmp:
        data = Path(tmp) / USER_DATA
        np.savez(data, **arrays)
        record = {
            "dataset": dataset,
            **info.to_dict(),
            "md5": _file_md5(data),
            "source": str(Path(source).resolve()),
            "images": {"train": len(arrays["y_train"]), "test": len(arrays["y_test"])},
            "dtype": str(arrays["x_train"].dtype),
        }
        (Path(tmp) / USER_INFO).write_text(json.dumps(record, indent=1) + "\n")
        log.info(
            "%s: %d + %d images of %s, %d classes, %s",
            dataset,
            len(arrays["y_train"]),
            len(arrays["y_test"]),
            "x".join(map(str, info.image_shape)),
            info.n_classes,
            record["dtype"],
        )
        placed = []
        for name in (USER_DATA, USER_INFO):  # the info last: it vouches for the data
            os.replace(Path(tmp) / name, out_dir / name)
            placed.append(out_dir / name)
    return placed


def _user_md5(data_dir: Path) -> str:
    path = data_dir / USER_INFO
    with reading(path):
        return str(json.loads(path.read_text())["md5"])


def _read_user_copy(path: Path, md5: str) -> dict[str, np.ndarray]:
    with reading(path):
        raw = path.read_bytes()
    _require_md5(path, hashlib.md5(raw).hexdigest(), md5)
    import io

    with reading(path), np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {k: npz[k] for k in NPZ_ARRAYS}
