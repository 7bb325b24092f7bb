"""A server whose stderr nobody reads keeps answering: log lines are dropped, not waited for."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from _support import WAIT, frame

ROOT = Path(__file__).resolve().parents[2]

#: Connections opened and closed while stderr is stuck. At DEBUG each logs
#: about eight lines (open, close, three actors started and stopped), so 3,000
#: fill a 64 KiB pipe (some 600 lines) and the default 10,000-record queue
#: behind it several times over; with logging.basicConfig the server stopped
#: answering after about 800.
CONNECTIONS = 3_000
#: Seconds the whole churn may take on a loaded two-core machine.
CHURN_BUDGET = 90.0
#: Seconds a fresh connection may take to get its echo once the churn is over.
PROMPT = 2.0


def echo_once(port: int, payload: bytes, timeout: float) -> bytes:
    """Connect, send one frame, read its echo, close; return the echoed bytes."""
    want = len(frame(payload))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(frame(payload))
        got = b""
        while len(got) < want and (chunk := sock.recv(want - len(got))):
            got += chunk
    return got


def read_available(fd: int, until: bytes, timeout: float) -> bytes:
    """Read from `fd` until `until` appears, EOF, or `timeout` seconds pass."""
    data = b""
    deadline = time.monotonic() + timeout
    while until not in data and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    return data


def test_the_echo_server_keeps_answering_while_nobody_reads_its_stderr() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.echo", "--port", "0", "--log-level", "DEBUG"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # not read until the end: it fills and stays full
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        line = process.stdout.readline().decode()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])

        deadline = time.monotonic() + CHURN_BUDGET
        for n in range(CONNECTIONS):
            payload = b"%d" % n
            assert echo_once(port, payload, WAIT) == frame(payload), f"connection {n}"
            assert time.monotonic() < deadline, f"only {n} connections in {CHURN_BUDGET} s"

        started = time.monotonic()
        assert echo_once(port, b"still there?", PROMPT) == frame(b"still there?")
        assert time.monotonic() - started < PROMPT

        # Reading stderr lets the log writer move again; once it has caught up
        # it says how much it dropped.
        logged = read_available(process.stderr.fileno(), b"not keeping up", WAIT)
        assert b"log record(s): the log output is not keeping up" in logged

        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=WAIT)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=WAIT)
