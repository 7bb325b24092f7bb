"""`python -m examples.chat serve --workers N`: a supervisor and its worker processes, for real.

Who serves what is read from /proc: a process's socket inodes from /proc/PID/fd, and each
socket's local port and state from /proc/net/tcp. A connection a worker accepted is an
ESTABLISHED socket on the door's port among that worker's descriptors. The supervisor's own
socket per door is bound and never listens, and /proc/net/tcp lists no such socket: the
supervisor has none there at all. Every wait polls against a deadline.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
import trustme
from _chat_users import BinaryUser, IrcUser, WebUser
from _processes import ROOT, ChatServer, _readline
from _support import WAIT, wait_until
from _workers import (
    ESTABLISHED,
    LISTEN,
    alive,
    children_of,
    kill_workers,
    socket_inodes,
    sockets_in,
    tcp_sockets,
    wait_for_workers,
)

from examples.chat import workers
from examples.chat.__main__ import main as chat_main
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Seconds a supervisor may take to stop its workers and exit: theirs, and a margin.
STOPPING = workers.STOP_TIMEOUT + WAIT
#: Seconds a supervisor may take to give up on a worker that cannot start: the restart delays
#: before the last death (0.5 + 1 + 2 + 4 s), a start of each worker, then the stopping.
GIVING_UP = 7.5 + workers.GIVE_UP_DEATHS * WAIT + STOPPING


def doors(server: ChatServer) -> tuple[int, int, int]:
    return server.port, server.http_port, server.irc_port


def listens_on_every_door(pid: int, server: ChatServer) -> bool:
    return all(sockets_in(pid, port, LISTEN) for port in doors(server))


@pytest.fixture
def server() -> Iterator[tuple[ChatServer, set[int]]]:
    """A chat with `--workers 2`, and the PIDs of its two workers (a test adds any it starts)."""
    chat_server = ChatServer(0, "--workers", "2")
    pids: set[int] = set()
    try:
        pids |= wait_for_workers(chat_server.process.pid, 2)
        yield chat_server, pids
    finally:
        leftover = pids | children_of(chat_server.process.pid)
        chat_server.stop()  # first, so that it restarts none
        kill_workers(leftover)


def connect_users(port: int, prefix: str, count: int) -> list[BinaryUser]:
    """Open `count` binary users, each registered (so each was accepted and served)."""
    users = []
    for n in range(count):
        user = BinaryUser(port, f"{prefix}{n}")
        users.append(user)
        user.hello()
    return users


def test_two_workers_print_one_start_up_line_and_both_serve_every_door(
    server: tuple[ChatServer, set[int]],
) -> None:
    chat_server, pids = server
    parent = chat_server.process.pid
    for pid in pids:  # ready before the line was printed
        assert listens_on_every_door(pid, chat_server)
    for port in doors(chat_server):  # the supervisor's socket per door is bound, not listening
        assert not socket_inodes(parent) & tcp_sockets(port).keys()
    users = connect_users(chat_server.port, "user", 40)
    try:
        accepted = {pid: len(sockets_in(pid, chat_server.port, ESTABLISHED)) for pid in pids}
        assert sum(accepted.values()) == 40, accepted  # every connection is a worker's
        assert min(accepted.values()) > 0, accepted  # both took some: 2 in 2**40 that one takes all
        assert not sockets_in(parent, chat_server.port, ESTABLISHED)
    finally:
        for user in users:
            user.close()
    with WebUser(chat_server.http_port, "webber") as web:
        assert web.hello().nick == "webber"
    with IrcUser(chat_server.irc_port, "ircer") as irc_user:
        assert irc_user.register()[-1].command == "422"
    os.kill(parent, signal.SIGTERM)
    assert chat_server.process.wait(STOPPING) == 0
    assert chat_server.process.stdout is not None
    assert chat_server.process.stdout.read() == ""  # the start-up line was the only line


def test_a_killed_worker_is_restarted_and_the_new_one_accepts(
    server: tuple[ChatServer, set[int]],
) -> None:
    chat_server, pids = server
    parent = chat_server.process.pid
    victim, survivor = sorted(pids)
    os.kill(victim, signal.SIGKILL)
    assert wait_until(lambda: victim not in children_of(parent) and len(children_of(parent)) == 2)
    now = children_of(parent)
    assert survivor in now
    (replacement,) = now - pids
    pids.add(replacement)  # stopped by the fixture should the test fail
    assert wait_until(lambda: listens_on_every_door(replacement, chat_server))
    users = connect_users(chat_server.port, "after", 30)
    try:
        assert sockets_in(replacement, chat_server.port, ESTABLISHED)  # 1 in 2**30 it has none
    finally:
        for user in users:
            user.close()


def test_sigterm_stops_every_worker_gracefully_and_the_supervisor_exits_0(
    server: tuple[ChatServer, set[int]],
) -> None:
    chat_server, pids = server
    users = connect_users(chat_server.port, "stay", 6)  # on both workers, most likely
    try:
        os.kill(chat_server.process.pid, signal.SIGTERM)
        for user in users:  # each worker shut down gracefully: its users were told
            received = user.client.receive_until_closed(WAIT)
            assert chat.Notice(text="server shutting down") in received, received
    finally:
        for user in users:
            user.close()
    assert chat_server.process.wait(STOPPING) == 0
    assert not [pid for pid in pids if alive(pid)]
    for port in doors(chat_server):  # nothing holds the ports any more
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()


def test_workers_exit_when_the_supervisor_is_killed(server: tuple[ChatServer, set[int]]) -> None:
    chat_server, pids = server
    os.kill(chat_server.process.pid, signal.SIGKILL)
    chat_server.process.wait(WAIT)
    assert wait_until(lambda: not any(alive(pid) for pid in pids)), [p for p in pids if alive(p)]


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert = trustme.CA().issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_pem.write_to_path(str(key))
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return chain, key


def test_the_supervisor_gives_up_on_a_worker_that_cannot_start_again(
    tls_files: tuple[Path, Path], tmp_path: Path
) -> None:
    chain, key = tls_files
    errors = tmp_path / "stderr.txt"
    command = [
        *(sys.executable, "-m", "examples.chat", "serve", "--workers", "2"),
        *("--port", "0", "--http-port", "0", "--irc-port", "0", "--stats-interval", "0"),
        *("--log-level", "WARNING", "--tls-cert", str(chain), "--tls-key", str(key)),
    ]
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    pids: set[int] = set()
    try:
        assert process.stdout is not None
        line = _readline(process.stdout.fileno(), WAIT)
        assert line.startswith("chat server listening (TLS)"), line
        pids = wait_for_workers(process.pid, 2)
        # A deploy breaks the certificate: the workers running keep theirs, a new one cannot
        # load it and exits at once, every time.
        chain.write_text("not a certificate\n")
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        status = process.wait(GIVING_UP)
    finally:
        leftover = pids | children_of(process.pid)
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)
        kill_workers(leftover)
        if process.stdout is not None:
            process.stdout.close()
    assert status == 1
    assert not [pid for pid in pids if alive(pid)]  # the other worker was stopped
    log = errors.read_text()
    assert re.search(rf"worker (\d) \(PID {victim}\) was killed by SIGKILL after", log), log
    number = re.findall(rf"worker (\d) \(PID {victim}\)", log)[0]
    for delay in ("0.5", "1.0", "2.0", "4.0"):
        assert f"restarting it in {delay} s" in log, log
    assert "cannot load --tls-cert" in log  # the worker said why
    last = log.rstrip("\n").rsplit("\n", 1)[-1]
    assert last.startswith(
        f"chat server: giving up: worker {number} died {workers.GIVE_UP_DEATHS} times within 30 s"
    ), last


def test_a_negative_worker_count_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        chat_main(["serve", "--workers", "-1"])
    assert exited.value.code == 2
    assert "argument --workers: -1 is negative" in capsys.readouterr().err


def test_help_says_workers_share_rooms_only_with_redis(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        chat_main(["serve", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--workers N" in text
    assert "each process has its own nicks and rooms unless --redis is given" in text
    assert "--supervised-worker" not in text


@pytest.mark.parametrize(("asked", "expected"), [(1, 1), (3, 3), (0, workers.cpu_count())])
def test_zero_workers_is_one_per_cpu_core(asked: int, expected: int) -> None:
    assert workers.worker_count(argparse.Namespace(workers=asked)) == expected
    assert workers.cpu_count() == len(os.sched_getaffinity(0))
