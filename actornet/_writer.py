"""Writer: encoded frames -> bounded queue -> socket, coalesced.

Theory of operation
-------------------
Senders encode (so an encoding error surfaces in the code that sent the frame;
a broadcast is encoded once and the same bytes object goes to every member) and
append the bytes to the connection's `Outgoing` list, which tells the writer
`FLUSH_OUTGOING` once per batch (see `_outgoing.py`). The writer moves every
waiting frame to its send queue and flushes with one `sendmsg` over up to
`_IOV_MAX` queued buffers, so frames that pile up together leave together.
`Send` messages (bytes told to the writer's ref) join the same queue; the writer
flushes them when its mailbox is empty or `_FLUSH_BYTES` are queued.

When the kernel's send buffer is full (`BlockingIOError`), the writer re-arms the
poller's output edge, tries once more (the buffer may have drained between the
two), and then waits for `Writable`.

Backpressure: the queue is bounded by `Limits.write_queue_bytes`. A `Send` that
would exceed it applies `Limits.on_slow_consumer`: `"disconnect"` drops the
queue and reports `SLOW_CONSUMER` to the session; `"drop"` discards that frame.

Resource handling: the writer owns the socket and its poller registration and
closes both, once: after `Close` and a flush (bounded by
`Limits.close_timeout`), at once on `Close(abort=True)`, or when the session is
gone. After `Close(linger=True)` (this side began a closing handshake, as a
WebSocket close) it keeps the socket open once flushed until the reader reports
`ReaderDone` (the peer answered, or hung up), within the same deadline: closing
at once would answer the peer's close with a reset, which can destroy our close
frame before the peer reads it. It then tells the session `WriterClosed`, stops
the reader, calls the connection's `on_closed` callback and stops.

Error handling: send errors (reset, broken pipe) drop the queue and report
`CONNECTION_BROKEN` with the OSError; the socket stays open until the session
answers with `Close`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
from typing import TYPE_CHECKING, Any

from actornet._messages import (
    CLOSE_DEADLINE,
    WRITER_CLOSED,
    Close,
    CloseDeadline,
    ConnectionEnded,
    DisconnectReason,
    FlushOutgoing,
    ReaderDone,
    Send,
    Writable,
)
from actornet._outgoing import Outgoing
from actornet._runtime._actor import Actor, stop_nowait, tell_or_drop

if TYPE_CHECKING:
    from actornet._connection import Connection
    from actornet._runtime._poller import Timer
    from actornet._tls import TlsChannel

__all__ = ["Writer"]

logger = logging.getLogger("actornet.writer")

# Linux's limit on buffers per sendmsg (UIO_MAXIOV).
_IOV_MAX = 1024

# SO_LINGER on with a zero timeout: close() resets and frees the send buffer.
_LINGER_RESET = struct.pack("ii", 1, 0)

# Flush once this much is queued even if more Sends are waiting: a typical
# socket send buffer, so one system call moves as much as the kernel takes.
_FLUSH_BYTES = 64 * 1024


class Writer(Actor):
    """Actor that owns one socket's sending side, its queue and its closing."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self._connection = connection
        connection.outgoing = Outgoing(self.actor_ref)
        self._sock = connection.sock
        # A list, not a deque: an empty deque costs 760 bytes, a list 56, and
        # most connections are idle. Sent buffers leave by prefix deletion.
        self._queue: list[bytes | memoryview] = []
        self._waiting_writable = False
        self._closing = False
        self._lingering = False
        self._closed = False
        self._failed = False
        self._deadline: Timer | None = None

    def _handle_receive(self, message: Any) -> Any:
        # Frames waiting in Outgoing were put before this message was told:
        # they go first, whatever the message.
        # A FlushOutgoing always takes, even when nothing waits: taking is
        # what clears the notification (see _outgoing.py).
        outgoing = self._connection.outgoing
        notified = type(message) is FlushOutgoing
        if notified or len(outgoing):
            frames = outgoing.take()
            if self._connection.tls is not None:
                frames = self._encrypt(frames)
            if frames:
                self._queue_frames(frames)
                if not self._waiting_writable and type(message) is not Close:
                    self._flush()
            if notified:
                return None
        return super()._handle_receive(message)

    def on_receive(self, message: Any) -> Any:
        """Queue, flush and close as the messages say."""
        if isinstance(message, Send):
            self._queue_frame(message.data, flush=self.actor_inbox.empty())
        elif isinstance(message, Writable):
            self._waiting_writable = False
            self._flush()
        elif isinstance(message, Close):
            self._begin_close(abort=message.abort, linger=message.linger)
        elif isinstance(message, ReaderDone):
            if self._lingering and not self._queue:
                self._close_socket()
        elif isinstance(message, CloseDeadline):
            if self._closed:
                pass
            elif self._lingering and not self._queue:
                logger.debug(
                    "closing %s: the peer did not answer the close within %.1f s",
                    self._connection,
                    self._connection.limits.close_timeout,
                )
                self._close_socket()
            else:
                logger.info(
                    "closing %s with %d bytes unsent after %.1f s",
                    self._connection,
                    self._connection.queued_bytes,
                    self._connection.limits.close_timeout,
                )
                self._close_socket(reset=True)
        else:
            return super().on_receive(message)
        return None

    def on_stop(self) -> None:
        """Close the socket if nobody did."""
        self._close_socket(reset=True)

    def on_failure(self, *_exc_info: object) -> None:
        """Close the socket; the failure itself is logged by the runtime."""
        self._close_socket(reset=True)

    def _encrypt(self, frames: list[bytes]) -> list[bytes]:
        """Turn plaintext frames into the TLS records to send (none while the handshake runs)."""
        tls = self._connection.tls
        assert tls is not None
        if self._closed or self._failed:
            return frames  # counted as dropped by _queue_frame
        try:
            records = tls.encrypt(frames)
        except ssl.SSLError as exc:
            self._fail(DisconnectReason.CONNECTION_BROKEN, exc)
            return []
        return [records] if records else []

    def _queue_frames(self, frames: list[bytes]) -> None:
        """Queue what `Outgoing` held, all at once when it fits under the limit."""
        connection = self._connection
        size = sum(map(len, frames))
        queued = connection.queued_bytes
        if (
            self._closed
            or self._failed
            or (queued and queued + size > connection.limits.write_queue_bytes)
            or (not queued and len(frames) > 1 and size > connection.limits.write_queue_bytes)
        ):
            for frame in frames:  # one by one: the limit decides frame by frame
                self._queue_frame(frame, flush=False)
            return
        self._queue += frames
        connection.sent_frames += len(frames)
        connection.queued_bytes = queued + size

    def _queue_frame(self, data: bytes, *, flush: bool) -> None:
        connection = self._connection
        if self._closed or self._failed:
            connection.dropped_frames += 1
            return
        limits = connection.limits
        queued = connection.queued_bytes
        # An empty queue takes any frame, so one frame larger than the limit
        # is still delivered; the bound is on what piles up behind it.
        if queued and queued + len(data) > limits.write_queue_bytes:
            if limits.on_slow_consumer == "drop":
                connection.dropped_frames += 1
                return
            logger.warning(
                "disconnecting slow consumer %s: %d bytes queued, %d more would exceed "
                "Limits.write_queue_bytes=%d",
                connection,
                queued,
                len(data),
                limits.write_queue_bytes,
            )
            self._fail(DisconnectReason.SLOW_CONSUMER, None)
            return
        self._queue.append(data)
        connection.sent_frames += 1
        queued += len(data)
        connection.queued_bytes = queued
        if not self._waiting_writable and (flush or queued >= _FLUSH_BYTES):
            self._flush()

    def _flush(self) -> None:
        if self._closed or self._failed:
            return
        queue = self._queue
        rearmed = False
        while queue:
            try:
                if len(queue) == 1:
                    sent = self._sock.send(queue[0])
                else:
                    sent = self._sock.sendmsg(queue[:_IOV_MAX])
            except BlockingIOError:
                registration = self._connection.registration
                if rearmed or registration is None:
                    self._waiting_writable = True
                    return
                registration.arm_writable()
                rearmed = True
                continue
            except InterruptedError:
                continue
            except OSError as exc:
                self._fail(DisconnectReason.CONNECTION_BROKEN, exc)
                return
            self._consume(sent)
        if self._closing:
            self._close_when_done()

    def _consume(self, sent: int) -> None:
        connection = self._connection
        connection.sent_bytes += sent
        queue = self._queue
        if sent == connection.queued_bytes:  # all of it, the usual case
            connection.queued_bytes = 0
            queue.clear()
            return
        connection.queued_bytes -= sent
        done = 0
        while sent:
            head = queue[done]
            if sent >= len(head):
                sent -= len(head)
                done += 1
            else:
                queue[done] = memoryview(head)[sent:]
                sent = 0
        if done == len(queue):
            queue.clear()
        elif done:
            del queue[:done]

    def _fail(self, reason: DisconnectReason, error: OSError | None) -> None:
        self._failed = True
        self._connection.dropped_frames += len(self._queue)
        self._queue.clear()
        self._connection.queued_bytes = 0
        if self._closing:
            # The session already asked to close: nothing is left to flush.
            self._close_socket(reset=True)
            return
        if not tell_or_drop(self._connection.session_ref, ConnectionEnded(reason, error)):
            self._close_socket(reset=True)

    def _begin_close(self, *, abort: bool, linger: bool) -> None:
        if self._closed:
            return
        self._closing = True
        if abort or self._failed:
            self._close_socket(reset=True)
            return
        if linger:
            # Flag first, then look: the reader sets its flag before it looks at
            # ours, so either we see it done or it sees us waiting and tells us.
            self._connection.writer_lingering = True
        self._lingering = linger and not self._connection.reader_done
        tls = self._connection.tls
        if tls is not None:
            self._queue_close_notify(tls)
        if not self._queue and not self._lingering:
            self._close_socket()
            return
        if self._deadline is None:
            self._deadline = self.tell_later(self._connection.limits.close_timeout, CLOSE_DEADLINE)
        self._flush()

    def _queue_close_notify(self, tls: TlsChannel) -> None:
        """Queue TLS's close_notify (after any plaintext still held) to go before the FIN."""
        try:
            records = tls.close()
        except ssl.SSLError:
            return  # TLS already failed: the socket closes without it
        if records:
            self._queue.append(records)
            self._connection.queued_bytes += len(records)

    def _close_when_done(self) -> None:
        """Close a flushed closing socket, unless it waits for the peer's answer."""
        if not self._lingering or self._connection.reader_done:
            self._close_socket()

    def _close_socket(self, *, reset: bool = False) -> None:
        """Close once; `reset` discards what the kernel still holds for the peer.

        A graceful close lets the kernel deliver its send buffer (up to a few
        MiB on loopback) after close() returns; for a peer being dropped as
        slow or broken that would keep the memory tied up for as long as the
        peer cares to read, so the connection is reset instead.
        """
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        connection.outgoing.closed = True
        if self._deadline is not None:
            self._deadline.cancel()
        if connection.registration is not None:
            connection.registration.close()
        with contextlib.suppress(OSError):  # already reset, or never connected
            if reset:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            else:
                self._sock.shutdown(socket.SHUT_WR)
        self._sock.close()
        self._queue.clear()
        self._connection.queued_bytes = 0
        tell_or_drop(connection.session_ref, WRITER_CLOSED)
        reader_ref = getattr(connection, "reader_ref", None)  # None if starting failed
        if reader_ref is not None:
            stop_nowait(reader_ref)
        if connection.on_closed is not None:
            try:
                connection.on_closed(connection)
            except Exception:
                logger.exception("on_closed callback failed for %s", connection)
        if self.actor_ref.is_alive():
            # At once, not after the messages queued behind this one: a closed
            # writer would only drop what they ask it to send.
            self._stop()
