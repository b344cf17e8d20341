"""The workflow on a real single-node SLURM cluster, through Snakemake's SLURM executor plugin.

Brings up munge, MariaDB, slurmdbd, slurmctld and slurmd from Debian's packages
(``tests/slurm/cluster.sh``), runs a small grid of the real pipeline with the SLURM profile,
checks in ``sacct`` that its training setting went through SLURM as one job and completed, that
the results equal a local run's, that a job failing on the cluster is reported as failed and
that a rerun resumes from what finished; then stops every daemon it started, by PID.

Needs root and the packages (``tests/slurm/cluster.sh install``; ``.ci/run`` does that where it
can). Elsewhere the tests are skipped with the reason printed in pytest's summary.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, same_results
from regionprune.workflow import jobserver
from test_workflow import LIGHT, job_counts, snakemake, write_config

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
# Every command that could wait on SLURM gets a hard limit: a status failure is a hang.
HARD_LIMIT = 600

pytestmark = pytest.mark.workflow


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to start the SLURM daemons"
    missing = [d for d in DAEMONS if shutil.which(d) is None and not Path("/usr/sbin", d).exists()]
    if missing:
        return f"SLURM not installed (missing {', '.join(missing)}): run tests/slurm/cluster.sh install"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[cluster]')"
    return None


@pytest.fixture(scope="module")
def slurm_env():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    state = Path(tempfile.mkdtemp(prefix="regionprune-slurm-", dir="/tmp"))
    try:
        subprocess.run(
            ["timeout", "-s", "KILL", "180", str(CLUSTER), "up", str(state)],
            check=True,
            timeout=200,
        )
        yield {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    finally:
        subprocess.run([str(CLUSTER), "down", str(state)], timeout=120)
        for pidfile in state.rglob("*.pid"):
            pid = int(pidfile.read_text().split()[0])
            assert not Path(f"/proc/{pid}").exists(), f"daemon {pidfile.name} still running"
        shutil.rmtree(state, ignore_errors=True)


def on_slurm(workdir: Path, env: dict, *args: str, check: bool = True, first_check: int = 2):
    """``snakemake`` with the SLURM profile, as the README says, under a hard time limit.

    The plugin checks the jobs' states ``first_check`` seconds after a submission (the profile
    says 10), and after a check that finds none ended, 10 s later than the time before (2, 14,
    36, ... s): a job is seen at the first check after it ends, no sooner."""
    return snakemake(
        workdir,
        "--workflow-profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        "--default-resources",
        "slurm_partition=debug",
        "slurm_account=root",
        "--slurm-init-seconds-before-status-checks",
        str(first_check),
        *args,
        env=env,
        check=check,
        timeout=HARD_LIMIT,
    )


def sacct(env: dict) -> pd.DataFrame:
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-a", "-o", "JobID,Comment,State"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.strip().splitlines()]
    return pd.DataFrame(rows, columns=["jobid", "comment", "state"])


#: A grid like the README's, on the small slice: two region rates x the three methods.
GRID = {"region": {"rate": [0.2, 0.4]}, "method": ["region", "magnitude", "random"]}
#: The rules that go to SLURM one job each with `cluster_jobs: per_step`.
CLUSTER_RULES = (
    "baseline",
    "magnitude_prune",
    "random_prune",
    "retrain",
    "retrain_matched",
    "evidence",
    "evidence_checks",
)


def test_slurm_run_matches_local_run_in_a_tenth_of_the_jobs(slurm_env, tmp_path, mnist_dir):
    """The grid through the SLURM profile: one cluster job per training setting (a Snakemake
    job group), at most a tenth of the jobs a cluster job per training step would submit, and
    the results of a local run."""
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    for d in (local, cluster):  # one iteration: a shorter group
        write_config(d, mnist_dir, grid=GRID, iterations=1, **LIGHT)
    snakemake(local)
    per_step = job_counts(
        on_slurm(cluster, slurm_env, "--dry-run", "--config", "cluster_jobs=per_step").stdout
    )
    steps = sum(per_step.get(rule, 0) for rule in CLUSTER_RULES)
    # 3 prunings, then per rate a retraining and its matched baselines' (together), the
    # evidence and its checks
    assert steps == 3 + 2 * (1 + 1 + 2), per_step
    before = len(sacct(slurm_env))
    # the group took 14 s alone, 18 s in a suite run: checks at 8 s, then 26 s at the latest
    on_slurm(cluster, slurm_env, first_check=8)
    jobs = sacct(slurm_env).iloc[before:]
    assert len(jobs) == 1 and "training" in jobs["comment"].iloc[0], jobs  # the group
    assert len(jobs) * 10 <= steps, jobs
    assert set(jobs["state"]) == {"COMPLETED"}, jobs
    # inside the allocation, the group's jobs ran in a job server of its own
    log = cluster / "results" / "logs" / f"job_server_{jobs['jobid'].iloc[0]}.log"
    served = jobserver.read_log(log)
    # one server: the group's jobs run in a Snakemake of their own (through srun), which
    # parses the Snakefile again and must use the group's server, not start another
    assert log.read_text().count(" warm after ") == 1, log.read_text()
    ran = {j["job"] for j in served}
    assert {"baseline", "retrain", "evidence", "evidence_checks"} <= ran, served
    assert all(j["code"] == 0 for j in served), served
    same_results(local, cluster)
    again = on_slurm(cluster, slurm_env, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


#: The failing-job test's config: LIGHT, a job per training step and no decision basis.
FAILING = {
    **LIGHT,
    "train": {"seed": 4},
    "cluster_jobs": "per_step",
    "evidence": {**LIGHT["evidence"], "per_run": []},
}


def test_failed_cluster_job_is_reported_and_rerun_resumes(slurm_env, tmp_path, mnist_dir):
    work = tmp_path / "w"
    # a SLURM job per training step, so that a failed retraining fails alone; no decision
    # basis (the other test runs it on SLURM): the rerun is the retraining alone
    write_config(work, mnist_dir, **FAILING, iterations=1)
    # iteration 1 is made here, not on the cluster: where a job ran is no part of its results,
    # and this test is about what follows (the other test runs a whole grid on SLURM)
    snakemake(work)

    # The cluster's copy of the training images goes bad (same timestamp, so Snakemake cannot
    # tell): iteration 2's retraining fails on the cluster.
    images = work / "results" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
    stat = images.stat()
    good = images.read_bytes()
    images.write_bytes(gzip.compress(b"not an IDX file"))
    os.utime(images, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    write_config(work, mnist_dir, **FAILING, iterations=2)
    before = len(sacct(slurm_env))
    failed = on_slurm(work, slurm_env, check=False)
    assert failed.returncode != 0
    assert "Error in rule retrain" in failed.stdout + failed.stderr
    assert "FAILED" in set(sacct(slurm_env).iloc[before:]["state"])
    assert not list((work / "results" / "runs").rglob("iter2/model.h5"))

    # Storage fixed: the rerun does only what did not finish. It is planned through the
    # profile, then run here: the first test runs retrainings on SLURM, and each status check
    # of the plugin comes 10 s later than the one before (the rerun took 20 s on SLURM, 6 s here)
    images.write_bytes(good)
    os.utime(images, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    counts = job_counts(on_slurm(work, slurm_env, "--dry-run").stdout)
    assert counts.get("retrain") == 1, counts
    for done in ("fetch", "baseline", "magnitude_prune", "label", "prune"):
        assert done not in counts, counts
    rerun = snakemake(work)
    assert "retrain s4 · iteration 2/2" in rerun.stdout + rerun.stderr
    runs = pd.read_parquet(work / "results" / "summary" / "runs.parquet")
    assert runs.iloc[0]["final_iteration"] == 2 and runs.iloc[0]["train_seed"] == 4
