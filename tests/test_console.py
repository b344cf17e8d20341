"""The console's job line and the messages it rewrites (the logger plugin's own formatting)."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from snakemake_logger_plugin_regionprune import (
    config_file_problem,
    config_files,
    fix_lines,
    job_line,
)


def test_a_job_is_one_line_in_words():
    line = job_line("10:37:32", "3/35 done", "retrain", "retrain s0 · iteration 3/8", {"k": "3"})
    assert line == "[10:37:32 3/35 done] retrain s0 · iteration 3/8"
    assert job_line("10:37:32", "started", "retrain", "retrain s0", {}) == (
        "[10:37:32 started] retrain s0"
    )
    # a dry run's listing, and a rule without a message
    assert job_line("10:37:32", None, "fetch", None, {"dataset": "mnist"}) == (
        "[10:37:32] fetch dataset=mnist"
    )


def test_the_ways_out_are_taken_from_failure_messages():
    text = (
        "Logfile results/logs/fetch/mnist.log:\n====\nERROR could not download\n"
        "Fix: set data.local_dir to it\n====\n"
        "results/x/model.h5 is damaged (truncated). Fix: add --forcerun results/x/model.h5"
    )
    assert fix_lines(text) == [
        "Fix: set data.local_dir to it",
        "Fix: add --forcerun results/x/model.h5",
    ]
    assert fix_lines("Exiting because a job execution failed.") == []


def test_config_files_are_read_from_every_form_of_the_option():
    argv = [
        "snakemake",
        "-n",
        "--configfile",
        "a.yaml",
        "b.yaml",
        "--cores",
        "2",
        "--configfiles=c.yaml",
        "--config",
        "x=1",
    ]
    assert config_files(argv) == ["a.yaml", "b.yaml", "c.yaml"]
    assert config_files(["snakemake", "-n"]) == []


def test_a_config_file_problem_names_the_file_the_line_and_the_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("good.yaml").write_text("train:\n  seed: 1\n")
    Path("bracket.yaml").write_text("train:\n  seed: [1\n  epochs: 2\n")
    Path("tab.yaml").write_text("train:\n\tseed: 1\n")
    assert config_file_problem(["good.yaml"]) is None
    assert config_file_problem(["good.yaml", "bracket.yaml"]) == (
        "config file bracket.yaml, line 3, column 9: expected ',' or ']', but got ':' (while "
        "parsing a flow sequence that starts at line 2, column 9). Fix: correct the YAML there "
        "(spaces, not tabs, for indentation; a colon and a space after each key)."
    )
    assert config_file_problem(["tab.yaml"]).startswith("config file tab.yaml, line 2, column 1: ")
    assert config_file_problem(["gone.yaml", "bracket.yaml"]) == (
        f"config file gone.yaml: no such file (looked up from {tmp_path}). Fix: give "
        "--configfile an existing file, relative to that folder."
    )


@pytest.mark.parametrize(
    "text, says",
    [
        (None, "config file given.yaml: no such file"),
        ("train:\n  seed: [1\n  epochs: 2\n", "config file given.yaml, line 3, column 9: "),
    ],
)
def test_a_bad_config_file_is_one_line_on_the_screen(tmp_path, text, says):
    """Snakemake reads --configfile before the Snakefile runs: it said "Config file is not valid
    JSON or YAML" (no file, no line) or, for a missing file, printed a 27-line traceback."""
    if text is not None:
        (tmp_path / "given.yaml").write_text(text)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-n",
            "--configfile",
            "given.yaml",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    ours = [x for x in lines if not x.startswith("Using workflow specific profile")]
    assert len(ours) == 1 and ours[0].startswith(says) and "Fix: " in ours[0], lines


def test_each_job_is_listed_by_its_first_whole_sentence():
    """``regionprune --help`` lists each job by its docstring's first sentence, whole (the first
    line cut "Carve and label: ... the connected regions of the"), not cut at "Figs. 1"."""
    from regionprune.workflow.cli import build_parser, first_sentence

    assert first_sentence("Draw W1 (paper Figs. 1, 3), and\nits regions. More here.") == (
        "Draw W1 (paper Figs. 1, 3), and its regions."
    )
    assert (
        first_sentence("A line\nwithout a stop\n\nA second paragraph.") == "A line without a stop"
    )
    jobs = next(a for a in build_parser()._actions if a.dest == "job")
    helps = {c.dest: c.help for c in jobs._choices_actions}
    assert len(helps) > 15
    for name, text in helps.items():
        assert text.endswith(".") and "\n" not in text, (name, text)
