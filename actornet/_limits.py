"""Limits: every bound a connection enforces, in one frozen record."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_READ_HIGH_WATER",
    "DEFAULT_READ_LOW_WATER",
    "DEFAULT_RECEIVE_SIZE",
    "DEFAULT_WRITE_QUEUE_BYTES",
    "MIN_RESERVED_FILES",
    "UNLIMITED_FILES",
    "Limits",
    "default_max_connections",
    "max_connections_for",
]

#: Bytes a connection may have queued for sending before the slow-consumer
#: policy applies: 1 MiB, sixteen times a typical 64 KiB socket send buffer, so
#: short stalls pass and a client that stopped reading is found within a second
#: of a busy room's traffic.
DEFAULT_WRITE_QUEUE_BYTES = 1024 * 1024

#: Batches of received events the session may have waiting before its reader
#: stops reading from the socket. One batch holds every frame of one recv.
DEFAULT_READ_HIGH_WATER = 64

#: Waiting batches below which a paused reader resumes.
DEFAULT_READ_LOW_WATER = 16

#: Seconds without a byte from the peer after which the connection is closed.
#: Five minutes, as nginx's keepalive-free stream default is ten and most chat
#: clients ping every minute or two.
DEFAULT_IDLE_TIMEOUT = 300.0

#: Descriptors kept back from the file limit for everything that is not a
#: connection, at the least: stdio, the epoll and eventfd descriptors, the
#: listening sockets, log files, a database pool, the files a session opens.
#: 64 covers a small process; `max_connections_for()` keeps back 1/16 of a
#: larger limit, as a bigger server tends to hold proportionally more of them.
MIN_RESERVED_FILES = 64

#: The file limit assumed when the process has none (RLIM_INFINITY): Linux's
#: default `fs.nr_open`, the most descriptors a process can open even then.
UNLIMITED_FILES = 1 << 20

#: Seconds a closing connection may spend flushing queued bytes before it is
#: closed regardless.
DEFAULT_CLOSE_TIMEOUT = 5.0

#: Seconds a connection whose protocol opens with a handshake (a WebSocket
#: upgrade) may take to complete it: 10 s, as nginx's and most TLS servers'
#: handshake timeouts, long enough for a slow mobile link.
DEFAULT_HANDSHAKE_TIMEOUT = 10.0

#: Bytes asked of each recv call: 64 KiB, the usual socket receive buffer size.
DEFAULT_RECEIVE_SIZE = 64 * 1024


def max_connections_for(file_limit: int) -> int:
    """Return the connections a process with `file_limit` descriptors can hold.

    Each connection is one descriptor; the rest, `max(MIN_RESERVED_FILES,
    file_limit // 16)`, is kept for the process's other files. With the
    common limits: 1,024 -> 960, 20,000 -> 18,750, 65,536 -> 61,440.

    Args:
        file_limit: the soft RLIMIT_NOFILE; `resource.RLIM_INFINITY` (or any
            negative value) means none, taken as `UNLIMITED_FILES`.
    """
    if file_limit < 0 or file_limit == resource.RLIM_INFINITY:
        file_limit = UNLIMITED_FILES
    return max(1, file_limit - max(MIN_RESERVED_FILES, file_limit // 16))


def default_max_connections() -> int:
    """Return `max_connections_for()` the process's soft file limit as it is now."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max_connections_for(soft)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds that protect a server from its clients, with their defaults.

    The largest frame is a property of the wire format (its framing's
    `max_frame_size`), so it is set there, not here.
    """

    write_queue_bytes: int = DEFAULT_WRITE_QUEUE_BYTES
    """Bytes queued for one connection before `on_slow_consumer` applies. A frame
    sent while nothing is queued is always accepted, however large."""

    on_slow_consumer: Literal["disconnect", "drop"] = "disconnect"
    """What happens to a connection whose queue is full: `"disconnect"` closes
    it (logged, reason `SLOW_CONSUMER`); `"drop"` discards the new frame and
    keeps the connection, counting drops in the writer's statistics."""

    read_high_water: int = DEFAULT_READ_HIGH_WATER
    """Received batches waiting in the session's mailbox at which reading pauses."""

    read_low_water: int = DEFAULT_READ_LOW_WATER
    """Waiting batches at or below which reading resumes."""

    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT
    """Seconds without input before the connection closes (`IDLE_TIMEOUT`); None: never."""

    max_connections: int = field(default_factory=default_max_connections)
    """Connections a server holds at once; further ones are accepted, logged and closed.

    By default, what the process's file limit (`ulimit -n`, read when the
    `Limits` is created) leaves after a reserve for other descriptors: see
    `max_connections_for()`. 18,750 under a limit of 20,000."""

    close_timeout: float = DEFAULT_CLOSE_TIMEOUT
    """Seconds a closing connection may spend flushing before it is closed anyway."""

    receive_size: int = DEFAULT_RECEIVE_SIZE
    """Bytes asked of each recv call."""

    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT
    """Seconds a protocol's opening handshake may take (`IDLE_TIMEOUT` after it); None: no bound.

    Counts from the connection's start, however often bytes trickle in, so a
    peer cannot hold a connection half-open by sending a byte at a time. A plain
    HTTP connection on a WebSocket door never opens, so this bounds it too."""

    def __post_init__(self) -> None:
        if self.write_queue_bytes < 1:
            raise ValueError(f"write_queue_bytes={self.write_queue_bytes} must be positive")
        if self.on_slow_consumer not in ("disconnect", "drop"):
            raise ValueError(
                f"on_slow_consumer={self.on_slow_consumer!r}: use 'disconnect' or 'drop'"
            )
        if not 0 <= self.read_low_water < self.read_high_water:
            raise ValueError(
                f"read_low_water={self.read_low_water} must be at least 0 and below "
                f"read_high_water={self.read_high_water}"
            )
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ValueError(f"idle_timeout={self.idle_timeout} must be positive or None")
        if self.max_connections < 1:
            raise ValueError(
                f"max_connections={self.max_connections} must be positive; "
                f"the file limit allows {default_max_connections()}"
            )
        if self.close_timeout < 0:
            raise ValueError(f"close_timeout={self.close_timeout} must not be negative")
        if self.handshake_timeout is not None and self.handshake_timeout <= 0:
            raise ValueError(
                f"handshake_timeout={self.handshake_timeout} must be positive or None"
            )
        if self.receive_size < 1:
            raise ValueError(f"receive_size={self.receive_size} must be positive")
