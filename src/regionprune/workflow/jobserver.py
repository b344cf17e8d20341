"""One warm process that runs the workflow's local jobs, so that each job skips the start-up.

A job of this workflow is ``python -m regionprune <job> ...``: a new interpreter that imports
torch (about 2-3 s on a 2-core machine), pandas, h5py and OpenCV and reads the data set again,
then often computes for less time than that. In a grid of hundreds of jobs the start-up is
most of the wall time. The job server pays it once per ``snakemake`` call: it imports
everything, keeps the data files it has read, and **forks** one child per job. The child is the
job: it takes the job's command line, environment, working folder and standard streams (passed
over a Unix socket, ``SCM_RIGHTS``), runs ``regionprune.workflow.cli.main`` and exits with its status.
Snakemake sees the same job as before: same command, same log, same exit status, same files,
bit for bit (the child runs the same code on the same inputs in a process of its own).

- Started by the Snakefile's ``onstart`` in every run that executes jobs (``job_server: true``,
  the default); its socket's address is in ``REGIONPRUNE_JOB_SERVER`` for the jobs (on Linux
  an abstract name, ``@regionprune-jobs-...``, that no kill leaves behind). It listens at
  once and warms up a step at a time (``_warm_up``: the job modules, torch, ...), taking a job
  that comes meanwhile at the next step's end.
- Inside a cluster job that runs several jobs (a training setting's job group, run by
  Snakemake's remote mode on the node), the Snakefile starts one for that allocation too: its
  jobs would otherwise each start an interpreter on the node.
- ``python -m regionprune`` (``jobclient``) hands the job to the server when that variable
  names a live socket started in the job's own allocation (``ALLOCATION``: the ``SLURM_JOB_ID``
  the server started under, "" outside SLURM), and otherwise runs it in its own process, as
  before: a cluster job inherits the submitting process's variables, and must not hand its
  work back to the submitting node's server. So does a job whose server dies before taking it.
  A dead or missing server costs one failed ``connect``.
- Signals: the client forwards SIGTERM and SIGHUP to its job; SIGINT (Ctrl-C) reaches the job
  from the terminal itself, since the server and its children stay in Snakemake's process
  group. A client that dies (SIGKILL) closes its socket, and the server kills its job.
- The server ends with Snakemake (``onsuccess``/``onerror``), or by itself within 0.2 s when
  its parent is gone (a killed Snakemake; in its warm-up, at the next step's end), killing what
  still runs.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from regionprune import INTERRUPTED
from regionprune.workflow.jobclient import (
    ABSTRACT,
    ALLOCATION,
    HEADER,
    STATUS,
    VARIABLE,
    recv_exactly,
    sockaddr,
)

# ----------------------------------------------------------------------------------------------
# the server's check of its clients


def _same_user(conn: socket.socket) -> bool:
    """Whether the process at the other end of ``conn`` runs as this process's user."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1] == os.getuid()


# ----------------------------------------------------------------------------------------------
# the Snakefile's side: onstart, onsuccess and onerror


def remote_jobs(argv: list[str]) -> int:
    """How many jobs a Snakemake in remote mode (a cluster job) was given to run: the words
    after its ``--target-jobs``."""
    if "--target-jobs" not in argv:
        return 0
    after = argv[argv.index("--target-jobs") + 1 :]
    return next((i for i, word in enumerate(after) if word.startswith("-")), len(after))


def start(log: Path) -> subprocess.Popen:
    """Start a job server for this process's jobs (its log at ``log``) and point them at it.
    Its socket listens from here on: a job that comes during its warm-up waits for it."""
    if ABSTRACT:  # no file: the kernel frees the name when the server ends, even by SIGKILL
        address = f"@regionprune-jobs-{secrets.token_hex(8)}"
    else:  # a private (0700) folder, and a short path
        address = os.path.join(tempfile.mkdtemp(prefix="regionprune-jobs-"), "socket")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as out:  # one log across calls
        server = launch(address, out)
    os.environ[VARIABLE] = address
    os.environ[ALLOCATION] = os.environ.get("SLURM_JOB_ID", "")
    return server


