"""Snakemake's read-only commands (``--summary``, ``--report``) on a results folder, also one
on a read-only disk (a published archive), and a report written atomically.

Snakemake creates ``.snakemake/locks`` and its other folders in the working folder even to read
it, so on a read-only disk it fails. There the command runs on a *view*: a temporary folder that
links every entry of the archive except ``.snakemake``, with a copy of the archive's
``.snakemake/metadata`` (what each result was made with, which ``--summary`` and the report
read). Nothing is written to the archive; the view is removed afterwards.

``snakemake --report report.html`` writes the report in place, so a kill leaves a truncated or
empty file where a complete report stood. ``regionprune report`` has Snakemake write a temporary
file beside it and renames it over the old one once complete, with the jobs' parameters shown
as they are (``unescape_params``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def working_folder(snakemake_args: list[str]) -> Path:
    """The folder a snakemake command line works in (``--directory``/``-d``, or here)."""
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--directory", "-d", type=Path, default=Path("."))
    return where.parse_known_args(snakemake_args)[0].directory


def hint_options(
    here: Path, anywhere: bool, snakefile: Path, configfiles: list[Path], config: dict
) -> list[str]:
    """The options that make ``regionprune report``/``check`` look at the results of a snakemake
    call working in ``here``: with ``anywhere`` (the user's shell is elsewhere: ``--directory``)
    ``-d`` and every path in full, so that the hint runs in any folder; otherwise ``-s`` only
    where the Snakefile is not ``here``'s, and paths below ``here`` relative. Then the call's
    ``results_options``."""
    here, snakefile = Path(here).resolve(), Path(snakefile).resolve()
    out = ["-d", str(here)] if anywhere else []
    if anywhere or (here / "Snakefile").resolve() != snakefile:
        out += ["-s", str(snakefile)]
    return out + results_options(configfiles, config, None if anywhere else here)


def results_options(configfiles: list[Path], config: dict, folder: Path | None) -> list[str]:
    """The options of a snakemake call that choose its results, as a new command line gives
    them: its ``--configfile`` files (relative to ``folder`` where they lie below it; None: in
    full), then its ``--config`` entries, each value in YAML's flow style as the workflow reads
    it (``coerce_cli_strings``): ``region={rate: 0.3}``. ``regionprune report`` and ``check``
    take them as ``snakemake`` does."""
    out = []
    base = None if folder is None else Path(folder).resolve()
    if configfiles:
        out.append("--configfile")
        for f in (Path(f).resolve() for f in configfiles):
            inside = base is not None and f.is_relative_to(base)
            out.append(os.path.relpath(f, base) if inside else str(f))
    if config:
        out += ["--config", *(f"{key}={config_value(v)}" for key, v in config.items())]
    return out


def config_value(value: object) -> str:
    """A ``--config`` value as Snakemake reads it back to the same setting: YAML's flow style
    on one line (``{rate: 0.3}``, ``[100, 50]``, ``0.3``), empty for null."""
    import yaml

    from regionprune.workflow.config import coerce_cli_strings

    value = coerce_cli_strings(value)
    if value is None:
        return ""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=float("inf"))
    return text.removesuffix("...\n").strip()


def without_directory(snakemake_args: list[str]) -> list[str]:
    """The command line without its ``--directory``/``-d`` option."""
    out, skip = [], False
    for arg in snakemake_args:
        if skip:
            skip = False
        elif arg in ("-d", "--directory"):
            skip = True
        elif not arg.startswith(("--directory=", "-d=")):
            out.append(arg)
    return out


def writable(folder: Path) -> bool:
    """Whether Snakemake can keep its records in ``folder`` (its ``.snakemake`` where that is)."""
    records = folder / ".snakemake"
    return os.access(records if records.exists() else folder, os.W_OK)


@contextmanager
def readable_folder(folder: Path) -> Iterator[Path]:
    """``folder`` itself where Snakemake can write its records there; otherwise a temporary
    view of it (links to its entries, a copy of its ``.snakemake/metadata``), removed after."""
    if writable(folder):
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="regionprune-view-") as tmp:
        view = Path(tmp)
        for entry in folder.resolve().iterdir():
            if entry.name != ".snakemake":
                (view / entry.name).symlink_to(entry)
        metadata = folder / ".snakemake" / "metadata"
        if metadata.is_dir():
            shutil.copytree(metadata, view / ".snakemake" / "metadata")
        yield view


def snakemake(snakemake_args: list[str], folder: Path, **run) -> subprocess.CompletedProcess:
    """``python -m snakemake <snakemake_args>`` with ``folder`` as its working folder."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *without_directory(snakemake_args),
        "--directory",
        str(folder),
    ]
    return subprocess.run(cmd, **run)


