"""What the reader, writer, session and server tell one another.

Commands are imperatives (`Send`, `Close`, `ResumeReading`); notifications are
past tense or states (`Received`, `PeerClosed`, `WriterClosed`). Messages are
immutable, and argument-free ones are module-level singletons so the poller can
tell them without allocating.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["DisconnectReason"]


class DisconnectReason(enum.Enum):
    """Why a connection ended, as told to `Session.on_disconnect()`."""

    #: The peer closed its side (EOF) after its last complete frame.
    PEER_CLOSED = "peer closed the connection"
    #: The connection was reset or failed with an OS error.
    CONNECTION_BROKEN = "connection broken"
    #: The peer sent bytes that its wire format does not accept.
    PROTOCOL_ERROR = "protocol error"
    #: No input arrived for `Limits.idle_timeout` seconds.
    IDLE_TIMEOUT = "idle timeout"
    #: The peer read too slowly: `Limits.write_queue_bytes` were queued.
    SLOW_CONSUMER = "slow consumer"
    #: The session called `close()`.
    CLOSED_BY_SESSION = "closed by the session"
    #: A session hook raised an exception (logged with its traceback).
    SESSION_FAILED = "session failed"
    #: The server or client is shutting down.
    SHUTDOWN = "shutdown"


# -- poller and timers -> reader / writer ----------------------------------


class _Singleton:
    __slots__ = ()

    def __repr__(self) -> str:
        return type(self).__name__


class Readable(_Singleton):
    """The socket has input (or EOF, or an error) to read."""


class Writable(_Singleton):
    """The socket has room in its send buffer again."""


class IdleCheck(_Singleton):
    """Time to see whether the peer has been silent for too long."""


class CloseDeadline(_Singleton):
    """A closing writer ran out of time to flush."""


READABLE = Readable()
WRITABLE = Writable()
IDLE_CHECK = IdleCheck()
CLOSE_DEADLINE = CloseDeadline()


# -- reader -> session -----------------------------------------------------


class Received:
    """Events decoded from one read, in order."""

    # A plain class: a frozen dataclass's __init__ costs twice as much, and
    # one of these is made per read.
    __slots__ = ("events",)

    def __init__(self, events: list[Any]) -> None:
        self.events = events

    def __repr__(self) -> str:
        return f"Received({self.events!r})"


@dataclass(frozen=True, slots=True)
class ProtocolOpened:
    """The protocol's handshake succeeded: the session takes over its sending half."""

    opened: Any  # protocols.Opened


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """The reader or writer saw the connection end; `error` explains why."""

    reason: DisconnectReason
    error: BaseException | None = None


# -- session -> reader -----------------------------------------------------


class ResumeReading(_Singleton):
    """The session caught up; read again."""


RESUME_READING = ResumeReading()


# -- session -> writer -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Queue encoded bytes (one or more whole frames) for sending.

    The connection's own senders use its `Outgoing` list instead, which costs a
    list append; `Send` is for code that holds only the writer's ref.
    """

    data: bytes


class FlushOutgoing(_Singleton):
    """Frames wait in the connection's `Outgoing` list: take and send them."""


FLUSH_OUTGOING = FlushOutgoing()


@dataclass(frozen=True, slots=True)
class Close:
    """Flush what is queued within `Limits.close_timeout`, then close; `abort` skips the flush.

    `linger` keeps the socket open after the flush until the reader reports
    `ReaderDone` (the peer answered a closing handshake, or hung up), still
    within `Limits.close_timeout`.
    """

    abort: bool = False
    linger: bool = False


# -- reader -> writer ------------------------------------------------------


class ReaderDone(_Singleton):
    """The reader reads no more: the peer ended the conversation, or the connection broke."""


READER_DONE = ReaderDone()


# -- writer -> session, session -> server ----------------------------------


class WriterClosed(_Singleton):
    """The writer closed the socket; the connection is over."""


WRITER_CLOSED = WriterClosed()


@dataclass(frozen=True, slots=True)
class Connected:
    """First message to a session: the connection is open and wired.

    `sender` is the protocol's sending half, or None if a handshake comes first
    (then `ProtocolOpened` brings it).
    """

    connection: Any
    sender: Any = None


class Shutdown(_Singleton):
    """The server is shutting down: say goodbye, flush and close."""


SHUTDOWN = Shutdown()
