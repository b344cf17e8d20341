"""Code versions: follow imports, ignore comments, change with behaviour."""

from __future__ import annotations

import shutil

from regionprune.codehash import code_version, module_closure, package_root


def _copy_package(tmp_path):
    root = tmp_path / "regionprune"
    shutil.copytree(package_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_closure_follows_package_imports_only():
    closure = module_closure("regionprune.jobs.label")
    assert {"jobs/label.py", "regions.py", "pruning.py", "storage.py"} <= set(closure)
    assert "training.py" not in closure and "model.py" not in closure  # no torch for labelling


def test_version_changes_with_code_not_with_comments(tmp_path):
    root = _copy_package(tmp_path)
    before = {job: code_version(job, root) for job in ("label", "baseline")}
    regions = root / "regions.py"
    regions.write_text(regions.read_text() + "\n# a comment changes nothing\n")
    assert code_version("label", root) == before["label"]
    regions.write_text(regions.read_text().replace("connectivity=connectivity", "connectivity=4"))
    assert code_version("label", root) != before["label"]
    assert code_version("baseline", root) == before["baseline"]  # baseline never uses regions