def missing_results(snakemake_args: list[str], folder: Path) -> list[str]:
    """The outputs of the workflow that ``snakemake <snakemake_args>`` runs in ``folder`` that
    do not exist there (``--summary``; none where Snakemake cannot list them)."""
    from regionprune.workflow.check import summary_outputs

    proc = snakemake([*snakemake_args, "--summary"], folder, capture_output=True, text=True)
    if proc.returncode != 0:
        return []
    return [
        rel
        for rel, status in summary_outputs(proc.stdout)
        if status == "missing" or not (folder / rel).exists()
    ]


#: A job's parameters in the data of Snakemake's report: a JSON string value.
_PARAMS = re.compile(r'("params": ")((?:[^"\\]|\\.)*)(")')


def unescape_params(html: str) -> str:
    """Snakemake's report (9.x, ``report/__init__.py``) escapes the quotes of a job's parameters
    before it encodes them as JSON, so a parameter holding JSON shows as ``{\\"rate\\": 0.4}``;
    here the parameters' values say ``{"rate": 0.4}`` again (nothing else is touched)."""
    return _PARAMS.sub(lambda m: m[1] + m[2].replace('\\\\\\"', '\\"') + m[3], html)


def finish_zip(path: Path, name: str) -> None:
    """Snakemake's zipped report at ``path`` (a folder named as the file: the temporary name) as
    one written to ``<name>.zip``: its folder renamed ``name``, its ``report.html``'s parameters
    unescaped (``unescape_params``); rewritten beside it, then renamed over it."""
    import zipfile

    part = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(part, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                first, sep, rest = item.filename.partition("/")
                if first == path.stem and sep:
                    item.filename = f"{name}/{rest}"
                if rest == "report.html":
                    data = unescape_params(data.decode("utf-8")).encode("utf-8")
                dst.writestr(item, data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def write_report(out: Path, snakemake_args: list[str]) -> int:
    """Have Snakemake write the report of the workflow that ``snakemake <snakemake_args>`` runs
    to a temporary file beside ``out``, then rename it to ``out``: a kill or a failure leaves
    the old ``out`` as it was. Returns Snakemake's exit status."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}-", suffix=out.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        with readable_folder(working_folder(snakemake_args)) as folder:
            proc = snakemake(
                [*snakemake_args, "--report", str(tmp)], folder, capture_output=True, text=True
            )
            missing = missing_results(snakemake_args, folder) if proc.returncode else []
        if missing:  # Snakemake names one file after a line per file of noise
            from regionprune.workflow.check import NOT_MADE_FIX

            print(
                f"{len(missing)} results of this workflow do not exist here, such as {missing[0]}."
                f"\n{NOT_MADE_FIX}",
                file=sys.stderr,
            )
            return 1
        if proc.returncode != 0:  # Snakemake's words; otherwise its line per file is noise
            print(proc.stdout + proc.stderr, file=sys.stderr)
            return proc.returncode
        if out.suffix == ".zip":
            finish_zip(tmp, out.stem)
        else:
            tmp.write_text(unescape_params(tmp.read_text(encoding="utf-8")), encoding="utf-8")
        os.chmod(tmp, 0o644)  # mkstemp's file is private; a report is for reading
        os.replace(tmp, out)
        return 0
    finally:
        tmp.unlink(missing_ok=True)
