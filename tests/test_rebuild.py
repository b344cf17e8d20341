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


def _refused(work: Path, rel: Path, why: str) -> None:
    """The README command stops at the first job that reads ``rel``: it names the file and why,
    and the screen ends with the fix."""
    failed = snakemake(work, check=False)
    text = failed.stdout + failed.stderr
    assert failed.returncode != 0 and f"{rel} {why}" in text, text[-3000:]
    for raw in ("Traceback", "OSError", "ArrowInvalid", "EOFError"):
        assert raw not in text, text[-3000:]
    assert text.strip().splitlines()[-1] == (
        f"Fix: add --forcerun {rel} to your snakemake command; it rebuilds this file and "
        "everything computed from it."
    )


def test_a_foreign_stage_then_a_foreign_run_are_named_and_rebuilt(reference, tmp_path):
    """Valid files, right checksums, in the wrong place, each newer than what was made from it.
    First the region run's iteration-1 checkpoint copied over its magnitude-pruned one
    (iteration 0): each result records its place, so check names it and the next job refuses it
    (it was silently pruned and retrained from, issue 23). Then, upstream of it, another seed's
    baseline (here: this run's weights recorded as seed 4's): named by check and refused in
    turn. The fix of the second rebuilds both, and the run's results are the reference's (one
    rebuild for the two: each was 25-30 s of the suite)."""
    from regionprune.io.storage import save_checkpoint

    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    later = _iteration_file(work, "model.h5", 1)
    (pruned,) = (work / "results" / "runs").glob("*/mag*/model.h5")
    shutil.copy(later, pruned)
    stage = pruned.relative_to(work)
    found = _check(work)
    assert found.returncode == 1, found.stdout + found.stderr
    assert f"foreign  {stage}  (written as runs/" in found.stdout, found.stdout
    assert "/region/iter1/model.h5)" in found.stdout, found.stdout
    _refused(work, stage, "belongs to another stage")

    (baseline,) = (work / "results" / "runs").glob("*/baseline/model.h5")
    ckpt = load_checkpoint(baseline)
    ckpt.attrs["settings"]["train"]["seed"] += 1
    save_checkpoint(baseline, ckpt)
    run = baseline.relative_to(work)
    found = _check(work)
    seed = ckpt.attrs["settings"]["train"]["seed"]
    assert found.returncode == 1 and f"foreign  {run}  (made by the run " in found.stdout
    assert f"_s{seed}" in found.stdout, found.stdout
    assert f"foreign  {stage}  " in found.stdout, found.stdout  # both listed
    _refused(work, run, "belongs to another run")
    snakemake(work, "--forcerun", str(run))  # what the message says
    same_results(reference, work)
    assert _check(work).returncode == 0


def _iteration_file(workdir: Path, name: str, k: int = 1) -> Path:
    (path,) = (workdir / "results" / "runs").glob(f"*/*/*/region/iter{k}/{name}")
    return path


def test_a_damaged_result_then_a_damaged_data_file_are_named_and_rebuilt(reference, tmp_path):
    """End to end, a result and a data file: the job that reads each stops with its name and
    the fix. First one flipped bit in a mask (it still opens: only its checksum tells); then,
    upstream of it, a data copy cut short. The fix of the second rebuilds everything, the mask
    too, and the run's results are the reference's (one rebuild for the two: each was 18-22 s
    of the suite). That each loader tells every kind of damage (cut short, overwritten, one
    flipped bit) in every file type is tested file by file in test_storage and test_data (a
    damaged model.h5, regions.h5 and epochs.parquet were run end to end here too, 70 s each,
    proving nothing more)."""
    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    mask = _iteration_file(work, "mask.h5")
    data = bytearray(mask.read_bytes())
    data[len(data) // 2] ^= 0x10
    mask.write_bytes(bytes(data))
    _refused(work, mask.relative_to(work), "is damaged")

    images = work / "results" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:5000])
    rel = images.relative_to(work)
    _refused(work, rel, "is damaged")
    snakemake(work, "--forcerun", str(rel))  # what the message says
    same_results(reference, work)


def test_deleted_and_silently_changed_results_are_listed_by_check_and_rebuilt(reference, tmp_path):
    """What Snakemake cannot see, two ways at once (a backup restored with files lost): deleted
    intermediate results, the data copy too, leave a later run with nothing to do (Snakemake
    needs them only to rebuild what follows); and the baseline rewritten with other weights but
    its old time (a copy with cp -p) is not newer than what was made from it. ``check`` lists
    the missing and, from the content checksums each result records of its inputs, those made
    from the earlier baseline as stale; its one fix rebuilds them all, and the results are the
    reference's (one rebuild for both: each was 24-48 s of the suite)."""
    from regionprune.io.storage import save_checkpoint

    work = tmp_path / "work"
    shutil.copytree(reference, work, ignore=shutil.ignore_patterns(".snakemake"))
    assert _check(work).returncode == 0
    gone = _iteration_file(work, "regions.parquet")
    gone.unlink()
    shutil.rmtree(work / "results" / "data")
    (baseline,) = (work / "results" / "runs").glob("*/baseline/model.h5")
    stat = baseline.stat()
    ckpt = load_checkpoint(baseline)
    ckpt.params["fc1.bias"] = ckpt.params["fc1.bias"] + 0.01
    save_checkpoint(baseline, ckpt)
    os.utime(baseline, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    idle = snakemake(work)
    assert "Nothing to be done" in idle.stdout + idle.stderr

    found = _check(work)
    assert found.returncode == 1, found.stdout + found.stderr
    lines = found.stdout.splitlines()
    missing = sorted(ln.split()[1] for ln in lines if ln.strip().startswith("missing"))
    data = work / "results" / "data" / "mnist"
    expected = [gone, data / "blank_pixels_2000.parquet", *(data / f for f in IDX_FILES)]
    assert missing == sorted(str(p.relative_to(work)) for p in expected), found.stdout
    stale = [ln for ln in lines if ln.strip().startswith("stale")]
    rel = str(baseline.relative_to(work))
    assert stale and all(f"(made from an earlier {rel})" in ln for ln in stale), found.stdout
    assert any("/mag0.5/model.h5" in ln for ln in stale), stale  # pruned from the baseline
    fix = lines[-1]
    assert fix.startswith("Fix: add --forcerun ") and fix.endswith(
        "to your snakemake command; it rebuilds these files and everything computed from them."
    )
    files = fix.removeprefix("Fix: add --forcerun ").split(" to your snakemake")[0].split()
    assert sorted(files) == sorted(missing + [ln.split()[1] for ln in stale])
    snakemake(work, "--forcerun", *files)
    same_results(reference, work)
    assert _check(work).returncode == 0
