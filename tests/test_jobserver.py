"""The job server (``regionprune.workflow.jobserver``): a job handed to it behaves as the same job run in
its own interpreter (output, exit status, files), a killed client takes its job with it, and
the server ends with its parent. Real processes, sockets and signals; no Snakemake here (the
workflow tests run every job through it, and compare with runs without it)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from regionprune.workflow import failpoint, jobserver

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


@pytest.fixture
def server(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="rp-test-"))  # a short path: sockets allow ~100 bytes
    address = str(folder / "socket")
    log = tmp_path / "server.log"
    # as jobserver.start does it, at a file's path (start's own is abstract on Linux)
    with open(log, "w") as out:
        proc = jobserver.launch(address, out, env=ENV)
    end = time.monotonic() + 60
    while not os.path.exists(address):
        assert proc.poll() is None and time.monotonic() < end, log.read_text()
        time.sleep(0.05)
    yield {"address": address, "log": log}
    proc.terminate()
    assert proc.wait(timeout=30) == 0, log.read_text()  # stop()'s SIGTERM is a clean end
    assert not folder.exists(), "the server leaves no socket behind"


def job(*args: str, address: str | None = None, **kw) -> subprocess.CompletedProcess:
    env = dict(ENV, **({jobserver.VARIABLE: address} if address else {}), **kw.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "regionprune", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


def _no_times(text: str) -> str:
    return re.sub(r"^\S+ \S+ ", "", text, flags=re.M)  # the log lines' date and time


def test_a_job_in_the_server_is_the_same_job(server, tmp_path, mnist_dir):
    here, there = tmp_path / "here.parquet", tmp_path / "there.parquet"
    args = ["blank_pixels", "--data-dir", str(mnist_dir), "--limit", "500"]
    alone = job(*args, "--out", str(here))
    served = job(*args, "--out", str(there), address=server["address"])
    assert alone.returncode == served.returncode == 0, served.stderr
    assert _no_times(served.stderr) == _no_times(alone.stderr).replace("here", "there")
    pd.testing.assert_frame_equal(pd.read_parquet(here), pd.read_parquet(there))
    # a failing job: the same message and exit status
    bad = [
        "label",
        "--model",
        str(tmp_path / "missing.h5"),
        "--dataset",
        "mnist",
        "--data-dir",
        str(mnist_dir),
        "--settings",
        "{}",
        "--iteration",
        "1",
        "--out-labels",
        "x.h5",
        "--out-table",
        "x.parquet",
    ]
    alone, served = job(*bad), job(*bad, address=server["address"])
    assert alone.returncode == served.returncode != 0
    # a missing input is Snakemake's to notice, so not caught: the same error, other frames
    assert served.stderr.splitlines()[-1] == alone.stderr.splitlines()[-1]
    assert "FileNotFoundError" in served.stderr.splitlines()[-1]
    # usage errors go through argparse, in the server as alone
    assert job("nojob", address=server["address"]).returncode == job("nojob").returncode == 2
    ran = jobserver.read_log(server["log"])
    assert [(j["job"], j["code"]) for j in ran] == [("blank_pixels", 0), ("label", 1), ("nojob", 2)]
    assert ran[0]["argv"] == [*args, "--out", str(there)] and ran[0]["seconds"] > 0


def test_a_killed_client_takes_its_job_with_it(server, tmp_path, mnist_dir):
    out = tmp_path / "blank.parquet"
    env = dict(ENV, **{jobserver.VARIABLE: server["address"], failpoint.VARIABLE: "wrote"})
    with open(tmp_path / "job.log", "w") as log:
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "regionprune",
                "blank_pixels",
                "--data-dir",
                str(mnist_dir),
                "--limit",
                "500",
                "--out",
                str(out),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    end = time.monotonic() + 60
    while "paused at" not in (tmp_path / "job.log").read_text():
        assert time.monotonic() < end and client.poll() is None
        time.sleep(0.05)
    pid = int(re.findall(r"job (\d+): blank_pixels", server["log"].read_text())[-1])
    assert Path(f"/proc/{pid}").exists()
    client.send_signal(signal.SIGKILL)
    client.wait()
    end = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < end, "the job outlived its client"
        time.sleep(0.05)


def test_sigterm_reaches_the_job_and_the_client_ends_like_it(server, tmp_path, mnist_dir):
    env = dict(ENV, **{jobserver.VARIABLE: server["address"], failpoint.VARIABLE: "wrote"})
    with open(tmp_path / "job.log", "w") as log:
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "regionprune",
                "blank_pixels",
                "--data-dir",
                str(mnist_dir),
                "--limit",
                "500",
                "--out",
                str(tmp_path / "b.parquet"),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    end = time.monotonic() + 60
    while "paused at" not in (tmp_path / "job.log").read_text():
        assert time.monotonic() < end and client.poll() is None
        time.sleep(0.05)
    client.terminate()
    assert client.wait(timeout=10) == -signal.SIGTERM


def test_the_server_ends_with_its_parent():
    folder = Path(tempfile.mkdtemp(prefix="rp-test-"))
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, time\n"
            "from regionprune.workflow import jobserver\n"
            f"jobserver.launch({str(folder / 'socket')!r}, subprocess.DEVNULL)\n"
            "print('started', flush=True)\n"
            "time.sleep(600)",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout.readline() == "started\n"  # the server runs (its socket listens)
    assert (folder / "socket").exists()
    parent.kill()
    parent.wait()
    end = time.monotonic() + 30  # at a warm-up step's end the loop sees the parent gone
    while folder.exists():
        assert time.monotonic() < end, "the server outlived its parent"
        time.sleep(0.1)


def test_a_job_that_comes_during_the_warm_up_is_not_kept_waiting_for_its_end(server):
    """The server warms up a step at a time (the job modules first, torch later): a job sent
    as it starts is forked at the end of a step, before the warm-up's last (a server that
    warmed up whole first kept the first job of every run waiting about 3 s)."""
    out = job("settings", "--check", "--root", str(REPO), address=server["address"])
    assert out.returncode == 0, out.stderr
    end = time.monotonic() + 60
    while "warm after" not in (text := server["log"].read_text()):
        assert time.monotonic() < end, text
        time.sleep(0.1)
    lines = text.splitlines()
    forked = next(i for i, line in enumerate(lines) if re.match(r"\S+ job \d+: settings", line))
    assert forked < next(i for i, line in enumerate(lines) if "warm after" in line), text


SLOW_STEP_SERVER = """
import sys, time
from pathlib import Path
from regionprune.workflow import jobserver
marker = Path(sys.argv[4])
# the job modules, then one long step (as torch's import is), which marks its end
steps = jobserver._warm_up()[:2]
jobserver._warm_up = lambda: [*steps, lambda: (time.sleep(120), marker.touch())]
jobserver.main(sys.argv[1:4])
"""


def test_a_job_that_ends_during_a_warm_up_step_is_reported_before_the_step_ends(tmp_path):
    """A job's end is reported at once even while the server is inside a step of its warm-up
    (the SIGCHLD handler reaps it): the first job of every call used to be reported only after
    torch's import, and every job after it waited on that."""
    folder = Path(tempfile.mkdtemp(prefix="rp-test-"))
    address, marker = str(folder / "socket"), tmp_path / "step_ended"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with listener:  # as jobserver.launch binds it, with this warm-up instead
        listener.bind(address)
        listener.listen(8)
        fd = listener.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-c", SLOW_STEP_SERVER, address, str(fd), str(os.getpid()), marker],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(fd,),
        )
    try:
        out = job("settings", "--check", "--root", str(REPO), address=address)
        assert out.returncode == 0, out.stderr
        assert not marker.exists(), "the job's end waited for the warm-up step"
        assert proc.poll() is None  # the server is still in that step
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0  # stop()'s SIGTERM ends it inside a step too
    assert not folder.exists()


