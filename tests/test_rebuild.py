"""Damaged, deleted, foreign and stale results in the real workflow, on a slice of real MNIST:
each is named, with the command that rebuilds it, and that command (nothing else) restores the
reference run's results (test_faults' reference, made once per test session and shared).

Which damage each file type's reader detects is tested at unit level (test_storage
and test_data); here, one damaged file of each kind the workflow reads first (a data copy, a
mask) goes through the whole way from detection to rebuild.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import same_results

from regionprune.io.data import IDX_FILES
from regionprune.io.storage import load_checkpoint
from test_faults import _check, uninterrupted
from test_workflow import snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def reference(tmp_path_factory, worker_id, mnist_dir) -> Path:
    return uninterrupted(tmp_path_factory, worker_id, mnist_dir)


def test_another_runs_checkpoint_is_named_and_rebuilt(reference, tmp_path):
    """Another seed's valid baseline copied over this run's (here: this run's weights recorded
    as seed 4's) and newer than what was made from it: the next job refuses it by name, the
    screen ends with the fix, and the fix restores the run's results."""
    from regionprune.io.storage import save_checkpoint

    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    (baseline,) = (work / "results" / "runs").glob("*/baseline/model.h5")
    ckpt = load_checkpoint(baseline)
    ckpt.attrs["settings"]["train"]["seed"] += 1
    save_checkpoint(baseline, ckpt)
    rel = baseline.relative_to(work)
    found = _check(work)  # check names it too (it said "all ... intact")
    seed = ckpt.attrs["settings"]["train"]["seed"]
    assert found.returncode == 1 and f"foreign  {rel}  (made by the run " in found.stdout
    assert f"_s{seed}" in found.stdout, found.stdout
    failed = snakemake(work, check=False)
    text = failed.stdout + failed.stderr
    assert failed.returncode != 0 and f"{rel} belongs to another run" in text, text[-3000:]
    assert text.strip().splitlines()[-1] == (
        f"Fix: add --forcerun {rel} to your snakemake command; it rebuilds this file and "
        "everything computed from it."
    )
    snakemake(work, "--forcerun", str(rel))
    same_results(reference, work)


def test_another_stages_file_is_named_and_rebuilt(reference, tmp_path):
    """The region run's iteration-1 checkpoint copied over its magnitude-pruned one (iteration
    0), newer than what was made from it: same run, valid checksums. Each result records its
    place, so check names it and the next job refuses it; the fix restores the run's results
    (it was silently pruned and retrained from, issue 23)."""
    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    later = _iteration_file(work, "model.h5", 1)
    (pruned,) = (work / "results" / "runs").glob("*/mag*/model.h5")
    shutil.copy(later, pruned)
    rel = pruned.relative_to(work)
    found = _check(work)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"foreign  {rel}  (written as runs/" in found.stdout, found.stdout
    assert "/region/iter1/model.h5)" in found.stdout, found.stdout
    failed = snakemake(work, check=False)
    text = failed.stdout + failed.stderr
    assert failed.returncode != 0 and f"{rel} belongs to another stage" in text, text[-3000:]
    assert text.strip().splitlines()[-1].startswith(f"Fix: add --forcerun {rel} ")
    snakemake(work, "--forcerun", str(rel))
    same_results(reference, work)


def test_results_made_from_an_input_that_changed_since_are_listed_as_stale(reference, tmp_path):
    """The baseline rewritten with other weights but its old time (a restore from a backup, a
    copy with cp -p): Snakemake sees nothing to do, as the file is not newer than what was
    made from it. Every result records its inputs' content checksums, so check lists those
    made from the earlier baseline as stale, and its fix rebuilds them."""
    from regionprune.io.storage import save_checkpoint

    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    (baseline,) = (work / "results" / "runs").glob("*/baseline/model.h5")
    stat = baseline.stat()
    ckpt = load_checkpoint(baseline)
    ckpt.params["fc1.bias"] = ckpt.params["fc1.bias"] + 0.01
    save_checkpoint(baseline, ckpt)
    os.utime(baseline, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert "Nothing to be done" in snakemake(work, "-n").stdout
    found = _check(work)
    assert found.returncode == 1, found.stdout + found.stderr
    stale = [ln.split()[1] for ln in found.stdout.splitlines() if ln.strip().startswith("stale")]
    rel = str(baseline.relative_to(work))
    assert stale and all(
        rel in ln for ln in found.stdout.splitlines() if "stale" in ln
    ), found.stdout
    assert any(p.endswith("magnitude/model.h5") or "/mag" in p for p in stale), stale
    fix = found.stdout.strip().splitlines()[-1]
    assert fix.startswith("Fix: add --forcerun ") and all(p in fix for p in stale)
    snakemake(work, "--forcerun", *stale)
    assert _check(work).returncode == 0


def _iteration_file(workdir: Path, name: str, k: int = 1) -> Path:
    (path,) = (workdir / "results" / "runs").glob(f"*/*/*/region/iter{k}/{name}")
    return path


def _result(workdir: Path, name: str) -> Path:
    """A data file's copy (``data/<name>``) or a file of the region run's first iteration."""
    if name.startswith("data/"):
        return workdir / "results" / "data" / "mnist" / name.removeprefix("data/")
    return _iteration_file(workdir, name)


def _flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("target", "damage"),
    [
        ("mask.h5", _flip_a_bit),  # still opens: only its checksum tells
        ("data/train-images-idx3-ubyte.gz", lambda p: p.write_bytes(p.read_bytes()[:5000])),
    ],
)
def test_a_damaged_result_is_named_with_the_command_that_rebuilds_it(
    reference, tmp_path, target, damage
):
    """End to end, for a result and a data file: the job that reads it stops with its name and
    the fix, and the fix restores the run. That each loader tells every kind of damage (cut
    short, overwritten, one flipped bit) in every file type is tested file by file in
    test_storage (a damaged model.h5, regions.h5 and epochs.parquet were run end to end here
    too, 70 s each, proving nothing more)."""
    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    broken = _result(work, target)
    damage(broken)
    failed = snakemake(work, check=False)
    assert failed.returncode != 0
    rel = broken.relative_to(work)
    text = failed.stdout + failed.stderr
    assert f"{rel} is damaged" in text, text[-3000:]
    assert f"Fix: add --forcerun {rel} to your snakemake command" in text
    for raw in ("Traceback", "OSError", "ArrowInvalid", "EOFError"):
        assert raw not in text, text[-3000:]
    snakemake(work, "--forcerun", str(rel))  # what the message says
    same_results(reference, work)


def test_deleted_results_are_listed_by_check_and_rebuilt_by_its_command(reference, tmp_path):
    """Deleted intermediate results leave a later run with nothing to do (Snakemake needs
    them only to rebuild what follows); ``check`` lists them and the flag that rebuilds them."""
    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    assert _check(work).returncode == 0
    gone = _iteration_file(work, "regions.parquet")
    gone.unlink()
    shutil.rmtree(work / "results" / "data")  # the copied data too
    idle = snakemake(work)
    assert "Nothing to be done" in idle.stdout + idle.stderr
    found = _check(work)
    assert found.returncode == 1
    lines = found.stdout.splitlines()
    missing = sorted(ln.split()[1] for ln in lines if ln.strip().startswith("missing"))
    data = work / "results" / "data" / "mnist"
    expected = [gone, data / "blank_pixels_2000.parquet", *(data / f for f in IDX_FILES)]
    assert missing == sorted(str(p.relative_to(work)) for p in expected), found.stdout
    fix = lines[-1]
    assert fix.startswith("Fix: add --forcerun ") and fix.endswith(
        "to your snakemake command; it rebuilds these files and everything computed from them."
    )
    files = fix.removeprefix("Fix: add --forcerun ").split(" to your snakemake")[0].split()
    snakemake(work, "--forcerun", *files)
    same_results(reference, work)
    assert _check(work).returncode == 0
