"""The chat server and the script-mode client as subprocesses, for the tests that run them.

The server and the clients are subprocesses on 127.0.0.1; every wait polls
output against a deadline.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

from _support import WAIT

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]

_LISTENING = re.compile(
    r"^chat server listening(?: \(TLS\))? with rooms .*?: browser on https?://127\.0\.0\.1:(\d+)/, "
    r"IRC on 127\.0\.0\.1:(\d+), binary on 127\.0\.0\.1:(\d+)$"
)


class ChatServer:
    """`python -m examples.chat serve` as a subprocess; the port is read from its first line."""

    def __init__(self, port: int = 0, *options: str) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.chat",
                "serve",
                "--port",
                str(port),
                "--http-port",
                "0",
                "--irc-port",
                "0",
                "--log-level",
                "WARNING",
                "--stats-interval",
                "0",
                *options,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = _readline(self.process.stdout.fileno(), WAIT).rstrip("\n")
        #: The server's start-up line.
        self.line = line
        match = _LISTENING.match(line)
        assert match is not None, line
        #: The browser door's port (the page, /chat, /metrics).
        self.http_port = int(match.group(1))
        #: The IRC door's port.
        self.irc_port = int(match.group(2))
        #: The binary door's port.
        self.port = int(match.group(3))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _readline(fd: int, timeout: float) -> str:
    """Read one line from a pipe, byte by byte, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"no line within {timeout} s (got {data!r})")
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def client_command(port: int, nick: str, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "examples.chat",
        "client",
        "--port",
        str(port),
        "--nick",
        nick,
        *options,
    ]


class ScriptClient:
    """A `--script` client: type lines into its stdin, wait for lines on its stdout."""

    def __init__(self, port: int, nick: str, *rooms: str, options: Sequence[str] = ()) -> None:
        room_options = [option for room in rooms for option in ("--room", room)]
        self.process = subprocess.Popen(
            client_command(port, nick, "--script", *room_options, *options),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def type(self, *lines: str) -> None:
        assert self.process.stdin is not None
        for line in lines:
            self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def end_input(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def expect(self, wanted: str, timeout: float = WAIT) -> None:
        """Wait until the client has written the line `wanted` (at any point so far)."""
        deadline = time.monotonic() + timeout
        while wanted not in self.lines:
            remaining = deadline - time.monotonic()
            try:
                line = self._incoming.get(timeout=max(0.0, remaining))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"{wanted!r} not among {self.lines}")
            self.lines.append(line)

    def wait_exit(self, timeout: float = WAIT) -> int:
        """Wait for the process to exit; return its status, having read all it wrote."""
        status = self.process.wait(timeout)
        while (line := self._incoming.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return status
