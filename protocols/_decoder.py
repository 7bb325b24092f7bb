"""Decoder: bytes from one peer in, complete messages out.

Theory of operation: `receive_data` appends the chunk to one `bytearray` and at once cuts off every
complete frame (the framing checks each frame's size before its body is buffered) and decodes it;
when nothing partial is buffered, frames are cut straight out of the chunk and only its incomplete
tail is copied.
So the buffer never holds more than one partial frame plus the chunk being processed, a growing
frame is never parsed again (the framing's scan resumes where it stopped), and the consumed prefix
is dropped once per chunk. Decoded messages wait in a list until `events()` takes them. The first
error stops decoding for good: it is raised by `events()` after the messages decoded before it,
so nothing valid is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, final

from protocols._errors import LocalProtocolError, ProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    from protocols._codec import Codec
    from protocols._framing import Framing

__all__ = ["Decoder"]

M = TypeVar("M")


@final
class Decoder(Generic[M]):
    """Incremental decoder of one peer's byte stream into messages, owned by one reader.

    Args:
        framing: Where frames end; also the frame size limit.
        codec: How a frame's payload becomes a message.
    """

    __slots__ = (
        "_buffer",
        "_codec",
        "_eof",
        "_error",
        "_events",
        "_frames",
        "_framing",
        "_scanned",
    )

    def __init__(self, framing: Framing, codec: Codec[M]) -> None:
        self._framing = framing
        self._codec = codec
        self._buffer = bytearray()
        self._events: list[M] = []
        self._error: ProtocolError | None = None
        self._eof = False
        self._frames = 0  # complete frames seen, so errors can say which frame
        self._scanned = 0  # buffer offset the framing has searched up to (Delimited)

    def __repr__(self) -> str:
        return (
            f"<Decoder {self._framing!r} buffered={len(self._buffer)} "
            f"events={len(self._events)} eof={self._eof}>"
        )

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    @property
    def eof(self) -> bool:
        """Whether the end of the stream (`receive_data(b"")`) was received."""
        return self._eof

    def receive_data(self, data: bytes) -> None:
        """Add bytes received from the peer, or mark the end of the stream.

        Never raises for bad peer data: the error is kept for `events()`, and once it is, later
        data is dropped unbuffered.

        Args:
            data: The bytes, as returned by `socket.recv`; `b""` means the peer closed its side.

        Raises:
            LocalProtocolError: Data arrived after `b""` (a bug in the caller).
        """
        if self._eof:
            if data:
                raise LocalProtocolError(
                    f"received {len(data)} bytes after end of stream; "
                    "call receive_data(b'') only when the peer has closed"
                )
            return
        if not data:
            self._eof = True
            if self._buffer and self._error is None:
                self._error = RemoteProtocolError(
                    f"peer closed the connection inside frame {self._frames + 1}: received "
                    f"{self._framing.describe_partial(self._buffer, 0)}"
                )
            return
        if self._error is not None:
            return
        buffer = self._buffer
        if buffer:
            buffer += data
            consumed = self._extract(buffer)
            if self._error is not None or consumed == len(buffer):
                buffer.clear()
            elif consumed:
                del buffer[:consumed]
        else:
            # Nothing partial is waiting: cut frames straight out of the chunk
            # and keep only its incomplete tail.
            consumed = self._extract(data)
            if self._error is None and consumed < len(data):
                buffer += memoryview(data)[consumed:]

    def _extract(self, source: bytes | bytearray) -> int:
        """Decode every complete frame of `source`; return the offset after the last one."""
        framing = self._framing
        decode = self._codec.decode
        events = self._events
        pos = 0
        scanned = self._scanned
        try:
            with memoryview(source) as view:
                while True:
                    bounds = framing.frame_bounds(source, pos, scanned)
                    if bounds is None:
                        scanned = framing.resume_offset(source, pos)
                        break
                    payload_start, payload_end, frame_end = bounds
                    events.append(decode(bytes(view[payload_start:payload_end])))
                    pos = scanned = frame_end
                    self._frames += 1
        except RemoteProtocolError as exc:
            exc.add_note(f"in frame {self._frames + 1} of the stream, counting from 1")
            self._error = exc
            self._scanned = 0
            return pos
        # Offsets are relative to the buffer, which now loses its consumed prefix.
        self._scanned = scanned - pos
        return pos

    @property
    def finished(self) -> bool:
        """Always False: a framed stream ends only at EOF, never inside the protocol."""
        return False

    def data_to_send(self) -> bytes:
        """Return b"": framing owes the peer nothing."""
        return b""

    def opened(self) -> None:
        """Return None: a framed stream has no handshake (`Wire.encoder()` makes the sender)."""
        return

    def events(self) -> list[M]:
        """Take every message decoded so far, in the order received.

        Returns:
            The messages; an empty list means more data is needed (or the stream has ended).

        Raises:
            RemoteProtocolError: The peer sent a bad frame, or closed inside a frame. Raised once
                the messages before it have been returned, and again on every later call.
        """
        events = self._events
        if events:
            self._events = []
            return events
        if self._error is not None:
            raise self._error
        return events
