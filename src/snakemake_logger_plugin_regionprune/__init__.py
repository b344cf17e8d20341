"""regionprune's console for Snakemake: a line in words (the rule's ``message:``) when a job
starts and one when it has finished, with the count of finished jobs, instead of Snakemake's
listing of every input, output and wildcard of every job.

The workflow's profiles select it with ``logger: [regionprune]``; Snakemake finds it by this
package's name. It shows Snakemake's own text for everything else (errors, warnings, the job
table of a dry run), and everything exactly as Snakemake would with ``--verbose``; shell commands
still come with ``--printshellcmds``.

Snakemake imports this package when it starts, before the Snakefile chooses which checkout's
``regionprune`` the workflow uses, so it imports nothing of ``regionprune``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from snakemake.logging import ColorizingTextHandler, DefaultFilter, DefaultFormatter, get_event
from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

#: Snakemake's chatter that the compact console leaves out (all of it says nothing to act on).
QUIET_LINES = (
    "Assuming unrestricted shared filesystem usage.",
    "Building DAG of jobs...",
    "Select jobs to execute...",
    "Using shell:",
    "Config file ",  # ... is extended by additional config specified via the command line
    "host: ",
    "Conda environments: ignored",
)

#: Snakemake's last words when a job failed; the ways out seen in the failure messages (their
#: "Fix:" lines, each once) follow it, so that the screen ends with what to do.
FINAL_FAILURE = "At least one job did not complete successfully"


#: Snakemake's words when a ``--configfile`` cannot be read, which it says before the Snakefile
#: runs (naming neither the file nor the line, or as a traceback).
CONFIG_FILE_FAILURES = ("Config file is not valid JSON or YAML", "load_configfile")


def config_files(argv: list[str]) -> list[str]:
    """The files given to ``--configfile``/``--configfiles`` on a snakemake command line."""
    files: list[str] = []
    taking = False
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if name in ("--configfile", "--configfiles"):
            taking = not eq
            files += [value] if eq else []
        elif arg.startswith("-"):
            taking = False
        elif taking:
            files.append(arg)
    return files


def config_file_problem(paths: list[str]) -> str | None:
    """One line for the first of ``paths`` that is missing or not YAML (JSON is YAML): the file,
    the line and column, what is wrong there, and the fix; None where all of them read."""
    import yaml

    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as err:
            why = "no such file" if isinstance(err, FileNotFoundError) else err.strerror
            return (
                f"config file {path}: {why} (looked up from {os.getcwd()}). "
                "Fix: give --configfile an existing file, relative to that folder."
            )
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as err:
            return (
                f"config file {path}{_place(err)}. Fix: correct the YAML there (spaces, "
                "not tabs, for indentation; a colon and a space after each key)."
            )
    return None


def _place(err: Exception) -> str:
    """Where a YAML error is and what it is: ``, line 3, column 9: expected ... (while parsing a
    flow sequence that starts at line 2, column 9)``."""

    def at(mark: Any) -> str:
        return f"line {mark.line + 1}, column {mark.column + 1}"

    mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None)
    if mark is None or not problem:
        return f": {err}"
    context, start = getattr(err, "context", None), getattr(err, "context_mark", None)
    started = f" ({context} that starts at {at(start)})" if context and start else ""
    return f", {at(mark)}: {problem}{started}"


def fix_lines(text: str) -> list[str]:
    """The "Fix: ..." parts of a failure message's lines, in order."""
    return [line[line.index("Fix:") :].strip() for line in text.splitlines() if "Fix:" in line]


def job_line(
    clock: str, status: str | None, rule: str, message: str | None, wildcards: dict[str, Any]
) -> str:
    """One job as the console shows it: ``[10:37:32 3/35 done] retrain s0 · iteration 3/8``
    (``status``: ``started``, or ``3/35 done``; None in a dry run's listing)."""
    what = message or " ".join([rule, *(f"{k}={v}" for k, v in wildcards.items())])
    return f"[{clock} {status}] {what}" if status else f"[{clock}] {what}"


class LogHandler(LogHandlerBase, ColorizingTextHandler):
    """Snakemake's own stream handler, with a job's start and end as a line each and no per-job
    progress lines."""

    def __post_init__(self) -> None:
        s = self.common_settings
        ColorizingTextHandler.__init__(
            self,
            nocolor=s.nocolor,
            stream=sys.stdout if s.stdout else sys.stderr,
            formatter=DefaultFormatter(s.quiet, s.show_failed_logs),
            filter=DefaultFilter(s.quiet, s.debug_dag, s.verbose, s.dryrun, s.printshellcmds),
        )
        self.compact = not s.verbose
        self.dryrun = s.dryrun
        self.jobs: dict[int, tuple] = {}  # job id -> (rule, message, wildcards), from its start
        self.finishing: list[int] = []  # jobs finished since the last progress report
        self.fixes: list[str] = []  # the failure messages' ways out, to repeat at the end

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    def emit(self, record: logging.LogRecord) -> None:
        if self.compact and not self._compact(record):
            return
        if record.levelno >= logging.ERROR and any(
            words in str(record.msg) for words in CONFIG_FILE_FAILURES
        ):  # one line naming the file and the place, instead of Snakemake's words or traceback
            # the files named on the command line, then the Snakefile's own config.yaml
            problem = config_file_problem([*config_files(sys.argv), "config.yaml"])
            if problem:
                record.msg, record.args = problem, ()
        if record.levelno >= logging.ERROR:
            for fix in fix_lines(self.format(record)):  # a failed job's log included
                if fix not in self.fixes:
                    self.fixes.append(fix)
        ColorizingTextHandler.emit(self, record)
        if self.fixes and FINAL_FAILURE in str(record.msg):
            self._write("\n" + "\n".join(self.fixes))

    def _compact(self, record: logging.LogRecord) -> bool:
        """Write a job's line here, or drop the record: False; True: Snakemake's text."""
        event = get_event(record)
        if event == LogEvent.JOB_INFO:
            if record.rule_name != "all" and self.filter(record):
                job = (record.rule_name, record.rule_msg, record.wildcards)
                self.jobs[record.jobid] = job
                self._write(
                    job_line(time.strftime("%H:%M:%S"), None if self.dryrun else "started", *job)
                )
            return False
        if event == LogEvent.JOB_FINISHED:
            # Snakemake reports each finished job, then the count done so far (PROGRESS)
            self.finishing.append(record.job_id)
            return False
        if event == LogEvent.PROGRESS:
            first = record.done - len(self.finishing) + 1  # a job group: several at once
            for n, job in enumerate(self.finishing, start=first):
                if job in self.jobs:  # not the rule all
                    status = f"{n}/{record.total} done"
                    self._write(job_line(time.strftime("%H:%M:%S"), status, *self.jobs.pop(job)))
            self.finishing.clear()
            return record.done == record.total  # the last one: "35 of 35 steps (100%) done"
        if event in (
            LogEvent.WORKFLOW_STARTED,
            LogEvent.JOB_STARTED,
            LogEvent.RESOURCES_INFO,
            LogEvent.GROUP_INFO,
        ):
            # a job group's header: its jobs have their own lines (cluster_jobs, cluster.md)
            return False
        if event is None and record.levelno == logging.INFO:
            return not str(record.msg).lstrip().startswith(QUIET_LINES)
        return True

    def _write(self, line: str) -> None:
        with self._output_lock:
            self.stream.write(line + "\n")
            self.flush()
