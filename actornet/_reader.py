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

Stateful protocols (see `protocols.Receiver`): after each chunk the reader
queues what the protocol itself owes the peer (`data_to_send`: a handshake
response, a pong) on the connection's `Outgoing`, hands a sender made by a
successful handshake to the session (`ProtocolOpened`, told before any event),
then tells the events. Once the protocol is finished (the peer's close) or
rejected the input, its last bytes seal `Outgoing`, so nothing follows them.
A protocol that opens with a handshake must complete it within
`Limits.handshake_timeout` of the connection's start. A protocol that speaks
first (a WebSocket client's upgrade request) has its bytes queued on start.

Error handling: `recv` errors end the connection as `CONNECTION_BROKEN` (the
OSError is kept as the cause); bytes the wire format rejects end it as
`PROTOCOL_ERROR`, after every complete event before them was delivered; EOF ends
it as `PEER_CLOSED`. Each of these is told to the session once, and the reader
reads no more.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import TYPE_CHECKING, Any

from pykka._envelope import Envelope

from actornet._messages import (
    IDLE_CHECK,
    READABLE,
    READER_DONE,
    ConnectionEnded,
    DisconnectReason,
    IdleCheck,
    ProtocolOpened,
    Readable,
    Received,
    ResumeReading,
)
from actornet._runtime._actor import Actor, tell_or_drop
from protocols import Decoder, Opened, RemoteProtocolError

if TYPE_CHECKING:
    import socket

    from actornet._connection import Connection
    from actornet._runtime._poller import Timer

__all__ = ["Reader"]


def _tls_reason(error: ssl.SSLError) -> str:
    """The reason OpenSSL gave, in a few words (such as "WRONG_VERSION_NUMBER")."""
    verify = getattr(error, "verify_message", None)
    return str(verify or error.reason or error)


logger = logging.getLogger("actornet.reader")

# 16 reads of 64 KiB: up to 1 MiB per turn before other actors get a go.
_MAX_RECVS_PER_TURN = 16


class _HandshakeCheck:
    """The handshake deadline passed."""


_HANDSHAKE_CHECK = _HandshakeCheck()


class Reader(Actor):
    """Actor that reads one socket, decodes frames and tells the events to the session."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection
        self._decoder = connection.wire.decoder()
        # A plain Decoder owes the peer nothing and never opens or finishes:
        # its reads skip those questions.
        self._stateful = type(self._decoder) is not Decoder
        self._awaiting_open = connection.handshake_pending
        self._last_input = time.monotonic()
        self._idle_timer: Timer | None = None
        self._handshake_timer: Timer | None = None
        self._done = False
        self._arm()

    def _arm(self) -> None:
        """Arm the idle and handshake timers; send what the protocol says first.

        Done at creation, not in `on_start()`, which would cost every
        connection a turn: the timers' messages wait in the mailbox until the
        actor starts, and the writer, started first, takes the bytes.
        """
        limits = self._connection.limits
        if limits.idle_timeout is not None:
            self._idle_timer = self.tell_later(limits.idle_timeout, IDLE_CHECK)
        if self._awaiting_open and limits.handshake_timeout is not None:
            self._handshake_timer = self.tell_later(limits.handshake_timeout, _HANDSHAKE_CHECK)
        if self._stateful:
            first = self._decoder.data_to_send()
            if first:
                self._connection.outgoing.put(first)

    def on_stop(self) -> None:
        """Cancel the timers."""
        self._cancel_timers()

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
        elif message is _HANDSHAKE_CHECK:
            self._check_handshake()
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
            if not self._take_in_chunk(data):
                return
            if len(data) < receive_size and not (registration and registration.hung_up):
                # A short read drained the socket: the next recv would only
                # raise BlockingIOError, and new input raises a new edge.
                return
        # Input may remain, and no new edge will announce it: come back later.
        self.actor_ref.tell(READABLE)

    def _take_in(self, data: bytes) -> bool:
        """Feed one chunk to the protocol and deliver its events; False once reading ends."""
        try:
            self._decoder.receive_data(data)
        except Exception as exc:  # a protocol's own bug, or code it calls (an HTTP handler)
            self._receiver_failed(exc)
            return False
        return self._deliver() and not self._done

    def _take_in_chunk(self, data: bytes) -> bool:
        """Take one read (b"" at the end of the stream); False once reading ends."""
        if self._connection.tls is not None:
            return self._take_in_tls(data)
        if not self._take_in(data):
            return False
        if not data:
            self._end(DisconnectReason.PEER_CLOSED, None)
            return False
        return True

    def _take_in_tls(self, data: bytes) -> bool:
        """Decrypt one chunk and feed the plaintext to the protocol; False once reading ends."""
        connection = self._connection
        tls = connection.tls
        assert tls is not None
        opening = not tls.established
        try:
            plaintext = tls.receive(data)
        except ssl.SSLError as exc:
            # One line, no traceback: a peer that cannot speak TLS to us is routine.
            logger.info("closing %s: TLS failed: %s", connection, _tls_reason(exc))
            if tls.has_output():
                connection.outgoing.put(b"")  # the alert that says why
            self._end(DisconnectReason.PROTOCOL_ERROR, exc)
            return False
        if tls.has_output():
            connection.outgoing.put(b"")  # the handshake's answer, or the held plaintext
        if opening and tls.established:
            logger.debug("%s: TLS established: %s", connection, tls.info)
            if not self._stateful:
                self._open_without_handshake()
        if plaintext and not self._take_in(plaintext):
            return False
        if data and not tls.closed_by_peer:
            return True
        if not self._take_in(b""):
            return False
        self._end(DisconnectReason.PEER_CLOSED, None)
        return False

    def _open_without_handshake(self) -> None:
        """Over TLS, a protocol without a handshake of its own opens with TLS's."""
        sender = self._connection.wire.encoder()
        if sender is None or not self._awaiting_open:
            return
        self._awaiting_open = False
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        self._tell_session(ProtocolOpened(Opened(sender=sender, details=None)))

    def _recv(self, sock: socket.socket, size: int) -> bytes | None:
        """Return what one recv gives, or None if it would block or the connection broke."""
        try:
            return sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            tls = self._connection.tls
            if tls is not None and not tls.established:
                logger.info("closing %s: TLS handshake cut off: %s", self._connection, exc)
            self._end(DisconnectReason.CONNECTION_BROKEN, exc)
            return None

    def _deliver(self) -> bool:
        """Tell the session every complete event; False once the input is rejected."""
        if self._stateful:
            return self._deliver_stateful()
        while True:
            try:
                events = self._decoder.events()
            except RemoteProtocolError as exc:
                self._reject(exc)
                return False
            if not events:
                return True
            self._connection.received_frames += len(events)
            self._tell_session(Received(events))

    def _deliver_stateful(self) -> bool:
        decoder = self._decoder
        error: RemoteProtocolError | None = None
        events: list[Any] = []
        try:
            while batch := decoder.events():
                events += batch
        except RemoteProtocolError as exc:
            error = exc
        reply = decoder.data_to_send()
        finished = decoder.finished
        outgoing = self._connection.outgoing
        if error is not None or finished:
            outgoing.seal(reply)
        elif reply:
            outgoing.put(reply)
        if self._awaiting_open:
            self._hand_over_sender()
        if events:
            self._connection.received_frames += len(events)
            self._tell_session(Received(events))
        if error is not None:
            self._reject(error)
            return False
        if finished:
            logger.debug("%s: the peer ended the conversation", self._connection)
            self._end(DisconnectReason.PEER_CLOSED, None)
            return False
        return True

    def _hand_over_sender(self) -> None:
        """Give the session the sender a completed handshake made, before any event."""
        opened = self._decoder.opened()
        if opened is None:
            return
        self._awaiting_open = False
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        self._tell_session(ProtocolOpened(opened))

    def _reject(self, error: RemoteProtocolError) -> None:
        debug = logger.isEnabledFor(logging.DEBUG)
        logger.info("closing %s: %s", self._connection, error, exc_info=debug)
        self._end(DisconnectReason.PROTOCOL_ERROR, error)

    def _receiver_failed(self, error: Exception) -> None:
        """End the connection after the protocol itself raised: a bug on this side."""
        logger.error("closing %s: its protocol's receiver raised", self._connection, exc_info=error)
        try:
            last = self._decoder.data_to_send()  # such as an HTTP 500 the protocol queued
        except Exception:
            last = b""
        self._connection.outgoing.seal(last)
        self._end(DisconnectReason.SESSION_FAILED, error)

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

    def _check_handshake(self) -> None:
        self._handshake_timer = None
        if self._done or not self._awaiting_open:
            return
        logger.info(
            "closing %s: no handshake within Limits.handshake_timeout=%g s",
            self._connection,
            self._connection.limits.handshake_timeout,
        )
        self._end(DisconnectReason.IDLE_TIMEOUT, None)

    def _cancel_timers(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None

    def _end(self, reason: DisconnectReason, error: BaseException | None) -> None:
        self._done = True
        self._cancel_timers()
        self._tell_session(ConnectionEnded(reason, error))
        # A writer waiting for the peer's answer to a closing handshake waits no
        # more. Only one that waits is told: the flag, set first, tells the rest.
        connection = self._connection
        connection.reader_done = True
        if connection.writer_lingering:
            tell_or_drop(connection.writer_ref, READER_DONE)

    def _tell_session(self, message: object) -> None:
        connection = self._connection
        if connection.session_ref.actor_stopped.is_set():
            self._done = True
            return
        # A plain put, not put_and_run(): the session runs user code that may
        # block, and the reader must stay free to read ahead (up to
        # read_high_water) meanwhile. The hand-off slot runs it next anyway.
        connection.session_inbox.put(Envelope(message))
