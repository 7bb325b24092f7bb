"""Server: listen, accept, and shut down gracefully; `serve_tcp()` starts one."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from ssl import OP_NO_RENEGOTIATION, SSLContext
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from pykka import ActorDeadError

from actornet._acceptor import Acceptor
from actornet._connection import Connection, format_peer
from actornet._limits import Limits, default_max_connections
from actornet._messages import SHUTDOWN, Close
from actornet._runtime._actor import tell_or_drop
from actornet._statistics import ServerStatistics
from actornet._tls import remember_server_name

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType, TracebackType

    from pykka import ActorRef

    from actornet._session import Session
    from protocols import WireProtocol

__all__ = ["DEFAULT_BACKLOG", "Server", "serve_tcp"]

logger = logging.getLogger("actornet.server")

EventT = TypeVar("EventT")

#: Pending connections the kernel queues before accept(); Linux caps it at
#: net.core.somaxconn (4,096 here).
DEFAULT_BACKLOG = 4096

# Seconds beyond Limits.close_timeout that shutdown() waits for writers that
# hit their own deadline to report back.
_SHUTDOWN_GRACE = 1.0


class Server(Generic[EventT]):
    """A listening socket whose connections each get a reader, a writer and a session.

    Created by `serve_tcp()`, already accepting.

    Resource handling: the server owns its listening socket and every accepted
    connection. `shutdown()` (or leaving a `with` block) closes the listener,
    tells every session `on_disconnect(DisconnectReason.SHUTDOWN)`, gives the
    writers `Limits.close_timeout` seconds to flush, and closes what is left.

    Error handling: a connection's failure (a reset, bad input, a session that
    raises) closes that connection only, with a log line; the server keeps
    accepting. Connections beyond `Limits.max_connections` are accepted and
    closed at once, with a rate-limited log line.
    """

    def __init__(  # noqa: PLR0913 - the parts of a server, named
        self,
        listener: socket.socket,
        *,
        session_class: type[Session[EventT]],
        wire: WireProtocol[EventT],
        limits: Limits,
        session_args: tuple[Any, ...],
        session_kwargs: dict[str, Any],
        ssl: SSLContext | None = None,
    ) -> None:
        self.session_class = session_class
        self.wire = wire
        self.limits = limits
        self.session_args = session_args
        self.session_kwargs = session_kwargs
        #: The server-side TLS context, or None for plain TCP.
        self.ssl = ssl
        #: The address the server listens on: (host, port).
        self.address: tuple[str, int] = listener.getsockname()[:2]
        self._connections: dict[int, Connection] = {}
        self._lock = threading.Lock()
        self._all_closed = threading.Event()
        self._all_closed.set()
        self._shutdown_requested = threading.Event()
        self._stopped = threading.Event()
        self._shutting_down = False
        self._accepted = 0
        self._refused = 0
        self._closed = 0
        # Bytes of connections that have ended; open ones are summed on demand.
        self._closed_received_bytes = 0
        self._closed_sent_bytes = 0
        self._closed_received_frames = 0
        self._closed_sent_frames = 0
        self._disconnects: dict[str, int] = {}
        self._acceptor_ref: ActorRef[Acceptor] = Acceptor.start(self, listener)

    def __repr__(self) -> str:
        return f"<Server on {format_peer(self.address)}, {self.connection_count()} connections>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.address[1]

    def connection_count(self) -> int:
        """Return how many connections are open."""
        return len(self._connections)

    def statistics(self) -> ServerStatistics:
        """Return a snapshot of the server's connection and byte counters."""
        with self._lock:
            open_connections = list(self._connections.values())
            return ServerStatistics(
                open_connections=len(open_connections),
                accepted=self._accepted,
                refused=self._refused,
                closed=self._closed,
                received_bytes=self._closed_received_bytes
                + sum(c.received_bytes for c in open_connections),
                sent_bytes=self._closed_sent_bytes + sum(c.sent_bytes for c in open_connections),
                received_frames=self._closed_received_frames
                + sum(c.received_frames for c in open_connections),
                sent_frames=self._closed_sent_frames
                + sum(c.sent_frames for c in open_connections),
                disconnects=MappingProxyType(dict(self._disconnects)),
            )

    def session_refs(self) -> list[ActorRef[Session[EventT]]]:
        """Return refs to the sessions of every open connection."""
        with self._lock:
            return [connection.session_ref for connection in self._connections.values()]

    def serve_forever(
        self, *, handle_signals: bool = True, on_ready: Callable[[], None] | None = None
    ) -> None:
        """Block until the server is shut down.

        With `handle_signals` (and when called from the main thread), SIGINT and
        SIGTERM start a graceful `shutdown()`, after which this returns.

        Args:
            handle_signals: install the SIGINT and SIGTERM handlers.
            on_ready: called once the handlers are in place, for example to
                print the line a supervisor waits for: a signal sent after it
                is always a graceful shutdown.
        """
        previous: dict[signal.Signals, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():

            def request_shutdown(received: int, _frame: FrameType | None) -> None:
                logger.info("received %s; shutting down", signal.Signals(received).name)
                self._shutdown_requested.set()

            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, request_shutdown)
        try:
            if on_ready is not None:
                on_ready()
            # A timed wait, so the main thread gets to run signal handlers.
            while not self._shutdown_requested.wait(0.5):
                pass
            self.shutdown()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop accepting, close every connection gracefully, and wait for it.

        Args:
            timeout: seconds to wait for connections to close; by default
                `Limits.close_timeout` plus a second. Connections still open
                then are aborted.
        """
        with self._lock:
            first = not self._shutting_down
            self._shutting_down = True
        if not first:
            self._stopped.wait(timeout)
            return
        self._shutdown_requested.set()
        if timeout is None:
            timeout = self.limits.close_timeout + _SHUTDOWN_GRACE
        with contextlib.suppress(ActorDeadError):
            self._acceptor_ref.stop(timeout=timeout)
        connections = self._snapshot()
        logger.info("shutting down: closing %d connection(s)", len(connections))
        for connection in connections:
            if not tell_or_drop(connection.session_ref, SHUTDOWN):
                tell_or_drop(connection.writer_ref, Close(abort=False))
        if not self._all_closed.wait(timeout):
            left = self._snapshot()
            logger.warning(
                "%d connection(s) did not close within %.1f s; aborting them", len(left), timeout
            )
            for connection in left:
                if not tell_or_drop(connection.writer_ref, Close(abort=True)):
                    self._connection_closed(connection)
        self._stopped.set()

    def _snapshot(self) -> list[Connection]:
        with self._lock:
            return list(self._connections.values())

    def _connection_opened(self, connection: Connection) -> None:
        with self._lock:
            self._connections[id(connection)] = connection
            self._accepted += 1
            self._all_closed.clear()

    def _connection_refused(self) -> None:
        with self._lock:
            self._refused += 1

    def _connection_closed(self, connection: Connection) -> None:
        with self._lock:
            if self._connections.pop(id(connection), None) is not None:
                self._closed += 1
                self._closed_received_bytes += connection.received_bytes
                self._closed_sent_bytes += connection.sent_bytes
                self._closed_received_frames += connection.received_frames
                self._closed_sent_frames += connection.sent_frames
                reason = connection.disconnect_reason
                why = reason.name.lower() if reason is not None else "unknown"
                self._disconnects[why] = self._disconnects.get(why, 0) + 1
            if not self._connections:
                self._all_closed.set()


def serve_tcp(  # noqa: PLR0913 - every argument is a documented knob
    session_class: type[Session[EventT]],
    wire: WireProtocol[EventT],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: Limits | None = None,
    session_args: tuple[Any, ...] = (),
    session_kwargs: dict[str, Any] | None = None,
    backlog: int = DEFAULT_BACKLOG,
    ssl: SSLContext | None = None,
    reuse_port: bool = False,
) -> Server[EventT]:
    """Listen on host:port and serve each connection with a new `session_class` actor.

    Returns at once; the server runs on actornet's worker threads. Call
    `Server.serve_forever()` to block until SIGINT/SIGTERM, or use the server as
    a context manager.

    Args:
        session_class: the `Session` subclass started per connection, as
            `session_class.start(*session_args, **session_kwargs)`.
        wire: the wire format, for example
            `protocols.Wire(protocols.LengthPrefixed(), protocols.RawCodec())`.
        host: address to bind; the loopback default keeps a new server private.
        port: port to bind; 0 picks a free one (see `Server.port`).
        limits: the bounds every connection runs under; `Limits()` by default.
        session_args: positional arguments for each session's constructor.
        session_kwargs: keyword arguments for each session's constructor.
        backlog: pending connections the kernel may queue.
        ssl: a server-side context (`ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)`
            with `load_cert_chain()`) to speak TLS on every connection. The session's hooks
            run once the handshake is done, within `Limits.handshake_timeout`; `conn_tls`
            says what it established. Renegotiation is refused (the context gains
            `OP_NO_RENEGOTIATION`), and the context records each client's SNI name.
        reuse_port: set `SO_REUSEPORT`, so that several processes (or servers) can
            listen on the same host:port and the kernel spreads new connections
            among them. Every listener on the port must set it, as the same user.

    Raises:
        OSError: if the address cannot be bound (in use, not permitted).
    """
    limits = limits or Limits()
    if ssl is not None:
        ssl.options |= OP_NO_RENEGOTIATION
        remember_server_name(ssl)
    allowed = default_max_connections()
    if limits.max_connections > allowed:
        logger.warning(
            "Limits.max_connections=%d is more than the open-file limit leaves for "
            "connections (%d): accepts beyond that fail; raise `ulimit -n` or lower "
            "max_connections",
            limits.max_connections,
            allowed,
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind((host, port))
        listener.listen(backlog)
        listener.setblocking(False)  # noqa: FBT003 - socket API
    except BaseException:
        listener.close()
        raise
    server = Server(
        listener,
        session_class=session_class,
        wire=wire,
        limits=limits,
        session_args=session_args,
        session_kwargs=session_kwargs or {},
        ssl=ssl,
    )
    logger.info("listening on %s%s", format_peer(server.address), " (TLS)" if ssl else "")
    return server
