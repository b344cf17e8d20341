"""Snakemake's read-only commands on a results folder (``regionprune check``/``report``): the
pure parts (the end-to-end runs, on a read-only mount too, are in test_workflow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from regionprune.workflow.config import coerce_cli_strings
from regionprune.workflow.reading import (
    hint_options,
    results_options,
    unescape_params,
    without_directory,
    working_folder,
)


def test_the_report_shows_parameters_with_plain_quotes():
    # as Snakemake 9 writes them: the quotes escaped once too often (shown as \")
    html = (
        '{"params": "n=8, region={\\\\\\"cut\\\\\\": 0.1}", "caption": "a \\\\\\"q\\\\\\"", '
        '"params": "x=1"}'
    )
    assert unescape_params(html) == (
        '{"params": "n=8, region={\\"cut\\": 0.1}", "caption": "a \\\\\\"q\\\\\\"", "params": "x=1"}'
    )


def test_the_working_folder_is_taken_from_the_command_line():
    args = ["-s", "Snakefile", "-d", "/archive/run", "--configfile", "c.yaml"]
    assert working_folder(args) == Path("/archive/run")
    assert working_folder(["--directory=/x", "-n"]) == Path("/x")
    assert working_folder(["-n"]) == Path(".")
    assert without_directory(args) == ["-s", "Snakefile", "--configfile", "c.yaml"]
    assert without_directory(["--directory=/x", "-n"]) == ["-n"]


#: --config entries as users write them (the README's, a grid, carving, odd strings)
CONFIG_ENTRIES = [
    ["data={local_dir: ../shared/data/mnist}"],
    ["grid={train: {hidden: [[100, 50], [300, 100], [100, 100, 50]]}}", "iterations=3"],
    ["region={rate: 0.3, pixel_cut: 0.1, pixel_budget: null, max_regions: 2}", "train_threads=2"],
    ["data={dataset: blobs, local_dir: '/data/my blobs, v2.npz'}", "job_server=False"],
    ["figures={per_run: []}", "evidence={budgets: [0.01, 1e-1], yardstick_images: 0}"],
    ["train={lr: 0.05, seed: 7, activation: relu}", "label=a: b", "empty="],
]


@pytest.mark.parametrize("entries", CONFIG_ENTRIES)
def test_the_hints_pass_the_runs_config_on_as_snakemake_reads_it(entries):
    """The options the end-of-run hints carry, read by Snakemake's own parser: the same
    settings as the user's words gave (after the workflow's ``coerce_cli_strings``)."""
    from snakemake.cli import parse_config

    given = parse_config(entries)  # what workflow.config_settings.config holds
    options = results_options([], given, Path("."))
    assert options[0] == "--config" and len(options) == len(entries) + 1
    assert coerce_cli_strings(parse_config(options[1:])) == coerce_cli_strings(given), options


def test_the_hints_name_config_files_below_the_folder_relative(tmp_path):
    inside, outside = tmp_path / "run" / "presets" / "a.yaml", Path("/etc/b.yaml")
    options = results_options([inside, outside], {}, tmp_path / "run")
    assert options == ["--configfile", "presets/a.yaml", "/etc/b.yaml"]
    assert results_options([], {}, tmp_path) == []


def test_the_hints_run_from_the_users_folder_also_after_directory(tmp_path):
    """Run where the Snakefile lies: no -d, no -s, paths relative. With --directory the shell
    is elsewhere: -d, -s and the config files in full, which run from any folder (the hints
    said "report" alone, for the folder the shell was not in)."""
    repo, work = tmp_path / "repo", tmp_path / "work"
    repo.mkdir(), work.mkdir()
    (repo / "Snakefile").write_text("")
    assert hint_options(repo, False, repo / "Snakefile", [repo / "c.yaml"], {"iterations": 3}) == [
        "--configfile",
        "c.yaml",
        "--config",
        "iterations=3",
    ]
    assert hint_options(work, True, repo / "Snakefile", [work / "c.yaml"], {}) == [
        "-d",
        str(work),
        "-s",
        str(repo / "Snakefile"),
        "--configfile",
        str(work / "c.yaml"),
    ]
    assert hint_options(work, False, repo / "Snakefile", [], {}) == ["-s", str(repo / "Snakefile")]


def test_check_says_run_snakemake_where_none_of_the_results_exist():
    """Nothing of the workflow exists with these options (never run, or run with others):
    the fix is the run, not a --forcerun of every file; otherwise the flag that rebuilds."""
    from regionprune.workflow.check import NOT_MADE_FIX, Problem, report

    none = [Problem("results/a.h5", "missing"), Problem("results/b.parquet", "missing")]
    assert report(none, 2).splitlines() == [
        "none of the 2 results of this workflow exist here.",
        NOT_MADE_FIX,
    ]
    some = [Problem("results/a.h5", "missing"), Problem("results/b.parquet", "damaged", "CRC")]
    for problems, n in ((none, 3), (some, 2)):
        assert report(problems, n).splitlines()[-1].startswith("Fix: add --forcerun results/a.h5")
