"""Session: the actor users subclass to handle one connection."""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from pykka import ActorDeadError

from actornet._connection import format_peer
from actornet._exceptions import ClosedConnectionError
from actornet._messages import (
    RESUME_READING,
    Close,
    Connected,
    ConnectionEnded,
    DisconnectReason,
    ProtocolOpened,
    Received,
    Shutdown,
    WriterClosed,
)
from actornet._runtime._actor import Actor, stop_nowait, tell_or_drop
from protocols import RemoteProtocolError

if TYPE_CHECKING:
    from types import TracebackType

    from actornet._connection import Connection
    from actornet._limits import Limits
    from actornet._outgoing import Outgoing
    from actornet._statistics import ConnectionStatistics
    from actornet._tls import TlsInfo
    from protocols import Opened, Sender, WireProtocol

__all__ = ["Outbox", "Session"]

logger = logging.getLogger("actornet.session")

EventT = TypeVar("EventT")

# Reasons after which nothing queued can reach the peer: close without flushing.
_ABORTING = frozenset({DisconnectReason.CONNECTION_BROKEN, DisconnectReason.SLOW_CONSUMER})

# RFC 6455 close codes for the endings this side begins, given to the
# protocol's `Sender.close()` (protocols without a goodbye ignore them). The
# peer's own close and its protocol errors are answered by the receiver.
_GOING_AWAY = 1001
_INTERNAL_ERROR = 1011
_NORMAL = 1000
_CLOSE_CODES = {
    DisconnectReason.SHUTDOWN: (_GOING_AWAY, "server shutting down"),
    DisconnectReason.IDLE_TIMEOUT: (_GOING_AWAY, "idle timeout"),
    DisconnectReason.SESSION_FAILED: (_INTERNAL_ERROR, "server error"),
}


class _State(enum.Enum):
    #: Started, waiting for the connection to be wired.
    NEW = "new"
    #: Wired; the protocol's handshake is under way (no hooks have run).
    HANDSHAKING = "handshaking"
    #: Events flow both ways.
    OPEN = "open"
    #: on_disconnect() is running: it may still send a farewell.
    DISCONNECTING = "disconnecting"
    #: The writer is flushing and closing; nothing more is sent.
    CLOSING = "closing"
    #: The socket is closed.
    CLOSED = "closed"


class Outbox:
    """Handle that queues encoded frames on one connection, from any actor or thread.

    A room keeps one per member and hands each the same bytes from
    `Wire.encode()`, so a broadcast is encoded once. Frames sent after the
    connection closed are dropped silently: a room need not track closings.
    """

    __slots__ = ("_outgoing", "peer")

    def __init__(self, outgoing: Outgoing, peer: Any) -> None:
        self._outgoing = outgoing
        #: The peer's address.
        self.peer = peer

    def __repr__(self) -> str:
        return f"<Outbox to {format_peer(self.peer)}>"

    def send_frame(self, frame: bytes) -> None:
        """Queue an encoded frame (or several, concatenated) for sending."""
        self._outgoing.put(frame)


