# Region pruning for interpretability (Takehana & Ozaki): see README.md.
import os
import shlex
import sys
from pathlib import Path

from snakemake_interface_executor_plugins.settings import ExecMode
from snakemake.utils import min_version

# Jobs run `python -m regionprune ...`: the interpreter that runs Snakemake comes first on PATH (a
# venv need not be activated; under --sdm conda the env's own python wins), and this checkout's
# src/ goes on PYTHONPATH after any folders already there. This process looks the package up the
# same way, so the code whose hash decides reruns is the code the jobs run, even where the venv
# was installed from another checkout.
SRC = str(Path(workflow.basedir) / "src")
_user_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
os.environ.update(
    PATH=os.pathsep.join(filter(None, [os.path.dirname(sys.executable), os.environ.get("PATH")])),
    PYTHONPATH=os.pathsep.join([*_user_path, SRC]),
)
if SRC not in sys.path:  # after sys.path[0] and PYTHONPATH, before site-packages
    sys.path.insert(1 + len(_user_path), SRC)

from regionprune.workflow import jobclient, jobserver, runlock, snakemake_exit
from regionprune.workflow.config import coerce_cli_strings, start
from regionprune.workflow.reading import hint_options

min_version("9.0")


if workflow.is_main_process and "--nolock" not in sys.argv:
    try:  # one live run per folder; locks that a killed run left behind are cleared
        runlock.hold(Path(".snakemake"), sys.argv)
    except runlock.FolderBusy as err:
        raise WorkflowError(str(err)) from None


# the working folder's config.yaml, or the defaults beside this Snakefile (-s ... -d elsewhere)
configfile: "config.yaml" if Path("config.yaml").exists() else Path(workflow.basedir) / "config.yaml"


# The config, checked once (src/regionprune/workflow/config.py): every combination of the grid,
# then the settings that depend on each other; one message names each problem, instead of a
# traceback. What follows reads it with every key present (defaults filled in).
config.update(coerce_cli_strings(config))
try:
    START = start(config)
except ValueError as err:
    raise WorkflowError(str(err)) from None
config.update(START.config)
# the settings of each level by folder name: a rule's wildcard gives the settings its job gets
TRAIN, MAGNITUDE, REGION = START.train, START.magnitude, START.region


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/evidence.smk"
include: "workflow/rules/report.smk"


JOB_SERVER = []  # the job server of this call, while it runs


# Inside a cluster job that runs several jobs (a training setting's job group, executed by
# Snakemake's remote mode on the node, which runs no onstart): a job server for them too; it
# ends by itself when this process does. Not a second one: the group's Snakemake runs its jobs
# through srun in a Snakemake of their own, which parses this file again and finds the
# group's server in its environment.
if (
    workflow.exec_mode == ExecMode.REMOTE
    and config["job_server"]
    and jobserver.remote_jobs(sys.argv) > 1
    and jobclient.server_here() is None
):
    allocation = os.environ.get("SLURM_JOB_ID", "node")
    JOB_SERVER.append(jobserver.start(Path(LOGS) / f"job_server_{allocation}.log"))


rule all:
    default_target: True
    input:
        all_targets(),


# one warm process runs the local jobs (src/regionprune/workflow/jobserver.py)
onstart:
    if config["job_server"]:
        JOB_SERVER.append(jobserver.start(Path(LOGS) / "job_server.log"))


onsuccess:
    jobserver.stop(JOB_SERVER.pop() if JOB_SERVER else None)
    snakemake_exit.cancel_reevaluation_timers()  # its 1 s timers would hold the exit
    # the hints as the user's shell runs them: with the Snakefile, the folder and the config
    # files and entries this call was given, which choose the results
    chosen = workflow.config_settings
    anywhere = Path.cwd().resolve() != Path(os.environ.get("PWD") or ".").resolve()
    options = hint_options(
        Path.cwd(), anywhere, workflow.main_snakefile, chosen.configfiles, dict(chosen.config)
    )
    elsewhere = f" {shlex.join(options)}" if options else ""
    program = runnable("regionprune", absolute=anywhere)
    print(
        f"\nResults: {SUMMARY}/summary.md (tables: {SUMMARY}/*.parquet, figures: {SUMMARY}/figures/)."
        f"\nReport with every figure, in report.html: {program} report{elsewhere}"
        f"\nCheck for missing or damaged results: {program} check{elsewhere}"
    )


onerror:
    jobserver.stop(JOB_SERVER.pop() if JOB_SERVER else None)
    snakemake_exit.cancel_reevaluation_timers()
