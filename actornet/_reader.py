"""Reader: socket -> Decoder -> events -> session.

Theory of operation
-------------------
The poller tells the reader `Readable` on an input edge. The reader re-arms the
edge first, then calls `recv` until the socket is drained (a short read, or one
that would block; see `Poller` for the hang-up case), feeding each chunk
to its Decoder and telling the session every complete event of that chunk in
one `Received` message (one mailbox hand-off per read, not per frame).

Backpressure: before each `recv` the reader looks at the session's mailbox. At
`Limits.read_high_water` waiting batches it stops reading and sets the
connection's `reading_paused` flag; the kernel's receive buffer fills and TCP
slows the peer down. The session clears the flag and tells `ResumeReading` once
its mailbox is down to `Limits.read_low_water`. To close the race where the
session drains its mailbox between the reader's look and the flag, the reader
looks once more after setting the flag.

Fairness: at most `_MAX_RECVS_PER_TURN` reads per message; if input remains the
reader tells itself `Readable` and lets other actors run first.

Idle timeout: one poller timer per connection, re-armed for the remaining time
whenever it fires early, so input costs a timestamp, not a timer.

Error handling: `recv` errors end the connection as `CONNECTION_BROKEN` (the
OSError is kept as the cause); bytes the wire format rejects end it as
`PROTOCOL_ERROR`, after every complete event before them was delivered; EOF ends
it as `PEER_CLOSED`. Each of these is told to the session once, and the reader
reads no more.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pykka._envelope import Envelope

from actornet._messages import (
    IDLE_CHECK,
    READABLE,
    ConnectionEnded,
    DisconnectReason,
    IdleCheck,
    Readable,
    Received,
    ResumeReading,
)
from actornet._runtime._actor import Actor
from protocols import RemoteProtocolError

if TYPE_CHECKING:
    import socket

    from actornet._connection import Connection
    from actornet._runtime._poller import Timer

__all__ = ["Reader"]

logger = logging.getLogger("actornet.reader")

# 16 reads of 64 KiB: up to 1 MiB per turn before other actors get a go.
_MAX_RECVS_PER_TURN = 16


class Reader(Actor):
    """Actor that reads one socket, decodes frames and tells the events to the session."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection
        self._decoder = connection.wire.decoder()
        self._last_input = time.monotonic()
        self._idle_timer: Timer | None = None
        self._done = False

    def on_start(self) -> None:
        """Arm the idle timer."""
        timeout = self._connection.limits.idle_timeout
        if timeout is not None:
            self._idle_timer = self.tell_later(timeout, IDLE_CHECK)

    def on_stop(self) -> None:
        """Cancel the idle timer."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()

    def _handle_receive(self, message: Any) -> Any:
        # Readiness first: it is nearly every message a reader gets.
        if message is READABLE:
            registration = self._connection.registration
            if registration is not None:
                registration.arm_readable()
            self._read()
            return None
        return super()._handle_receive(message)

    def on_receive(self, message: Any) -> None:
        """Handle readiness, resume and idle-check messages."""
        if isinstance(message, Readable):
            registration = self._connection.registration
            if registration is not None:
                registration.arm_readable()
            self._read()
        elif isinstance(message, ResumeReading):
            self._read()
        elif isinstance(message, IdleCheck):
            self._check_idle()
        else:
            logger.warning("%s ignored an unexpected message: %r", self, message)

    def _read(self) -> None:
        connection = self._connection
        if self._done or connection.reading_paused:
            return
        sock = connection.sock
        registration = connection.registration
        session_inbox = connection.session_inbox
        high_water = connection.limits.read_high_water
        receive_size = connection.limits.receive_size
        for _ in range(_MAX_RECVS_PER_TURN):
            if len(session_inbox) >= high_water and self._pause():
                return
            data = self._recv(sock, receive_size)
            if data is None:
                return
            if data:
                self._last_input = time.monotonic()
                connection.received_bytes += len(data)
            self._decoder.receive_data(data)
            if not self._deliver() or self._done:
                return
            if not data:
                self._end(DisconnectReason.PEER_CLOSED, None)
                return
            if len(data) < receive_size and not (registration and registration.hung_up):
                # A short read drained the socket: the next recv would only
                # raise BlockingIOError, and new input raises a new edge.
                return
        # Input may remain, and no new edge will announce it: come back later.
        self.actor_ref.tell(READABLE)

    def _recv(self, sock: socket.socket, size: int) -> bytes | None:
        """Return what one recv gives, or None if it would block or the connection broke."""
        try:
            return sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            self._end(DisconnectReason.CONNECTION_BROKEN, exc)
            return None

    def _deliver(self) -> bool:
        """Tell the session every complete event; False once the input is rejected."""
        while True:
            try:
                events = self._decoder.events()
            except RemoteProtocolError as exc:
                debug = logger.isEnabledFor(logging.DEBUG)
                logger.info("closing %s: %s", self._connection, exc, exc_info=debug)
                self._end(DisconnectReason.PROTOCOL_ERROR, exc)
                return False
            if not events:
                return True
            self._connection.received_frames += len(events)
            self._tell_session(Received(events))

    def _pause(self) -> bool:
        """Stop reading until the session catches up; False if it already has."""
        connection = self._connection
        connection.reading_paused = True
        if len(connection.session_inbox) > connection.limits.read_low_water:
            return True
        connection.reading_paused = False
        return False

    def _check_idle(self) -> None:
        self._idle_timer = None
        timeout = self._connection.limits.idle_timeout
        if self._done or timeout is None:
            return
        silent_for = time.monotonic() - self._last_input
        if silent_for >= timeout and not self._connection.reading_paused:
            logger.debug("closing %s: no input for %.1f s", self._connection, silent_for)
            self._end(DisconnectReason.IDLE_TIMEOUT, None)
            return
        remaining = timeout if self._connection.reading_paused else timeout - silent_for
        self._idle_timer = self.tell_later(remaining, IDLE_CHECK)

    def _end(self, reason: DisconnectReason, error: BaseException | None) -> None:
        self._done = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._tell_session(ConnectionEnded(reason, error))

    def _tell_session(self, message: object) -> None:
        connection = self._connection
        if connection.session_ref.actor_stopped.is_set():
            self._done = True
            return
        # A plain put, not put_and_run(): the session runs user code that may
        # block, and the reader must stay free to read ahead (up to
        # read_high_water) meanwhile. The hand-off slot runs it next anyway.
        connection.session_inbox.put(Envelope(message))
