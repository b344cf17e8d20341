"""A version for the code a workflow rule runs, so that Snakemake reruns a rule when it changes.

Snakemake sees changes to a rule's own text, not to the modules it imports. Each rule therefore
puts ``code_version(job)`` into its params: a hash over the job's module and every module of this
package it imports, directly or not. The hash is taken over the parsed syntax tree without its
docstrings, so comments, docstrings and formatting do not trigger reruns, while any change to what
the code does does. Nothing is imported.
"""

from __future__ import annotations

import ast
import hashlib
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
    root = root or package_root()
    todo, seen = [module], {}
    while todo:
        path = _module_file(root, todo.pop())
        if path is None:
            continue
        rel = path.relative_to(root).as_posix()
        if rel in seen:
            continue
        seen[rel], imports = _parsed(path)
        todo.extend(imports)
    return seen


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


def code_version(job: str, root: Path | None = None) -> str:
    """12 hex digits naming the code of ``regionprune.workflow.jobs.<job>`` and all it imports."""
    closure = module_closure(f"{JOB_PACKAGE}.{job}", root)
    if not closure:
        raise ValueError(f"no job module {JOB_PACKAGE}.{job}")
    digest = hashlib.sha256()
    for rel in sorted(closure):
        digest.update(rel.encode() + b"\0" + closure[rel].encode() + b"\0")
    return digest.hexdigest()[:12]
