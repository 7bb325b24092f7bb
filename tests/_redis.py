"""A real `redis-server` for the tests: on a free loopback port, stopped by PID.

The server keeps nothing on disk (no RDB, no AOF), so a restart is a Redis that
has lost everything, the hardest case for the chat. In CI (`CI=true`) a missing
`redis-server` fails the test instead of skipping it; `.ci/run` installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from _support import WAIT, free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def redis_server_program() -> str:
    """Return the path of `redis-server`, or skip (fail in CI) if it is not installed."""
    program = shutil.which("redis-server")
    if program is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return program


class RedisServer:
    """`redis-server` on 127.0.0.1:`port` (a free one unless given), in the foreground."""

    def __init__(self, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it answers PING."""
        assert self.process is None
        self.process = subprocess.Popen(
            [
                redis_server_program(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT
        while not self.answers():
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server on port {self.port} exited at start")
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.02)

    def answers(self) -> bool:
        """Whether the server answers PING now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *words: str) -> bytes:
        """Send one command (inline, as redis-cli would) and return the first reply line."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as sock:
            sock.sendall(" ".join(words).encode() + b"\r\n")
            return sock.makefile("rb").readline().rstrip(b"\r\n")

    @contextlib.contextmanager
    def watching(self, channel: str) -> Iterator[Callable[[bytes], None]]:
        """Subscribe to `channel`; yield a wait for a published message containing some bytes.

        What the chat publishes it has first recorded (RedisBackplane records,
        then publishes), so seeing a message proves the writes before it are in.
        """
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        try:
            sock.sendall(f"SUBSCRIBE {channel}\r\n".encode())
            seen = bytearray()

            def wait_for(wanted: bytes) -> None:
                deadline = time.monotonic() + WAIT
                while wanted not in seen:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise AssertionError(f"Redis closed the subscription to {channel}")
                    seen.extend(chunk)

            yield wait_for
        finally:
            sock.close()

    def pause(self) -> None:
        """Stop the server's process (SIGSTOP): it keeps its sockets and answers nothing."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server by PID (SIGKILL by default: nothing is saved either way)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        self.process.wait(WAIT)
        self.process = None
