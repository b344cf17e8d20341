"""Data rule logic: content checksums, local copies, real downloads over loopback, IDX parsing."""

from __future__ import annotations

import functools
import gzip
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from regionprune.io.data import (
    DOWNLOAD_ROUNDS,
    IDX_FILES,
    MNIST,
    DataError,
    content_md5,
    fetch,
    inactive_pixels,
    load_split,
)


def test_shared_mnist_matches_official_content_md5(mnist_dir):
    for name, expected in MNIST.md5.items():
        assert content_md5(mnist_dir / name) == expected


def test_fetch_from_local_dir_places_all_four(tmp_path, mnist_dir):
    placed = fetch("mnist", tmp_path / "out", local_dir=mnist_dir)
    assert sorted(p.name for p in placed) == sorted(IDX_FILES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(IDX_FILES)


def _copy_with_corrupt(src: Path, dst: Path, corrupt: str) -> None:
    dst.mkdir()
    for name in IDX_FILES:
        shutil.copyfile(src / name, dst / name)
    with gzip.open(dst / corrupt, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0xFF  # one flipped byte in the content
    with gzip.open(dst / corrupt, "wb") as f:
        f.write(bytes(data))


def test_corrupt_file_names_file_checksum_and_fix_and_leaves_nothing(tmp_path, mnist_dir):
    bad = tmp_path / "bad"
    _copy_with_corrupt(mnist_dir, bad, "t10k-labels-idx1-ubyte.gz")
    out = tmp_path / "out"
    with pytest.raises(DataError) as err:
        fetch("mnist", out, local_dir=bad)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg
    assert MNIST.md5["t10k-labels-idx1-ubyte.gz"] in msg
    assert "Fix:" in msg
    assert list(out.iterdir()) == []  # not even the three good files


def test_truncated_file_is_reported(tmp_path, mnist_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in IDX_FILES:
        shutil.copyfile(mnist_dir / name, bad / name)
    raw = (bad / IDX_FILES[0]).read_bytes()
    (bad / IDX_FILES[0]).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="unreadable"):
        fetch("mnist", tmp_path / "out", local_dir=bad)


def test_missing_local_file_says_which_and_how(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz is missing .*Fix"):
        fetch("mnist", tmp_path / "out", local_dir=tmp_path)


@pytest.fixture
def http_mirror(mnist_dir):
    """A real HTTP server on loopback serving the MNIST files."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mnist_dir))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_falls_back_to_next_mirror(tmp_path, http_mirror):
    dead = "http://127.0.0.1:9/"  # discard port: nothing listens, connection refused
    placed = fetch("mnist", tmp_path / "out", mirrors=[dead, http_mirror], timeout=10)
    assert len(placed) == 4


def test_download_failure_lists_mirrors_and_fix(tmp_path, monkeypatch):
    """A refused connection may be a mirror's hiccup: every round is tried, waiting between."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    with pytest.raises(DataError, match=r"(?s)127\.0\.0\.1:9.*local_dir") as err:
        fetch("mnist", tmp_path / "out", mirrors=["http://127.0.0.1:9/"], timeout=5)
    assert "offline" not in str(err.value)
    assert waits == [w for w in DOWNLOAD_ROUNDS if w] and len(waits) == 2
    assert list((tmp_path / "out").iterdir()) == []


def test_an_offline_machine_is_told_at_once(tmp_path, monkeypatch):
    """A name that cannot be looked up (``.invalid`` never resolves, RFC 2606; offline, every
    name fails so) is not retried: waiting would not bring the network back."""
    waits: list[float] = []
    monkeypatch.setattr("time.sleep", waits.append)
    with pytest.raises(DataError, match=r"this machine seems to be offline.*\n.*mirror\.invalid"):
        fetch("mnist", tmp_path / "out", mirrors=["http://mirror.invalid/"], timeout=5)
    assert waits == []


def test_a_users_data_set_needs_a_folder():
    with pytest.raises(DataError, match="'cifar' is not built in .* Fix: set data.local_dir"):
        fetch("cifar", Path("/nonexistent"))


def test_load_split_shapes_and_limit(mnist_dir):
    x, y = load_split(mnist_dir, "mnist", "test")
    assert x.shape == (10000, 784) and x.dtype == np.uint8
    assert y.shape == (10000,) and set(np.unique(y)) == set(range(10))
    x5, y5 = load_split(mnist_dir, "mnist", "train", limit=5)
    assert x5.shape == (5, 784)
    assert y5.tolist() == [5, 0, 4, 1, 9]  # MNIST's famous first training labels
    # MNIST's border pixels are blank in every image
    assert x.reshape(-1, 28, 28)[:, 0, :].max() == 0


def test_inactive_pixels_by_hand_and_on_mnist(mnist_dir):
    images = np.array([[0, 3, 0, 0], [0, 0, 0, 1]], dtype=np.uint8)
    assert inactive_pixels(images).tolist() == [True, False, True, False]
    x, _ = load_split(mnist_dir, "mnist", "train")
    blank = inactive_pixels(x).reshape(28, 28)
    assert blank.sum() == 67 and blank[[0, 0, 27, 27], [0, 27, 0, 27]].all()
    assert not blank[14].any()  # the middle row is inked somewhere in every column


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


@pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed here (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_debian_passes_its_content_checksums(tmp_path):
    placed = fetch("fashion_mnist", tmp_path, local_dir=FASHION_DIR)
    assert len(placed) == 4
    x, y = load_split(tmp_path, "fashion_mnist", "train")
    assert x.shape == (60000, 784) and set(np.unique(y)) == set(range(10))
    # the other data set's files fail loudly, naming the checksum
    with pytest.raises(DataError, match="fails its checksum"):
        fetch("mnist", tmp_path / "wrong", local_dir=FASHION_DIR)
