"""The job server's client: ``python -m regionprune`` hands its job to the warm server of its
``snakemake`` call (``jobserver``) and leaves as the job left. Every job of a run starts here,
so this module imports only what the hand-over needs (socket, signal, json): 26 ms here
against 47 ms for the whole server module, in each of a grid's 500 jobs."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys

VARIABLE = "REGIONPRUNE_JOB_SERVER"
#: The cluster allocation (``SLURM_JOB_ID``) the server of ``VARIABLE`` runs in; "" for none.
ALLOCATION = "REGIONPRUNE_JOB_SERVER_ALLOCATION"
#: Linux has an abstract socket namespace: names that are no file, so that a server killed by
#: SIGKILL (a killed process group, the OOM killer) leaves nothing behind in /tmp. Such a name
#: has no file permissions, so the server serves only clients of its own user (SO_PEERCRED).
ABSTRACT = sys.platform.startswith("linux")
# The wire protocol, shared with the server: the client sends HEADER (the request's length, with
# its standard streams as file descriptors), then the request as JSON; the server answers with
# STATUS twice, (pid, 0) once it has forked the job and (pid, exit code) when the job ends.
HEADER = struct.Struct("!Q")  # a message's length in bytes
STATUS = struct.Struct("!qq")  # (child pid, exit code); a code < 0 is the signal that killed it


def sockaddr(address: str) -> str:
    """The address as ``bind``/``connect`` take it: ``@name`` is the abstract name ``\\0name``
    (an environment variable cannot hold a NUL); anything else is a file's path."""
    return "\0" + address[1:] if address.startswith("@") else address


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("the job server closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def server_here() -> str | None:
    """The address of the job server this process's environment names, where that server runs
    in this process's own allocation (the same ``SLURM_JOB_ID``, or none); else None."""
    address = os.environ.get(VARIABLE)
    if not address or os.environ.get("SLURM_JOB_ID", "") != os.environ.get(ALLOCATION, ""):
        return None
    return address


def hand_over(argv: list[str]) -> int | None:
    """Run the job ``argv`` in the job server and return its exit code (< 0: killed by that
    signal); None where there is no server to take it (then the caller runs it itself)."""
    address = server_here()
    if address is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(sockaddr(address))
    except OSError:
        sock.close()
        return None
    job: list[int] = []  # the job's pid, once the server has forked it
    pending: list[int] = []  # signals that came before

    def forward(signum: int, _frame: object) -> None:
        if not job:
            pending.append(signum)
            return
        try:
            os.kill(job[0], signum)
        except ProcessLookupError:
            pass

    # Ctrl-C reaches the job from the terminal (same process group): here it must not end the
    # wait with a traceback in the job's log. SIGTERM and SIGHUP are passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    payload = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    try:
        socket.send_fds(sock, [HEADER.pack(len(payload))], [0, 1, 2])
        sock.sendall(payload)
        job.append(STATUS.unpack(recv_exactly(sock, STATUS.size))[0])
    except OSError:  # the server died before it took the job (in its warm-up): run it here
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for signum in pending:
            os.kill(os.getpid(), signum)
        return None
    for signum in pending:
        forward(signum, None)
    try:
        return STATUS.unpack(recv_exactly(sock, STATUS.size))[1]
    except OSError:  # ConnectionError included
        print("regionprune: the job server ended before this job did", file=sys.stderr)
        return 1


def exit_like(code: int) -> None:
    """Leave this process the way the job left its own: the same exit code or signal."""
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)
