"""Find what a finished workflow folder lacks or holds damaged, before a run trusts it.

Snakemake reruns a job whose output is missing only when something downstream needs rerunning, so
a deleted intermediate file, or one damaged after it was written, can sit unnoticed. ``check``
asks Snakemake for every output of the workflow (``--summary``, with the user's own options),
reads each existing one the way its loader does (HDF5 checksums, Parquet page CRCs, the data
files' content MD5) and lists the missing, the damaged, the foreign (a checkpoint whose recorded
training settings are another run's, a result written at another place) and the stale (made from
an input whose content has changed since: each result records its inputs' checksums) with the
one flag that rebuilds them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from regionprune.io.damage import DamagedFile


@dataclass(frozen=True)
class Problem:
    path: str  # as Snakemake names it (relative to the workflow's folder)
    kind: str  # "missing", "damaged", "foreign" (another run's or stage's) or "stale"
    reason: str = ""


def summary_outputs(summary: str) -> list[tuple[str, str]]:
    """``(output file, status)`` of each row of ``snakemake --summary``'s table."""
    rows = []
    header = None
    for line in summary.splitlines():
        cells = line.split("\t")
        if cells[0] == "output_file":
            header = cells
        elif header is not None and len(cells) == len(header):
            rows.append((cells[0], cells[header.index("status")]))
    if header is None:
        raise ValueError("snakemake --summary printed no table:\n" + summary[-2000:])
    return rows


def verify_file(path: Path) -> tuple[dict, str | None]:
    """Read ``path`` as its loader would; ``DamagedFile`` if that fails or it is empty. What it
    records of its origin (an HDF5 result's attributes, a Parquet result's metadata; {} for
    the data) and its content checksum as results made from it record it."""
    from regionprune.io import data, storage

    if path.stat().st_size == 0:
        raise DamagedFile(path, "empty")
    if path.suffix == ".h5":
        return storage.verify_h5(path)
    elif path.suffix == ".parquet":
        _, origin, checksum = storage.table_origin(path)
        return origin, checksum
    elif path.name in data.IDX_FILES or path.name == data.USER_DATA:
        return {}, f"md5:{data.verify_copy(path)}"
    return {}, None


def made_by(rel: str, attrs: dict) -> str | None:
    """For a checkpoint below ``runs/<train folder>/`` (its attributes ``attrs``), the training
    folder of the run that made it, where that is another run's (a file copied over this
    run's); None otherwise."""
    from regionprune.workflow.settings import TrainSettings
    from regionprune.io.storage import recorded_train

    parts = Path(rel).parts
    if parts[-1] != "model.h5" or "runs" not in parts[:-2]:
        return None
    folder = parts[parts.index("runs") + 1]
    recorded = recorded_train(attrs)
    try:
        name = TrainSettings.from_dict(recorded).name if recorded else folder
    except (TypeError, ValueError):  # settings of an older layout: nothing to compare
        return None
    return None if name == folder else name


def stale_inputs(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """The inputs a result ``recorded`` (path -> checksum) whose file now has another content
    (``now``: the checked files' checksums; inputs not checked are not compared)."""
    return [p for p, checksum in recorded.items() if p in now and now[p] != checksum]


def find_problems(outputs: list[tuple[str, str]], root: Path) -> list[Problem]:
    from regionprune.io.provenance import place

    problems, origins, checksums = [], {}, {}
    for rel, status in outputs:
        path = root / rel
        if status == "missing" or not path.exists():
            problems.append(Problem(rel, "missing"))
            continue
        try:
            origins[rel], checksums[str(Path(rel))] = verify_file(path)
        except DamagedFile as err:
            problems.append(Problem(rel, "damaged", err.reason))
            continue
        written_as, here = origins[rel].get("made_as"), place(rel)
        if other := made_by(rel, origins[rel]):
            problems.append(Problem(rel, "foreign", f"made by the run {other}"))
        elif written_as and here and written_as != here:
            problems.append(Problem(rel, "foreign", f"written as {written_as}"))
    flagged = {p.path for p in problems}
    for rel, origin in origins.items():  # made from files that have changed since
        changed = stale_inputs(origin.get("inputs") or {}, checksums)
        if changed and rel not in flagged:
            problems.append(Problem(rel, "stale", "made from an earlier " + ", ".join(changed)))
    return problems


#: What to do where results are missing because they were never made with these options.
NOT_MADE_FIX = (
    "Fix: run snakemake with these options first; for the results of a run made with other"
    " options, give its --configfile and --config here too (the last lines of its console show"
    " them)."
)


def report(problems: list[Problem], n_checked: int) -> str:
    if not problems:
        return f"all {n_checked} results of this workflow are present and read back intact."
    if len(problems) == n_checked and all(p.kind == "missing" for p in problems):
        return f"none of the {n_checked} results of this workflow exist here.\n{NOT_MADE_FIX}"
    lines = [f"{len(problems)} of {n_checked} results need rebuilding:"]
    lines += [f"  {p.kind:8} {p.path}" + (f"  ({p.reason})" if p.reason else "") for p in problems]
    files = " ".join(p.path for p in problems)
    lines.append(
        f"Fix: add --forcerun {files} to your snakemake command; it rebuilds these files and "
        "everything computed from them."
    )
    return "\n".join(lines)


def run_check(snakemake_args: list[str]) -> int:
    """Check the workflow that ``snakemake <snakemake_args>`` would run; print; 1 if problems.
    Writes nothing to its folder (a read-only archive is read through a view of it)."""
    from regionprune.workflow.reading import readable_folder, snakemake, working_folder

    with readable_folder(working_folder(snakemake_args)) as root:
        proc = snakemake([*snakemake_args, "--summary"], root, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr, file=sys.stderr)
            return proc.returncode
        outputs = summary_outputs(proc.stdout)
        problems = find_problems(outputs, root)
    print(report(problems, len(outputs)))
    return 1 if problems else 0
