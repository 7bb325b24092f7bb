"""Helpers shared by the connection tests: a recording session, wires, waits."""

from __future__ import annotations

import os
import queue
import socket
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import actornet
import actornet.testing
import protocols

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

WAIT = 10.0  # seconds a single expected thing may take on a loaded 2-core machine

#: The echo/relay wire: 4-byte big-endian length + payload, raw bytes.
RAW_WIRE = protocols.Wire(
    protocols.LengthPrefixed(width=4, byteorder="big", max_frame_size=64 * 1024),
    protocols.RawCodec(),
)


def frame(payload: bytes) -> bytes:
    """Frame a payload the way RAW_WIRE does, written out by hand."""
    return struct.pack(">I", len(payload)) + payload


def read_frame(sock: socket.socket) -> bytes:
    """Read one RAW_WIRE frame from a blocking socket (a TLS one too); return its payload."""

    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            assert chunk, f"closed after {len(data)} of {size} bytes"
            data += chunk
        return data

    return exactly(struct.unpack(">I", exactly(4))[0])


@dataclass
class Journal:
    """What the sessions of one test did, in order, across threads."""

    events: queue.Queue[tuple[str, Any]] = field(default_factory=queue.Queue)
    disconnects: queue.Queue[actornet.DisconnectReason] = field(default_factory=queue.Queue)
    #: Set when a session starts handling a b"sleep N" event.
    sleeping: threading.Event = field(default_factory=threading.Event)

    def next_disconnect(self, timeout: float = WAIT) -> actornet.DisconnectReason:
        """Return the next reason a session was told in on_disconnect()."""
        return self.disconnects.get(timeout=timeout)


class EchoSession(actornet.Session[bytes]):
    """Echoes payloads; special payloads make it misbehave on purpose."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def on_connect(self) -> None:
        self.journal.events.put(("connect", self.conn_peer))

    def on_event(self, event: bytes) -> None:
        if event == b"raise":
            raise RuntimeError("on_event raised on purpose")
        if event.startswith(b"sleep "):
            self.journal.sleeping.set()
            time.sleep(float(event.split()[1]))
        if event == b"close":
            self.close()
            return
        if event.startswith(b"flood "):
            size, count = (int(part) for part in event.split()[1:])
            chunk = b"x" * size
            for _ in range(count):
                self.send(chunk)
            return
        self.send(event)

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        if reason is actornet.DisconnectReason.SHUTDOWN:
            self.send(b"goodbye")
        self.journal.disconnects.put(reason)


@contextmanager
def serving(
    session_class: type[actornet.Session[Any]] = EchoSession,
    *,
    wire: protocols.WireProtocol[Any] = RAW_WIRE,
    limits: actornet.Limits | None = None,
    journal: Journal | None = None,
    session_args: tuple[Any, ...] | None = None,
) -> Iterator[tuple[actornet.Server[Any], Journal]]:
    """Serve on an ephemeral loopback port for the duration of a test."""
    journal = journal or Journal()
    server = actornet.serve_tcp(
        session_class,
        wire,
        host="127.0.0.1",
        port=0,
        limits=limits or actornet.Limits(idle_timeout=None),
        session_args=(journal,) if session_args is None else session_args,
    )
    try:
        yield server, journal
    finally:
        server.shutdown(timeout=WAIT)


# Client sockets the running test opened, closed after it (tests/conftest.py) even when
# it failed half-way: a socket left to the garbage collector raises ResourceWarning in
# whichever later test happens to collect it, and filterwarnings=error fails that one.
_test_sockets: list[socket.socket] = []


def track(sock: socket.socket) -> socket.socket:
    """Have the socket closed after the running test, if the test does not close it."""
    _test_sockets.append(sock)
    return sock


def close_test_sockets() -> None:
    """Close every socket `track()` was given (closing twice is harmless)."""
    while _test_sockets:
        _test_sockets.pop().close()


def connect(server: actornet.Server[Any]) -> actornet.testing.BlockingClient[bytes]:
    """Open a blocking test client to the server."""
    client = actornet.testing.BlockingClient("127.0.0.1", server.port, RAW_WIRE, timeout=WAIT)
    track(client.sock)
    return client


def raw_socket(server: actornet.Server[Any]) -> socket.socket:
    """Open a plain socket to the server, for sending malformed bytes."""
    sock = track(socket.create_connection(("127.0.0.1", server.port), timeout=WAIT))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def reset(sock: socket.socket) -> None:
    """Close a socket with a TCP reset instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_until_closed(sock: socket.socket, timeout: float = WAIT) -> bytes:
    """Read everything until EOF (or reset) and return it."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll `condition` until it holds or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(0.01)
    return True


def open_fds() -> int:
    """Return how many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))  # noqa: PTH208 - a count, no paths kept


def thread_count() -> int:
    """Return how many threads this process runs."""
    return sum(1 for _ in Path("/proc/self/task").iterdir())


def first_thread_named(prefix: str) -> threading.Thread | None:
    """Return a live thread whose name starts with `prefix`, if any."""
    return next((t for t in threading.enumerate() if t.name.startswith(prefix)), None)
