"""Connection: the record three actors share, and the function that wires them up."""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import TYPE_CHECKING, Any, cast

from actornet._messages import READABLE, WRITABLE, Connected
from actornet._reader import Reader
from actornet._runtime._actor import default_dispatcher
from actornet._statistics import ConnectionStatistics
from actornet._writer import Writer

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykka import ActorRef

    from actornet._limits import Limits
    from actornet._messages import DisconnectReason
    from actornet._outgoing import Outgoing
    from actornet._runtime._mailbox import Mailbox
    from actornet._runtime._poller import Registration
    from actornet._session import Session
    from actornet._tls import TlsChannel
    from protocols import WireProtocol

__all__ = ["Connection", "open_connection"]

logger = logging.getLogger("actornet.connection")


class Connection:
    """What the reader, writer and session of one socket share.

    Created by `open_connection()`; the socket and the registration are owned
    by the writer, which closes both last.
    """

    __slots__ = (
        "disconnect_reason",
        "dropped_frames",
        "handshake_pending",
        "limits",
        "on_closed",
        "outgoing",
        "peer",
        "queued_bytes",
        "reader_done",
        "reader_ref",
        "reading_paused",
        "received_bytes",
        "received_frames",
        "registration",
        "sent_bytes",
        "sent_frames",
        "session_inbox",
        "session_ref",
        "sock",
        "tls",
        "wire",
        "writer_lingering",
        "writer_ref",
    )

    def __init__(  # noqa: PLR0913 - the parts of a connection, named
        self,
        *,
        sock: socket.socket,
        peer: Any,
        wire: WireProtocol[Any],
        limits: Limits,
        on_closed: Callable[[Connection], None] | None,
        tls: TlsChannel | None = None,
    ) -> None:
        self.sock = sock
        #: The connection's TLS, or None for plain TCP.
        self.tls = tls
        #: The peer's address, as `socket.getpeername()` gave it.
        self.peer = peer
        self.wire = wire
        self.limits = limits
        #: Called by the writer once the socket is closed.
        self.on_closed = on_closed
        #: Set by the reader when the session fell behind; cleared by the session.
        self.reading_paused = False
        #: Whether the protocol opens with a handshake the reader must see through.
        self.handshake_pending = False
        #: Why the connection ended, set by the session when it begins to close.
        self.disconnect_reason: DisconnectReason | None = None
        #: Set by the reader once reading ended (the peer answered a close, or hung up).
        self.reader_done = False
        #: Set by the writer before it waits for `reader_done`; the reader then tells it
        #: `ReaderDone` (each side sets its flag before it reads the other's).
        self.writer_lingering = False
        #: Set once the actors exist; the writer tolerates None until then.
        self.registration: Registration | None = None
        # Counters: the reader writes the received ones, the writer the rest.
        self.received_bytes = 0
        self.received_frames = 0
        self.sent_bytes = 0
        self.sent_frames = 0
        self.queued_bytes = 0
        self.dropped_frames = 0
        self.reader_ref: ActorRef[Reader]
        self.writer_ref: ActorRef[Writer]
        #: Frames on their way to the writer, from the session or any actor;
        #: created by the writer.
        self.outgoing: Outgoing
        self.session_ref: ActorRef[Any]
        self.session_inbox: Mailbox

    def __repr__(self) -> str:
        return f"<Connection {format_peer(self.peer)}>"

    def statistics(self) -> ConnectionStatistics:
        """Return a snapshot of the connection's counters; callable from any thread."""
        return ConnectionStatistics(
            received_bytes=self.received_bytes,
            received_frames=self.received_frames,
            sent_bytes=self.sent_bytes,
            sent_frames=self.sent_frames,
            queued_bytes=self.queued_bytes,
            dropped_frames=self.dropped_frames,
        )


def format_peer(peer: Any) -> str:
    """Render a socket address as host:port, for log lines; anything else as str()."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def open_connection(  # noqa: PLR0913 - the parts of a connection, named
    sock: socket.socket,
    session_class: type[Session[Any]],
    wire: WireProtocol[Any],
    limits: Limits,
    *,
    session_args: tuple[Any, ...] = (),
    session_kwargs: dict[str, Any] | None = None,
    on_opened: Callable[[Connection], None] | None = None,
    on_closed: Callable[[Connection], None] | None = None,
    tls: TlsChannel | None = None,
    peer: Any = None,
) -> Connection:
    """Start a reader, a writer and a session for a connected socket.

    The socket is made non-blocking and belongs to the connection from here on:
    it is closed when the connection ends, or at once if starting fails.
    `on_opened` is called before any actor starts and `on_closed` once the
    socket is closed (also when starting fails), so a caller's bookkeeping sees
    every connection open before it closes. With `tls`, the session's hooks
    wait for the TLS handshake, as for a protocol's own handshake. `peer` is
    the address `accept()` returned; without it the socket is asked.

    Returns:
        The wired connection; `connection.session_ref` reaches the session.
    """
    sock.setblocking(False)  # noqa: FBT003 - socket API
    with contextlib.suppress(OSError):  # not TCP (a socketpair, say)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if peer is None:  # accept() gives it; a connected client socket is asked
        try:
            peer = sock.getpeername()
        except OSError:
            peer = "unknown peer"
    # Readers and writers run on the default dispatcher, whose poller watches
    # the socket (their timers live there too); the session runs wherever its
    # class says.
    poller = default_dispatcher().poller
    connection = Connection(
        sock=sock,
        peer=peer,
        wire=wire,
        limits=limits,
        on_closed=on_closed,
        tls=tls,
    )
    # Over TLS the reader hands the session its sender once the handshake is done.
    sender = wire.encoder() if tls is None or tls.established else None
    connection.handshake_pending = sender is None
    if on_opened is not None:
        on_opened(connection)
    try:
        connection.writer_ref = Writer.start(connection)
        connection.session_ref = session_class.start(*session_args, **(session_kwargs or {}))
        connection.session_inbox = cast("Mailbox", connection.session_ref.actor_inbox)
        connection.session_ref.tell(Connected(connection, sender))
        connection.reader_ref = Reader.start(connection)
        registration = poller.register(
            sock.fileno(),
            connection.reader_ref,
            on_readable=READABLE,
            on_writable=WRITABLE,
            write_target=connection.writer_ref,
            start=False,
        )
        # The writer asks for the output edge when a send would block; the
        # edge every new socket raises at once would only cost it a turn.
        registration.writable_armed = False
        connection.registration = registration
        registration.start()
    except BaseException:
        for name in ("reader_ref", "session_ref", "writer_ref"):
            ref = getattr(connection, name, None)
            if ref is not None:
                ref.stop(block=False)
        sock.close()
        if on_closed is not None:
            on_closed(connection)
        raise
    return connection