class Session(Actor, Generic[EventT]):
    """Actor that handles one connection: subclass it and override the `on_` hooks.

    A server starts one session per accepted connection (a client, one per
    connection it opens), beside a reader that decodes what arrives and a writer
    that sends what the session sends. Every hook runs in this actor, on a
    dispatcher worker thread, one at a time. A hook may block (on an `ask`, a
    database call): other connections keep being served meanwhile.

    If a hook raises, the traceback is logged and this connection (only) closes
    with `DisconnectReason.SESSION_FAILED`.

    Messages other actors tell the session reach `on_receive()`, as for any
    Pykka actor.
    """

    # Attributes that keep their class default for most of a connection's life are set on
    # the instance only when they change: every attribute a session holds costs memory,
    # and past about 24 the instance dictionary costs 1.5 KiB more.
    _conn: Connection | None = None
    _conn_encoder: Sender[EventT] | None = None
    _conn_state: _State = _State.NEW
    _conn_close_code: tuple[int, str] = (_NORMAL, "")

    conn_handshake: object | None = None
    """What the protocol's opening handshake established (for WebSocket, a
    `protocols.websocket` handshake record: path, subprotocol, extensions), or
    None for a protocol without one."""

    conn_outbox: Outbox
    """Handle for other actors to queue encoded frames on this connection."""

    conn_disconnect_reason: DisconnectReason | None = None
    """Why the connection ended, once it has; None while it is open."""

    conn_disconnect_error: BaseException | None = None
    """The error behind `conn_disconnect_reason`, if any: the OSError of a
    broken connection, or the `protocols.RemoteProtocolError` that described
    the peer's bad input (for an error reply in `on_disconnect()`)."""

    @property
    def conn_peer(self) -> Any:
        """The peer's address, as `socket.getpeername()` gave it."""
        return self._connection().peer

    @property
    def conn_limits(self) -> Limits:
        """The limits this connection runs under."""
        return self._connection().limits

    @property
    def conn_wire(self) -> WireProtocol[EventT]:
        """The wire format this connection speaks."""
        wire: WireProtocol[EventT] = self._connection().wire
        return wire

    @property
    def conn_tls(self) -> TlsInfo | None:
        """What the TLS handshake established, or None on a plain TCP connection.

        Version, cipher, ALPN protocol, SNI name and peer certificate (`actornet.TlsInfo`);
        set before `on_connect()` runs.
        """
        tls = self._connection().tls
        return None if tls is None else tls.info

    def _connection(self) -> Connection:
        if self._conn is None:
            raise AttributeError("the session has no connection before on_connect()")
        return self._conn

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the session; override freely, but call `super().__init__()`."""
        super().__init__(*args, **kwargs)

    # -- hooks --------------------------------------------------------------

    def on_connect(self) -> None:
        """Run when the connection is open, before any event arrives.

        The `conn_` attributes are set by then; `send()` works. For a protocol
        that opens with a handshake (a WebSocket upgrade), this runs once the
        handshake succeeded, and never if it fails.
        """

    def on_event(self, event: EventT) -> None:
        """Handle one event decoded from the peer's bytes.

        Events arrive in the order the peer sent them. None arrives after
        `close()` or after the connection ended.
        """

    def on_disconnect(self, reason: DisconnectReason) -> None:
        """Run once when the connection ends, for whatever reason.

        What it sends (a farewell, an error) is still flushed before the socket
        closes, unless the connection is broken or the peer too slow. An
        exception here is logged and otherwise ignored.
        """

    # -- API ----------------------------------------------------------------

    def send(self, event: EventT) -> None:
        """Encode an event and queue it for sending.

        Raises:
            protocols.LocalProtocolError: if the event cannot be encoded; a bug
                in the caller, raised here so the traceback points at it.
            ClosedConnectionError: if the connection was closed or is closing.
        """
        encoder = self._conn_encoder
        if encoder is None:
            raise ClosedConnectionError(self._closed_message())
        self.send_frame(encoder.send(event))

    def send_frame(self, frame: bytes) -> None:
        """Queue already encoded bytes (one or more whole frames) for sending.

        Raises:
            ClosedConnectionError: if the connection was closed or is closing.
        """
        connection = self._conn
        state = self._conn_state
        # Identity tests: an Enum's __hash__ is Python code, too slow for a set
        # lookup per frame.
        if (
            connection is None
            or (state is not _State.OPEN and state is not _State.DISCONNECTING)
            or not connection.outgoing.append(frame)
        ):
            raise ClosedConnectionError(self._closed_message())

    def conn_statistics(self) -> ConnectionStatistics:
        """Return a snapshot of this connection's byte and frame counters.

        Raises:
            ClosedConnectionError: before the connection was wired (in `__init__`).
        """
        if self._conn is None:
            raise ClosedConnectionError(
                "the connection is not wired yet: call conn_statistics() from on_connect() "
                "or later"
            )
        return self._conn.statistics()

    def close(self, *, code: int = _NORMAL, reason: str = "") -> None:
        """Flush what was sent, then close the connection.

        `on_disconnect(DisconnectReason.CLOSED_BY_SESSION)` runs first. Closing
        twice is harmless.

        Args:
            code: For a protocol with a closing handshake (WebSocket), the RFC
                6455 close code sent to the peer; others ignore it.
            reason: Likewise, the close reason (at most 123 UTF-8 bytes).
        """
        self._conn_close_code = (code, reason)
        self._conn_begin_close(DisconnectReason.CLOSED_BY_SESSION, None)

    # -- framework ----------------------------------------------------------

    def _handle_receive(self, message: Any) -> Any:
        try:
            return self._conn_dispatch(message)
        finally:
            # What this turn sent leaves now, in one notification.
            connection = self._conn
            if connection is not None:
                connection.outgoing.notify()

    def _conn_dispatch(self, message: Any) -> Any:
        if isinstance(message, Received):
            self._conn_received(message.events)
        elif isinstance(message, ConnectionEnded):
            self._conn_begin_close(message.reason, message.error)
        elif isinstance(message, Connected):
            self._conn_connected(message.connection, message.sender)
        elif isinstance(message, ProtocolOpened):
            self._conn_opened(message.opened)
        elif isinstance(message, WriterClosed):
            self._conn_state = _State.CLOSED
            self.stop()
        elif isinstance(message, Shutdown):
            self._conn_begin_close(DisconnectReason.SHUTDOWN, None)
        else:
            return super()._handle_receive(message)
        return None

    def _conn_connected(self, connection: Connection, sender: Sender[EventT] | None) -> None:
        self._conn = connection
        self.conn_outbox = Outbox(connection.outgoing, connection.peer)
        if sender is None:
            self._conn_state = _State.HANDSHAKING
            return
        self._conn_encoder = sender
        self._conn_state = _State.OPEN
        logger.debug("connection from %s opened", format_peer(connection.peer))
        self._conn_call_hook(self.on_connect)

    def _conn_opened(self, opened: Opened[EventT]) -> None:
        if self._conn_state is not _State.HANDSHAKING:
            return  # closed while the handshake was finishing
        self._conn_encoder = opened.sender
        self.conn_handshake = opened.details
        self._conn_state = _State.OPEN
        logger.debug("connection from %s opened", format_peer(self.conn_peer))
        self._conn_call_hook(self.on_connect)

    def _conn_received(self, events: list[EventT]) -> None:
        # One try around the loop, not one per event: an exception ends the
        # connection, and with it the loop.
        on_event = self.on_event
        try:
            for event in events:
                if self._conn_state is not _State.OPEN:
                    break
                on_event(event)
        except Exception as exc:
            self._conn_hook_failed(on_event, exc)
        connection = self._conn
        if (
            connection is not None
            and connection.reading_paused
            and len(self.actor_inbox) <= connection.limits.read_low_water
        ):
            connection.reading_paused = False
            tell_or_drop(connection.reader_ref, RESUME_READING)

    def _conn_call_hook(self, hook: Any, *args: Any) -> None:
        try:
            hook(*args)
        except Exception as exc:
            self._conn_hook_failed(hook, exc)

    def _conn_hook_failed(self, hook: Any, error: Exception) -> None:
        """Log a hook's exception and close the connection as failed."""
        logger.error(
            "%s.%s raised; closing the connection from %s",
            type(self).__name__,
            getattr(hook, "__name__", "hook"),
            format_peer(getattr(self, "conn_peer", None)),
            exc_info=error,
        )
        self._conn_begin_close(DisconnectReason.SESSION_FAILED, None)

    def _conn_begin_close(self, reason: DisconnectReason, error: BaseException | None) -> None:
        connection = self._conn
        if connection is None:
            return
        if self._conn_state is _State.HANDSHAKING:
            # Never opened: no hooks ran, so none run now.
            self._conn_state = _State.CLOSING
            self.conn_disconnect_reason = connection.disconnect_reason = reason
            self.conn_disconnect_error = error
            self._conn_tell_writer(Close(abort=reason in _ABORTING))
            return
        if self._conn_state is not _State.OPEN:
            return
        connection.disconnect_reason = reason
        self._conn_state = _State.DISCONNECTING
        self.conn_disconnect_reason = reason
        self.conn_disconnect_error = error
        logger.debug(
            "connection from %s closing: %s%s",
            format_peer(connection.peer),
            reason.value,
            f" ({error})" if error is not None else "",
        )
        if isinstance(error, RemoteProtocolError) and error.reply_hint is not None:
            try:
                self.send(cast("EventT", error.reply_hint))
            except Exception:
                logger.exception("could not send the reply to a protocol error")
        try:
            self.on_disconnect(reason)
        except Exception:
            logger.exception("%s.on_disconnect raised", type(self).__name__)
        self._conn_state = _State.CLOSING
        abort = reason in _ABORTING
        linger = not abort and self._conn_say_goodbye(reason)
        self._conn_encoder = None
        self._conn_tell_writer(Close(abort=abort, linger=linger))
        if not linger:
            # A lingering close still reads, for the peer's answer; the
            # writer stops the reader once it closes the socket.
            stop_nowait(connection.reader_ref)

    def _conn_say_goodbye(self, reason: DisconnectReason) -> bool:
        """Seal the connection with the protocol's close, if this side ends it and it has one.

        Returns:
            Whether the writer should wait for the peer to answer the close.
        """
        encoder = self._conn_encoder
        assert self._conn is not None
        if reason is DisconnectReason.CLOSED_BY_SESSION:
            ending: tuple[int, str] | None = self._conn_close_code
        else:
            ending = _CLOSE_CODES.get(reason)
        if encoder is None or ending is None:
            return False
        try:
            goodbye = encoder.close(*ending)
        except Exception:
            logger.exception("could not build the close for %s", format_peer(self.conn_peer))
            goodbye = b""
        self._conn.outgoing.seal(goodbye)
        return bool(goodbye) and encoder.awaits_peer_close

    def _conn_tell_writer(self, message: Close) -> None:
        assert self._conn is not None
        try:
            self._conn.writer_ref.tell(message)
        except ActorDeadError:
            self._conn_state = _State.CLOSED

    def _closed_message(self) -> str:
        reason = self.conn_disconnect_reason
        why = f": {reason.value}" if reason is not None else ""
        return (
            f"the connection from {format_peer(getattr(self, 'conn_peer', None))} is closed{why}; "
            "check conn_disconnect_reason before sending, or send from on_disconnect()"
        )

    def _stop(self) -> None:
        self._conn_begin_close(DisconnectReason.CLOSED_BY_SESSION, None)
        super()._stop()

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        super()._handle_failure(exception_type, exception_value, traceback)
        self._conn_begin_close(DisconnectReason.SESSION_FAILED, None)
