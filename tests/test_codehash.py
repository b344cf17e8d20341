"""Code versions: follow imports, ignore comments and docstrings, change with behaviour."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from regionprune.workflow import codehash
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


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """A cache folder of the test's own, and a new process's empty memory of it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("REGIONPRUNE_CACHE", str(folder))
    monkeypatch.setattr(codehash, "_KEPT", {})
    return folder


def _fresh(job, root, monkeypatch, tmp_path):
    """The version computed from the files, with no cache at all (a path no folder can be
    made at: a file stands in the way)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with monkeypatch.context() as m:
        m.setenv("REGIONPRUNE_CACHE", str(blocker / "cache"))
        m.setattr(codehash, "_KEPT", {})
        return code_version(job, root)


def _new_process(monkeypatch):
    monkeypatch.setattr(codehash, "_KEPT", {})


def test_a_kept_version_is_used_only_while_every_file_it_read_is_unchanged(
    tmp_path, cache, monkeypatch
):
    """Kept across processes; then a same-size edit (the time differs, as an editor's save
    a moment later does) and a new file that answers an import that found none before each
    give the version of the files as they are, not the kept one."""
    monkeypatch.setattr(codehash, "RACY_SECONDS", 0.0)
    root = _copy_package(tmp_path)
    before = code_version("label", root)
    assert json.loads(codehash.cache_path().read_text())[str(root)]
    _new_process(monkeypatch)
    assert code_version("label", root) == before == _fresh("label", root, monkeypatch, tmp_path)

    regions = root / "core" / "regions.py"
    text = regions.read_text()
    edited = text.replace("connectivity=connectivity", "connectivity=CONNECTIVITY", 1)
    assert len(edited) == len(text) and edited != text
    st = regions.stat()
    regions.write_text(edited)
    os.utime(regions, ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    _new_process(monkeypatch)
    after_edit = code_version("label", root)
    assert after_edit != before
    assert after_edit == _fresh("label", root, monkeypatch, tmp_path)

    # `from regionprune.core.regions import ...` also looks for a module of that name
    looked = codehash._walk("regionprune.workflow.jobs.label", root)[1]
    nothing = sorted(n for n, stamp in looked.items() if stamp is None and ".core.regions." in n)
    assert nothing, looked
    package = root / "core" / "regions"
    package.mkdir()
    (package / (nothing[0].rsplit(".", 1)[1] + ".py")).write_text("VALUE = 1\n")
    _new_process(monkeypatch)
    with_file = code_version("label", root)
    assert with_file != after_edit
    assert with_file == _fresh("label", root, monkeypatch, tmp_path)


def test_files_changed_within_the_racy_seconds_are_not_kept(tmp_path, cache):
    """A copy made just now: its time stamps could not tell a change made in the same clock
    tick, so its versions are computed but not kept."""
    root = _copy_package(tmp_path)
    code_version("label", root)
    kept = json.loads(codehash.cache_path().read_text()) if codehash.cache_path().exists() else {}
    assert str(root) not in kept


@pytest.mark.parametrize(
    "damage", ['{"half a file', "[1, 2]", '{"ROOT": [1, 2]}', '{"ROOT": {"MODULE": 7}}']
)
def test_a_damaged_cache_is_ignored_and_replaced(tmp_path, cache, monkeypatch, damage):
    """Cut short, or JSON of another layout (also where this package's own entry goes)."""
    monkeypatch.setattr(codehash, "RACY_SECONDS", 0.0)
    root = _copy_package(tmp_path)
    codehash.cache_path().parent.mkdir(parents=True)
    damage = damage.replace("ROOT", str(root)).replace("MODULE", codehash.JOB_PACKAGE + ".label")
    codehash.cache_path().write_text(damage)
    assert code_version("label", root) == _fresh("label", root, monkeypatch, tmp_path)
    assert str(root) in json.loads(codehash.cache_path().read_text())
    _new_process(monkeypatch)
    assert code_version("label", root) == _fresh("label", root, monkeypatch, tmp_path)


def test_without_a_home_folder_versions_are_computed_each_time(tmp_path, monkeypatch):
    """No cache folder to be found (no $HOME, no entry in the user database): no cache, the
    same versions."""
    monkeypatch.delenv("REGIONPRUNE_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home() -> None:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(codehash.Path, "home", staticmethod(no_home))
    root = _copy_package(tmp_path)
    assert code_version("label", root) == _fresh("label", root, monkeypatch, tmp_path)
