"""Snakemake's read-only commands on a results folder (``regionprune check``/``report``): the
pure parts (the end-to-end runs, on a read-only mount too, are in test_workflow)."""

from __future__ import annotations

from pathlib import Path

from regionprune.workflow.reading import unescape_params, without_directory, working_folder


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
