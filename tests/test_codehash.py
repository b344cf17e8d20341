"""Code versions: follow imports, ignore comments and docstrings, change with behaviour."""

from __future__ import annotations

import shutil

from regionprune.workflow.codehash import code_version, module_closure, package_root


def _copy_package(tmp_path):
    root = tmp_path / "regionprune"
    shutil.copytree(package_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_closure_follows_package_imports_only():
    closure = module_closure("regionprune.workflow.jobs.label")
    assert {"workflow/jobs/label.py", "core/regions.py", "core/pruning.py", "io/storage.py"} <= set(
        closure
    )
    assert (
        "core/training.py" not in closure and "core/model.py" not in closure
    )  # no torch for labelling


def test_version_changes_with_code_not_with_comments(tmp_path):
    root = _copy_package(tmp_path)
    before = {job: code_version(job, root) for job in ("label", "baseline")}
    regions = root / "core" / "regions.py"
    regions.write_text(regions.read_text() + "\n# a comment changes nothing\n")
    assert code_version("label", root) == before["label"]
    regions.write_text(regions.read_text().replace("connectivity=connectivity", "connectivity=4"))
    assert code_version("label", root) != before["label"]
    assert code_version("baseline", root) == before["baseline"]  # baseline never uses regions


def test_version_ignores_docstrings_but_not_other_strings(tmp_path):
    """Editing a docstring in core/pruning.py reran 14 jobs (issue 23); a string the code uses is
    behaviour."""
    root = _copy_package(tmp_path)
    before = code_version("label", root)
    pruning = root / "core" / "pruning.py"
    text = pruning.read_text()
    module_doc = text.index('"""') + 3
    edited = text[:module_doc] + "Edited: " + text[module_doc:]
    function_doc = edited.index('"""', edited.index("\ndef ")) + 3
    edited = edited[:function_doc] + "Also edited. " + edited[function_doc:]
    pruning.write_text(edited)
    assert code_version("label", root) == before
    pruning.write_text(edited + '\nMESSAGE = "a value the code may use"\n')
    assert code_version("label", root) != before
