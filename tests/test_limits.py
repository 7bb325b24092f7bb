"""Limits: the default connection limit follows the process's open-file limit."""

from __future__ import annotations

import logging
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _support import RAW_WIRE, WAIT, frame, read_until_closed

import actornet
from actornet._limits import (
    MIN_RESERVED_FILES,
    UNLIMITED_FILES,
    default_max_connections,
    max_connections_for,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("file_limit", "connections"),
    [(1_024, 960), (4_096, 3_840), (20_000, 18_750), (65_536, 61_440), (1_048_576, 983_040)],
)
def test_the_default_keeps_a_sixteenth_of_the_file_limit_for_other_files(
    file_limit: int, connections: int
) -> None:
    assert max_connections_for(file_limit) == connections


def test_a_small_file_limit_keeps_at_least_the_minimum_reserve() -> None:
    assert max_connections_for(256) == 256 - MIN_RESERVED_FILES
    assert max_connections_for(MIN_RESERVED_FILES + 1) == 1
    assert max_connections_for(10) == 1  # never zero: Limits would reject it


def test_no_file_limit_is_taken_as_linux_most() -> None:
    assert max_connections_for(resource.RLIM_INFINITY) == max_connections_for(UNLIMITED_FILES)


def test_a_file_limit_of_20000_holds_15000_connections() -> None:
    assert max_connections_for(20_000) >= 15_000


def test_limits_default_to_what_this_process_file_limit_allows() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert actornet.Limits().max_connections == max_connections_for(soft)
    assert default_max_connections() == max_connections_for(soft)
    assert actornet.Limits(max_connections=5).max_connections == 5


def test_a_non_positive_max_connections_names_the_value_and_the_default() -> None:
    with pytest.raises(ValueError, match=r"max_connections=0 must be positive; the file limit"):
        actornet.Limits(max_connections=0)


class Echo(actornet.Session[bytes]):
    def on_event(self, event: bytes) -> None:
        self.send(event)


def test_serve_tcp_warns_when_max_connections_is_beyond_the_file_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    allowed = default_max_connections()
    limits = actornet.Limits(max_connections=allowed + 1, idle_timeout=None)
    with caplog.at_level(logging.WARNING, "actornet.server"):
        actornet.serve_tcp(Echo, RAW_WIRE, limits=limits).shutdown()
    assert (
        f"Limits.max_connections={allowed + 1} is more than the open-file limit leaves "
        f"for connections ({allowed})"
    ) in caplog.text


def test_serve_tcp_is_quiet_about_the_default(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "actornet.server"):
        actornet.serve_tcp(Echo, RAW_WIRE).shutdown()
    assert "open-file limit" not in caplog.text


# The echo example with its open-file limit (soft and hard) set to 1,024.
LOW_FILE_LIMIT = 1_024
_RUN_ECHO_WITH_LOW_LIMIT = (
    "import resource, runpy, sys\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({LOW_FILE_LIMIT}, {LOW_FILE_LIMIT}))\n"
    "sys.argv = ['examples.echo', '--port', '0', '--log-level', 'WARNING']\n"
    "runpy.run_module('examples.echo', run_name='__main__', alter_sys=True)\n"
)


def echo(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(frame(payload))
    want, got = len(frame(payload)), b""
    while len(got) < want and (chunk := sock.recv(want - len(got))):
        got += chunk
    return got


def test_a_server_under_a_low_file_limit_holds_its_default_and_refuses_beyond() -> None:
    held = max_connections_for(LOW_FILE_LIMIT)
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN_ECHO_WITH_LOW_LIMIT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    clients: list[socket.socket] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        address = ("127.0.0.1", int(line.rsplit(":", 1)[1]))
        deadline = time.monotonic() + 60
        for n in range(held):
            sock = socket.create_connection(address, timeout=WAIT)
            clients.append(sock)
            assert echo(sock, b"%d" % n) == frame(b"%d" % n), f"connection {n} of {held}"
            assert time.monotonic() < deadline, f"only {n} connections in 60 s"

        with socket.create_connection(address, timeout=WAIT) as extra:
            assert read_until_closed(extra) == b""  # accepted and closed, nothing sent

        clients.pop().close()  # room for one more, once the server has seen the close
        for _ in range(100):
            with socket.create_connection(address, timeout=WAIT) as again:
                try:
                    answered = echo(again, b"again")
                except ConnectionError:  # refused: the close is not counted yet
                    answered = b""
            if answered == frame(b"again"):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no connection was served after one closed")

        for sock in clients:  # all the held ones still answer
            assert echo(sock, b"still") == frame(b"still")
    finally:
        for sock in clients:
            sock.close()
        if process.poll() is None:
            process.terminate()
        _, stderr = process.communicate(timeout=WAIT)
    assert f"Limits.max_connections={held} reached" in stderr
    assert "Traceback" not in stderr
    assert "accept failed" not in stderr  # no EMFILE: the reserve left room to accept and close
