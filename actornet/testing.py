"""Test kit: a blocking client for real sockets, and a harness that drives a Session without one.

`BlockingClient` speaks a wire format over a plain blocking socket, for tests
that talk to a server on 127.0.0.1. `SessionHarness` runs a `Session` subclass
with no socket at all: the test plays the peer, feeding events in and reading
what the session sent.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from actornet._connection import Connection
from actornet._exceptions import BrokenConnectionError, ClosedConnectionError
from actornet._limits import Limits
from actornet._messages import (
    WRITER_CLOSED,
    Close,
    Connected,
    ConnectionEnded,
    DisconnectReason,
    FlushOutgoing,
    Received,
    Send,
)
from actornet._outgoing import Outgoing
from actornet._runtime._actor import Actor

if TYPE_CHECKING:
    from types import TracebackType

    from pykka import ActorRef

    from actornet._session import Session
    from protocols import Wire

__all__ = ["BlockingClient", "SessionHarness"]

EventT = TypeVar("EventT")

#: Seconds a test waits for one event before failing.
DEFAULT_TIMEOUT = 5.0


class BlockingClient(Generic[EventT]):
    """Blocking client for tests: connect, send events, receive events.

    Resource handling: owns one socket, closed by `close()` or the `with` block.
    """

    def __init__(
        self, host: str, port: int, wire: Wire[EventT], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.wire = wire
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._decoder = wire.decoder()
        self._encoder = wire.encoder()
        self._pending: list[EventT] = []
        self._eof = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, event: EventT) -> None:
        """Encode and send one event."""
        self.send_bytes(self._encoder.send(event))

    def send_bytes(self, data: bytes) -> None:
        """Send raw bytes, well-formed or not."""
        self.sock.sendall(data)

    def receive(self, timeout: float | None = None) -> EventT:
        """Return the next event from the server.

        Raises:
            TimeoutError: if none arrived within `timeout` (default: the client's).
            ClosedConnectionError: if the server closed the connection first.
            BrokenConnectionError: if the connection was reset.
        """
        while not self._pending:
            if self._eof:
                raise ClosedConnectionError("the server closed the connection")
            self._fill(self.timeout if timeout is None else timeout)
        return self._pending.pop(0)

    def receive_until_closed(self, timeout: float | None = None) -> list[EventT]:
        """Return every event until the server closes the connection."""
        events: list[EventT] = []
        while True:
            try:
                events.append(self.receive(timeout))
            except ClosedConnectionError:
                return events

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def _fill(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            raise TimeoutError(f"no event from the server within {timeout} s") from None
        except ConnectionResetError as exc:
            raise BrokenConnectionError("the server reset the connection") from exc
        if not data:
            self._eof = True
        self._decoder.receive_data(data)
        self._pending.extend(self._decoder.events())


class _RecordingWriter(Actor):
    """Stands in for a writer: decodes what the session sends into a queue."""

    def __init__(
        self,
        connection: Connection,
        sent: queue.Queue[Any],
        closed: threading.Event,
    ) -> None:
        super().__init__()
        self._outgoing = connection.outgoing = Outgoing(self.actor_ref)
        self._decoder = connection.wire.decoder()
        self._sent = sent
        self._closed = closed
        self.session_ref: ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, FlushOutgoing):
            for frame in self._outgoing.take():
                self._record(frame)
        elif isinstance(message, Send):
            self._record(message.data)
        elif isinstance(message, Close):
            self._closed.set()
            if self.session_ref is not None:
                with contextlib.suppress(Exception):
                    self.session_ref.tell(WRITER_CLOSED)
            self.stop()

    def _record(self, frame: bytes) -> None:
        self._decoder.receive_data(frame)
        for event in self._decoder.events():
            self._sent.put(event)


class _IdleReader(Actor):
    """Stands in for a reader: the harness feeds events itself."""


class SessionHarness(Generic[EventT]):
    """Run a `Session` subclass with no socket; the test plays the peer.

    Example::

        harness = SessionHarness(EchoSession, WIRE)
        harness.feed(b"hi")
        assert harness.next_sent() == b"hi"
        harness.end(DisconnectReason.PEER_CLOSED)
        assert harness.wait_closed()
    """

    def __init__(  # noqa: PLR0913 - mirrors serve_tcp()
        self,
        session_class: type[Session[EventT]],
        wire: Wire[EventT],
        *,
        limits: Limits | None = None,
        session_args: tuple[Any, ...] = (),
        session_kwargs: dict[str, Any] | None = None,
        peer: Any = ("127.0.0.1", 0),
    ) -> None:
        self._sent: queue.Queue[EventT] = queue.Queue()
        self._closed = threading.Event()
        connection = Connection(
            sock=socket.socket(),  # never connected: stands in for the peer's socket
            peer=peer,
            wire=wire,
            limits=limits or Limits(idle_timeout=None),
            on_closed=None,
        )
        connection.sock.close()
        writer = _RecordingWriter.start(connection, self._sent, self._closed)
        connection.writer_ref = writer  # type: ignore[assignment]
        connection.reader_ref = _IdleReader.start()  # type: ignore[assignment]
        session_ref = session_class.start(*session_args, **(session_kwargs or {}))
        connection.session_ref = session_ref
        writer.proxy().session_ref = session_ref
        self.connection = connection
        #: The session under test.
        self.session_ref: ActorRef[Session[EventT]] = session_ref
        session_ref.tell(Connected(connection, wire.encoder()))

    def feed(self, *events: EventT) -> None:
        """Deliver events to the session as if the peer had sent them in one read."""
        self.session_ref.tell(Received(list(events)))

    def next_sent(self, timeout: float = DEFAULT_TIMEOUT) -> EventT:
        """Return the next event the session sent.

        Raises:
            TimeoutError: if it sent nothing within `timeout` seconds.
        """
        try:
            return self._sent.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the session sent nothing within {timeout} s") from None

    def end(self, reason: DisconnectReason = DisconnectReason.PEER_CLOSED) -> None:
        """End the connection as the reader or writer would, for `reason`."""
        self.session_ref.tell(ConnectionEnded(reason))

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> bool:
        """Wait until the session closed the connection; return whether it did."""
        return self._closed.wait(timeout)
