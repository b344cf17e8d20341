"""The package's three wings: ``core`` (the science) imports neither ``io`` nor ``workflow``;
``io`` (data and results on disk) imports the core, never the workflow; ``workflow`` may import
both. Read from the source (every import, also inside functions and under TYPE_CHECKING) and
checked again by importing the core in a fresh interpreter."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from regionprune.workflow.codehash import package_root

ROOT = package_root()
WINGS = ("core", "io", "workflow")
#: What each wing may import from the package, besides itself (None: the package's own
#: ``__init__``, its version and the Ctrl-C message).
ALLOWED = {"core": set(), "io": {"core"}, "workflow": {"core", "io", None}}


def _imported(path: Path) -> set[str]:
    """The package modules a file imports: ``regionprune.<wing>...`` (or just ``regionprune``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module == "regionprune":  # from regionprune import core, INTERRUPTED
                found.update(f"regionprune.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}: relative import; the layout test reads absolute ones")
    return {m for m in found if m == "regionprune" or m.startswith("regionprune.")}


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else None


def wing_violations(root: Path = ROOT) -> list[str]:
    """Every import that crosses the wings the wrong way, as ``file: module``."""
    bad = []
    for wing in WINGS:
        for path in sorted((root / wing).rglob("*.py")):
            for module in sorted(_imported(path)):
                target = _wing(module)
                if target != wing and target not in ALLOWED[wing]:
                    bad.append(f"{path.relative_to(root)}: {module}")
    return bad


def test_every_module_lies_in_a_wing():
    top = sorted(p.name for p in ROOT.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]
    for wing in WINGS:
        assert (ROOT / wing / "__init__.py").is_file()


def test_no_import_crosses_the_wings_the_wrong_way():
    assert wing_violations() == []


def test_a_wrong_way_import_is_found(tmp_path):
    """The check itself: a core module that reads a result file, an io module that asks the
    workflow's settings."""
    import shutil

    root = tmp_path / "regionprune"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    metrics = root / "core" / "metrics.py"
    metrics.write_text(
        metrics.read_text() + "\n\ndef f():\n    from regionprune.io import storage\n"
    )
    data = root / "io" / "data.py"
    data.write_text("from regionprune.workflow.settings import TrainSettings\n" + data.read_text())
    assert wing_violations(root) == [
        "core/metrics.py: regionprune.io",
        "io/data.py: regionprune.workflow.settings",
    ]


def _loaded(modules: list[str]) -> list[str]:
    """The package's modules a fresh interpreter holds after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('regionprune'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_importing_the_core_loads_nothing_of_the_other_wings():
    modules = sorted(
        "regionprune." + ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "core").rglob("*.py")
        if p.name != "__init__.py"
    )
    loaded = _loaded(modules)
    assert len(modules) >= 14 and set(modules) <= set(loaded)
    assert [m for m in loaded if _wing(m) not in ("core", None)] == []


def test_importing_io_loads_no_workflow():
    modules = [f"regionprune.io.{p.stem}" for p in (ROOT / "io").glob("*.py")]
    assert [m for m in _loaded(modules) if _wing(m) == "workflow"] == []


def test_the_job_client_stays_light():
    """Every job of a run starts as ``python -m regionprune``, which hands it to the warm job
    server: it loads the client alone, none of the server's or the jobs' imports (the whole
    server module doubled the client's start-up, in each of a grid's 500 jobs)."""
    code = (
        "import json, sys, regionprune.workflow.jobclient; print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    heavy = {"subprocess", "tempfile", "secrets", "numpy", "torch", "pydantic"}
    assert loaded & heavy == set()
    assert {m for m in loaded if m.startswith("regionprune")} == {
        "regionprune",
        "regionprune.workflow",
        "regionprune.workflow.jobclient",
    }
    main = (ROOT / "__main__.py").read_text()  # the entry point hands over through it
    assert "import jobclient" in main and "import jobserver" not in main
