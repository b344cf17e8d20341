"""A version for the code a workflow rule runs, so that Snakemake reruns a rule when it changes.

Snakemake sees changes to a rule's own text, not to the modules it imports. Each rule therefore
puts ``code_version(job)`` into its params: a hash over the job's module and every module of this
package it imports, directly or not. The hash is taken over the parsed syntax tree without its
docstrings, so comments, docstrings and formatting do not trigger reruns, while any change to what
the code does does. Nothing is imported.

Parsing the package takes about 0.4 s, and every Snakemake start, job server and job hashes
(each rule's params). So each job's version is kept between processes, in a small JSON file in
the user's cache folder (``$REGIONPRUNE_CACHE``, else ``$XDG_CACHE_HOME/regionprune``, else
``~/.cache/regionprune``), with every module name its closure looked up, the file that name
resolved to and that file's size, times and inode. A kept version is used only while every one
of those names still resolves to the same unchanged file, which is exactly when the closure and
its syntax trees are unchanged. As git does for its index, a file changed in the last
``RACY_SECONDS`` is not trusted to a time stamp: such a version is computed but not kept. A
cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

PACKAGE = "regionprune"
#: Where the job modules lie, one per rule.
JOB_PACKAGE = f"{PACKAGE}.workflow.jobs"


def package_root() -> Path:
    spec = find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(f"package {PACKAGE} is not installed (pip install -e .)")
    return Path(spec.origin).parent


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_closure(module: str, root: Path | None = None) -> dict[str, str]:
    """Relative path -> syntax-tree dump, for ``module`` and the package modules it imports."""
    return _walk(module, root or package_root())[0]


#: A file as the cache knows it: path, size, mtime, ctime (ns) and inode.
Stamp = tuple[str, int, int, int, int]


def _stamp(path: Path) -> Stamp:
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _walk(module: str, root: Path) -> tuple[dict[str, str], dict[str, Stamp | None]]:
    """``module_closure``, and every package module name it looked up -> the stamp of the file
    that name resolved to (None: no file)."""
    todo, seen, looked = [module], {}, {}
    while todo:
        name = todo.pop()
        if name in looked or not name.startswith(PACKAGE):
            continue
        path = _module_file(root, name)
        looked[name] = None if path is None else _stamp(path)
        if path is None:
            continue
        rel = path.relative_to(root).as_posix()
        if rel in seen:
            continue
        seen[rel], imports = _parsed(path)
        todo.extend(imports)
    return seen, looked


#: (path, size, mtime) -> (syntax-tree dump, imports): a process that hashes many jobs (the
#: job server, the Snakefile) parses each file once; a changed file is parsed again.
_PARSED: dict[tuple[str, int, int], tuple[str, set[str]]] = {}


def without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of its module, classes and functions replaced by ``pass``
    (in place): documentation, not behaviour."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body[0] = ast.Pass()
    return tree


def _parsed(path: Path) -> tuple[str, set[str]]:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _PARSED:
        tree = ast.parse(path.read_text(), filename=str(path))
        _PARSED[key] = (ast.dump(without_docstrings(tree)), _imports(tree))
    return _PARSED[key]


def _digest(closure: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(closure):
        digest.update(rel.encode() + b"\0" + closure[rel].encode() + b"\0")
    return digest.hexdigest()[:12]


#: Seconds within which a file's time stamp may not tell a later change (git's "racy" files).
RACY_SECONDS = 2.0


def cache_path() -> Path:
    """The file that keeps code versions between processes (one per Python version: syntax
    trees differ between versions)."""
    folder = os.environ.get("REGIONPRUNE_CACHE")
    if not folder:
        try:
            base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        except (RuntimeError, KeyError):  # no home folder to be found: a folder that cannot be
            base = os.devnull  # made (beneath a file), so that versions are computed each time
        folder = Path(base) / PACKAGE
    return Path(folder) / f"codehash-py{sys.version_info[0]}{sys.version_info[1]}.json"


#: The versions this process has read or computed: cache path -> {root: {module: entry}}.
_KEPT: dict[str, dict[str, dict[str, dict]]] = {}


def _kept(path: Path) -> dict[str, dict[str, dict]]:
    """The cache file's versions by package folder and module; {} for a file that is missing,
    damaged or not of this layout."""
    if str(path) not in _KEPT:
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            kept = {}
        if not isinstance(kept, dict):
            kept = {}
        _KEPT[str(path)] = {r: v for r, v in kept.items() if isinstance(v, dict)}
    return _KEPT[str(path)]


def _still_valid(entry: object, root: Path, hasher: list) -> bool:
    """Whether ``entry`` was made by this file as it is (``hasher``, its stamp) and every name
    its closure looked up resolves to the same unchanged file."""
    try:
        if entry["hasher"] != hasher or not isinstance(entry["version"], str):
            return False
        for name, stamp in entry["looked"].items():
            path = _module_file(root, name)
            if (None if path is None else list(_stamp(path))) != stamp:
                return False
        return True
    except (OSError, KeyError, TypeError, AttributeError):
        return False


def _keep(path: Path, root: Path, module: str, entry: dict) -> None:
    """Put ``entry`` in the cache file, which is replaced whole (a reader sees the old file or
    the new); packages that are gone (a test's copy) are dropped from it."""
    kept = _kept(path)
    for gone in [r for r in kept if r != str(root) and not Path(r).is_dir()]:
        del kept[gone]
    kept.setdefault(str(root), {})[module] = entry
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as out:
            json.dump(kept, out)
        os.replace(tmp, path)
    except OSError:  # a read-only or full cache folder: versions are computed each time
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def code_version(job: str, root: Path | None = None) -> str:
    """12 hex digits naming the code of ``regionprune.workflow.jobs.<job>`` and all it imports."""
    root = root or package_root()
    module = f"{JOB_PACKAGE}.{job}"
    cache = cache_path()
    hasher = list(_stamp(Path(__file__)))  # a change here may change every version
    entry = _kept(cache).get(str(root), {}).get(module)
    if _still_valid(entry, root, hasher):
        return entry["version"]
    closure, looked = _walk(module, root)
    if not closure:
        raise ValueError(f"no job module {module}")
    version = _digest(closure)
    stamps = [s for s in looked.values() if s is not None] + [tuple(hasher)]
    if time.time_ns() - max(max(s[2], s[3]) for s in stamps) > RACY_SECONDS * 1e9:
        looked_lists = {name: s and list(s) for name, s in looked.items()}
        _keep(cache, root, module, {"version": version, "hasher": hasher, "looked": looked_lists})
    return version
