"""Statistics: frozen snapshots of a connection's and a server's counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ConnectionStatistics", "ServerStatistics"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionStatistics:
    """Counters of one connection, from `Session.conn_statistics()`."""

    received_bytes: int
    """Bytes read from the socket."""
    received_frames: int
    """Events decoded from them and handed to the session."""
    sent_bytes: int
    """Bytes handed to the kernel."""
    sent_frames: int
    """Frames (or batches of frames sent as one) queued for sending."""
    queued_bytes: int
    """Bytes waiting in the writer's queue."""
    dropped_frames: int
    """Frames discarded: by the `"drop"` slow-consumer policy, or sent after closing."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStatistics:
    """Counters of one server, from `Server.statistics()`."""

    open_connections: int
    """Connections open now."""
    accepted: int
    """Connections accepted and served since the server started."""
    refused: int
    """Connections closed at once because `Limits.max_connections` were open."""
    closed: int
    """Served connections that have ended."""
    received_bytes: int
    """Bytes read from every connection, open and closed."""
    sent_bytes: int
    """Bytes sent to every connection, open and closed."""
    received_frames: int
    """Events decoded from every connection, open and closed."""
    sent_frames: int
    """Frames queued for every connection, open and closed."""
    disconnects: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Ended connections by `DisconnectReason` name in lower case ("slow_consumer", ...)."""