def launch(address: str, out: Any, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The server process (``serve``) on a Unix socket at ``address``, its output to ``out``
    (a file, or a ``subprocess`` constant), with ``env`` (None: this process's). The socket is
    bound and listening before this returns, so that no job started right after (the first of
    a cluster job's group comes at once) finds nothing there and runs alone; the server takes
    it over and accepts the jobs queued meanwhile between the steps of its warm-up. The one way
    a server is started (``start``, and the tests' servers)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with listener:  # our copy closes once the server has its own
        listener.bind(sockaddr(address))
        listener.listen(128)
        fd = listener.fileno()
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "regionprune.workflow.jobserver",
                address,
                str(fd),
                str(os.getpid()),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
        )


def stop(server: subprocess.Popen | None) -> None:
    """End the job server (its jobs have ended: Snakemake waits for them) and forget it."""
    os.environ.pop(VARIABLE, None)
    os.environ.pop(ALLOCATION, None)
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def read_log(log: Path) -> list[dict]:
    """The jobs a server's log records, in the order they started: ``job`` (its name), ``argv``,
    ``code`` (exit code; None if the log ends first) and ``seconds`` (fork to exit)."""
    jobs: list[dict] = []
    running: dict[str, dict] = {}  # pid -> its job (a pid can come again in a later call)
    for line in Path(log).read_text().splitlines():
        words = line.split(" ", 4)
        if len(words) == 5 and words[1] == "job" and words[2].endswith(":"):
            running[words[2][:-1]] = entry = {
                "job": words[3],
                "argv": json.loads(words[4]),
                "code": None,
                "seconds": None,
            }
            jobs.append(entry)
        elif len(words) >= 4 and words[1] == "job" and words[3] == "ended":
            done = line.split()
            if words[2] in running:
                running.pop(words[2]).update(code=int(done[4].strip("()")), seconds=float(done[6]))
    return jobs


# ----------------------------------------------------------------------------------------------
# server: python -m regionprune.workflow.jobserver SOCKET FD PARENT


def _warm_up() -> list[Callable[[], object]]:
    """What the jobs import, as steps the server takes one at a time between jobs: a job that
    comes meanwhile is forked at the next step's end, with what is imported so far (its child
    imports the rest itself), rather than after the whole warm-up. The job modules and their
    code versions come first (every job needs them; the first job, fetch, little else), the
    table and HDF5 readers next, then torch (most jobs). No step starts a thread pool (a fork
    would copy it half-made): torch's intra-op threads start at its first parallel operation,
    in the child."""

    def jobs() -> None:
        from regionprune.workflow import cli, codehash

        cli.build_parser()  # imports every job's module
        for job in cli.JOBS:  # the jobs' code versions, which they record: read (or computed) once
            codehash.code_version(job)

    def results() -> None:
        from regionprune.io import storage

        storage.library_versions()  # what every HDF5 result records: read once

    def figures() -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401

    return [
        lambda: __import__("regionprune.workflow.config"),  # the settings models
        jobs,
        lambda: __import__("pandas"),
        lambda: __import__("pyarrow.parquet"),
        lambda: __import__("h5py"),
        results,
        lambda: __import__("torch"),
        lambda: __import__("regionprune.core.training"),
        lambda: __import__("cv2"),
        figures,
    ]


class FileCache:
    """Arrays read and checked in this process, by file identity (path, size, time, inode): the
    job server reads a data set once and its forked jobs find it here (``data.kept``). A file
    changed since is read and checked again; kept arrays are read-only."""

    def __init__(self) -> None:
        self.arrays: dict[tuple, Any] = {}

    @staticmethod
    def identity(path: Path, *extra: object) -> tuple:
        st = os.stat(path)
        return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, *extra)

    def __call__(self, path: Path, extra: tuple, read: Callable[[], Any]) -> Any:
        try:
            key = self.identity(path, *extra)
        except OSError:
            return read()
        if key not in self.arrays:
            value = read()
            for array in value.values() if isinstance(value, dict) else (value,):
                array.setflags(write=False)
            self.arrays[key] = value
        return self.arrays[key]


def _remember_data(argv: list[str]) -> None:
    """Read the data set a job names (``--data-dir``) into this process, once, so that every
    later child finds it in memory (``FileCache``). Only complete, checked files are kept; a
    failure here is left for the job itself to meet and report."""
    from regionprune.io import data

    if "--data-dir" not in argv[:-1] or "--train-settings" not in argv[:-1]:
        return
    if data.kept is None:
        data.kept = FileCache()
    try:
        folder = Path(argv[argv.index("--data-dir") + 1])
        dataset = json.loads(argv[argv.index("--train-settings") + 1])["dataset"]
        for split in data.SPLITS:
            data.load_split(folder, dataset, split)
    except Exception:  # noqa: BLE001 - the job reports it, with its own message
        pass


def _child(
    request: dict, fds: list[int], listener: socket.socket, others: list[socket.socket]
) -> NoReturn:
    """The job: its streams, folder, environment and command line; never returns."""

    def job() -> None:
        listener.close()
        for other in others:
            other.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["regionprune", *request["argv"]]
        from regionprune.workflow.cli import main

        main(request["argv"])

    _exit_after(job)


def _exit_after(body: Callable[[], object]) -> NoReturn:
    """Run ``body``, then end this process at once, with the status an interpreter would end
    with (``SystemExit``'s code; 130 after Ctrl-C, before the job's own handler took over; 1
    with the traceback after an error) and its streams flushed, but nothing torn down: a forked
    job has its parent's modules, the server torch's (about a second of finalising)."""
    code = 1
    try:
        body()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        code = 130
    except BaseException:  # noqa: BLE001 - as an uncaught exception would end the interpreter
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def serve(address: str, fd: int, parent: int) -> None:
    """Accept jobs on the Unix socket ``address`` until the process ``parent`` is no longer this
    one's parent: the listening socket ``fd`` that ``launch`` bound. The parent's
    pid comes from it: one killed before this process started would otherwise be taken for
    init, and the server would never end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the jobs; onerror ends us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(fileno=fd)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    # a job's end wakes the loop at once (SIGCHLD through a pipe), rather than at its next
    # timeout: 0.1 s per job on average, on the path of every job that waits for this one
    woken, wake = os.pipe()
    os.set_blocking(woken, False)
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    jobs: dict[int, socket.socket] = {}  # child pid -> its client's connection
    started: dict[int, float] = {}  # child pid -> when it was forked
    # A job that ends during a step of the warm-up (torch's import: 1.5-2 s) is reported at
    # once, from the signal's handler, rather than after the step: the first job of every call
    # (fetch) took 2.1-2.5 s to be reported against 0.8-1.1 s, and every later job waited on it.
    # Only then: between steps the loop's own state may be half-changed.
    in_step = False

    def on_child(*_: object) -> None:
        if in_step:
            _reap(jobs, started, selector)

    signal.signal(signal.SIGCHLD, on_child)
    selector.register(woken, selectors.EVENT_READ)
    steps, began = _warm_up(), time.monotonic()
    try:
        while os.getppid() == parent:
            events = selector.select(timeout=0 if steps else 0.2)
            if steps and not events:  # nothing waits: the next step of the warm-up
                in_step = True
                try:
                    steps.pop(0)()
                finally:
                    in_step = False
                if not steps:
                    took = time.monotonic() - began
                    print(f"{time.strftime('%H:%M:%S')} warm after {took:.1f} s", flush=True)
                continue
            for key, _ in events:
                if key.fileobj == woken:  # empty it; what a read leaves wakes the next select
                    try:
                        os.read(woken, 4096)
                    except BlockingIOError:
                        pass
                elif key.fileobj is listener:
                    conn, _ = listener.accept()
                    if address.startswith("@") and not _same_user(conn):
                        conn.close()  # another user's process: it runs its jobs itself
                        continue
                    try:
                        msg, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
                        request = json.loads(recv_exactly(conn, HEADER.unpack(msg)[0]))
                    except (OSError, ValueError, struct.error):
                        conn.close()
                        continue
                    _remember_data(request["argv"])
                    pid = os.fork()
                    if pid == 0:
                        signal.set_wakeup_fd(-1)
                        os.close(woken)
                        os.close(wake)
                        _child(request, fds, listener, [conn, *jobs.values()])
                    for fd in fds:
                        os.close(fd)
                    argv = request["argv"]
                    print(
                        f"{time.strftime('%H:%M:%S')} job {pid}: {argv[0] if argv else ''}"
                        f" {json.dumps(argv)}",
                        flush=True,
                    )
                    jobs[pid] = conn
                    started[pid] = time.monotonic()
                    selector.register(conn, selectors.EVENT_READ, pid)
                    try:
                        conn.sendall(STATUS.pack(pid, 0))
                    except OSError:  # the client is gone already: the selector sees it next
                        pass
                else:  # a client closed its end: it was killed, so its job goes too
                    selector.unregister(key.fileobj)
                    _kill(key.data)
            _reap(jobs, started, selector)
    finally:
        for pid in list(jobs):
            _kill(pid)
        listener.close()
        if not address.startswith("@"):
            os.unlink(address)
            os.rmdir(os.path.dirname(address))


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(
    jobs: dict[int, socket.socket], started: dict[int, float], selector: selectors.BaseSelector
) -> None:
    """Tell each client whose job has ended how it ended (and the log)."""
    while jobs:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = jobs.pop(pid, None)
        if conn is None:
            continue
        code = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started.pop(pid)
        try:
            print(
                f"{time.strftime('%H:%M:%S')} job {pid} ended ({code}) after {seconds:.2f} s",
                flush=True,
            )
        except RuntimeError:  # a reentrant write (in the signal's handler): the line, not the job
            pass
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        try:
            conn.sendall(STATUS.pack(pid, code))
        except OSError:
            pass
        conn.close()


def main(argv: list[str]) -> NoReturn:
    """``serve`` until ``stop``'s SIGTERM (status 0) or the parent's end, then end at once: the
    interpreter's own teardown, with torch and the rest loaded, took about a second after every
    ``snakemake`` call's last job (``stop`` waits for it). Nothing is left to finalise: the jobs
    are gone (``serve`` kills any left), the socket is closed, the log flushed."""
    _exit_after(lambda: serve(argv[0], int(argv[1]), int(argv[2])))


if __name__ == "__main__":
    main(sys.argv[1:])