def test_a_cluster_job_uses_only_a_server_of_its_own_allocation(server):
    """A cluster job inherits the submitting process's variables: it must not hand its work to
    the submitting node's server, but does to the server started in its own allocation."""
    args = ("settings", "--check", "--root", str(REPO))
    served = lambda: [j["job"] for j in jobserver.read_log(server["log"])]  # noqa: E731
    no_slurm = {k: v for k, v in ENV.items() if k not in ("SLURM_JOB_ID", jobserver.ALLOCATION)}
    cases = [  # (the job's SLURM_JOB_ID, the server's allocation, served?)
        ("", "", True),  # a local run
        ("7", "", False),  # in an allocation, the variable of the submitting node
        ("7", "7", True),  # the server of its own allocation
        ("8", "7", False),  # another allocation's
    ]
    for job_id, allocation, expected in cases:
        before = len(served())
        env = {**no_slurm, jobserver.ALLOCATION: allocation}
        if job_id:
            env["SLURM_JOB_ID"] = job_id
        out = subprocess.run(
            [sys.executable, "-m", "regionprune", *args],
            env={**env, jobserver.VARIABLE: server["address"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert (len(served()) > before) == expected, (job_id, allocation)


def test_a_remote_snakemake_counts_its_target_jobs():
    assert jobserver.remote_jobs(["--cores", "2"]) == 0
    assert jobserver.remote_jobs(["--target-jobs", "a:x=1", "b:x=2", "--mode", "remote"]) == 2
    assert jobserver.remote_jobs(["--mode", "remote", "--target-jobs", "a:x=1"]) == 1


def test_a_dead_server_means_the_job_runs_alone(tmp_path):
    out = job("settings", "--check", "--root", str(REPO), address=str(tmp_path / "gone"))
    assert out.returncode == 0, out.stderr
    # a server that dies in its warm-up, with the job's connection waiting in its queue
    folder = Path(tempfile.mkdtemp(prefix="rp-test-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / "socket"))
    listener.listen(8)
    env = dict(ENV, **{jobserver.VARIABLE: str(folder / "socket")})
    client = subprocess.Popen(
        [sys.executable, "-m", "regionprune", "settings", "--check", "--root", str(REPO)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    assert client.poll() is None  # waiting for the server
    listener.close()
    (folder / "socket").unlink()
    folder.rmdir()
    out, err = client.communicate(timeout=60)
    assert client.returncode == 0, err
    assert "the job server ended" not in err


@pytest.mark.parametrize("module", ["json", "regionprune.workflow.cli", "argparse"])
def test_ctrl_c_while_a_job_still_imports_says_one_line(module):
    """Ctrl-C reaches a job Snakemake has just started while it still imports (a second or more
    on a busy machine), before any handler of its own: one line and exit 130, no traceback in
    its log (test_faults' Ctrl-C test met this now and then under load). A real SIGINT, sent by
    the job to itself when it starts importing ``module``."""
    # a job's own Ctrl-C handling, whatever the test runner's: a runner started in the
    # background by a shell without job control ignores SIGINT, and its children inherit that
    start = f"""
import os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["regionprune", "settings", "--check"]
runpy.run_module("regionprune", run_name="__main__", alter_sys=True)
"""
    out = subprocess.run(
        [sys.executable, "-c", start], env=ENV, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 130, out.stderr
    assert "Traceback" not in out.stderr and "KeyboardInterrupt" not in out.stderr, out.stderr
    assert out.stderr.strip().endswith("interrupted; nothing of this job was kept"), out.stderr


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except FileNotFoundError:
        return "gone"


def _abstract_names() -> set[str]:
    """Abstract Unix socket names bound on this machine (``/proc/net/unix`` shows them as @)."""
    lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    return {f.split()[-1] for f in lines if len(f.split()) == 8 and f.split()[-1].startswith("@")}


def _as_another_user_the_server_hangs_up(address: str) -> bool:
    """A process of user nobody hands the server a job as the client does: the server must close
    the connection without forking it (the client then runs the job in its own interpreter)."""
    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            os.setgid(65534)
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect("\0" + address[1:])
            payload = b'{"argv": ["settings"], "env": {}, "cwd": "/"}'
            try:
                socket.send_fds(sock, [jobserver.HEADER.pack(len(payload))], [0, 1, 2])
                sock.sendall(payload)
                code = 0 if sock.recv(64) == b"" else 1  # a status would mean it forked
            except ConnectionError:  # closed with the request unread: a reset
                code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


@pytest.mark.skipif(not jobserver.ABSTRACT, reason="abstract socket names are Linux's")
def test_the_snakefiles_server_leaves_nothing_when_killed_and_serves_only_its_user(tmp_path):
    """``start`` (the Snakefile's onstart) names the socket in Linux's abstract namespace: no file
    that a SIGKILL of the process group would leave in /tmp, and only this user's jobs served."""
    log = tmp_path / "server.log"
    env_before = os.environ.get(jobserver.VARIABLE)
    server = jobserver.start(log)
    address = os.environ[jobserver.VARIABLE]
    try:
        assert address.startswith("@regionprune-jobs-")
        end = time.monotonic() + 60
        while address not in _abstract_names():
            assert server.poll() is None and time.monotonic() < end, log.read_text()
            time.sleep(0.05)
        assert job("settings", "--check", "--root", str(REPO), address=address).returncode == 0
        if os.getuid() == 0:
            assert _as_another_user_the_server_hangs_up(address)
        server.kill()
        server.wait(timeout=30)
        assert address not in _abstract_names()
        served = [j["job"] for j in jobserver.read_log(log)]
        assert served == ["settings"], served
    finally:
        if server.poll() is None:
            server.kill()
        os.environ.pop(jobserver.VARIABLE, None)
        if env_before is not None:
            os.environ[jobserver.VARIABLE] = env_before


def test_the_file_cache_reads_a_file_once_until_it_changes(tmp_path):
    """The job server's cache (``data.kept`` in the server): a file is read once, read again
    once it has changed, and a read that fails keeps nothing."""
    import numpy as np

    from regionprune.workflow.jobserver import FileCache

    path, calls = tmp_path / "x.bin", []
    path.write_bytes(b"1")

    def read():
        calls.append(1)
        return np.frombuffer(path.read_bytes(), dtype=np.uint8).copy()

    cache = FileCache()
    first = cache(path, ("magic",), read)
    assert cache(path, ("magic",), read) is first and len(calls) == 1
    assert not first.flags.writeable  # forked jobs share it: nobody may change it
    path.write_bytes(b"22")  # another size (and time): read and checked again
    assert list(cache(path, ("magic",), read)) == [50, 50] and len(calls) == 2

    def broken():
        raise ValueError("damaged")

    path.write_bytes(b"333")
    with pytest.raises(ValueError):
        cache(path, ("magic",), broken)
    assert list(cache(path, ("magic",), read)) == [51, 51, 51] and len(calls) == 3


def test_the_warm_up_leaves_each_job_its_parser_and_the_library_versions():
    """What every job builds or reads the same way is done once by the server before it forks
    (a child would pay 40 ms for it): the command-line parser and the library versions each
    HDF5 result records, a fresh copy for each caller."""
    from regionprune.io import storage
    from regionprune.workflow import cli

    for step in jobserver._warm_up():
        step()
    assert cli.build_parser.cache_info().currsize == 1
    assert storage._library_versions.cache_info().currsize == 1
    versions = storage.library_versions()
    versions["python"] = "changed by a caller"
    assert storage.library_versions()["python"] != "changed by a caller"
