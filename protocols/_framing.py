"""Framing: where one message ends and the next begins in a byte stream.

A framing is stateless and may be shared by every connection; the scanning state (where the last
search for a delimiter stopped) lives in the `Decoder` that owns the buffer. Each framing checks a
frame's size against `max_frame_size` as soon as the size is known, before its body is buffered.
"""

from __future__ import annotations

import struct
from typing import Literal, Protocol, final

from protocols._errors import FrameTooLarge, LocalProtocolError

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "Delimited", "Framing", "LengthPrefixed"]

DEFAULT_MAX_FRAME_SIZE = 64 * 1024
"""Largest payload accepted by default, in bytes.

Bounds the memory a connection can make the server hold: one partial frame each, so 10,000
connections hold at most 640 MiB. Big enough for chat lines and small RPCs; raise it per `Wire` for
bulk transfers.
"""


class Framing(Protocol):
    """Rule that cuts a byte stream into frames and wraps payloads into frames."""

    @property
    def max_frame_size(self) -> int:
        """Largest payload accepted or sent, in bytes."""
        ...

    def frame(self, payload: bytes) -> bytes:
        """Wrap one payload into a frame.

        Args:
            payload: The bytes to send as one message.

        Returns:
            The framed bytes, ready to write.

        Raises:
            LocalProtocolError: The payload exceeds `max_frame_size` or cannot be framed.
        """
        ...

    def frame_bounds(
        self, buffer: bytes | bytearray, start: int, scanned: int
    ) -> tuple[int, int, int] | None:
        """Locate the frame that begins at `start`, checking its size before it is complete.

        Args:
            buffer: Bytes received and not yet consumed.
            start: Offset where the frame begins.
            scanned: Offset up to which `buffer` was already searched without finding the frame's
                end (from `resume_offset`), so a slowly arriving frame is scanned once.

        Returns:
            `(payload_start, payload_end, frame_end)` offsets, or None if more bytes are needed.

        Raises:
            FrameTooLarge: The frame's declared or observed size exceeds `max_frame_size`.
        """
        ...

    def resume_offset(self, buffer: bytes | bytearray, start: int) -> int:
        """Return where the next `frame_bounds` search may start, after it returned None."""
        ...

    def describe_partial(self, buffer: bytes | bytearray, start: int) -> str:
        """Return what was received of the incomplete frame at `start`, for an error message."""
        ...


_HEADER_FORMATS = {1: "B", 2: "H", 4: "I"}
_BYTEORDER_PREFIXES = {"big": ">", "little": "<"}


@final
class LengthPrefixed:
    """Framing where an unsigned length header precedes each payload.

    The length counts the payload only, not the header.

    Args:
        width: Size of the length header, in bytes.
        byteorder: Byte order of the length header.
        max_frame_size: Largest payload accepted or sent, in bytes; capped at the largest length the
            header can hold (255 for width 1, 65535 for width 2).

    Raises:
        ValueError: `width` or `byteorder` is not one of the allowed values, or `max_frame_size` is
            negative.
    """

    __slots__ = ("_header", "byteorder", "max_frame_size", "width")

    def __init__(
        self,
        *,
        width: Literal[1, 2, 4] = 4,
        byteorder: Literal["big", "little"] = "big",
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        if width not in _HEADER_FORMATS:
            raise ValueError(f"width={width!r} is not a header size; use 1, 2 or 4")
        if byteorder not in _BYTEORDER_PREFIXES:
            raise ValueError(f"byteorder={byteorder!r} is not 'big' or 'little'")
        if max_frame_size < 0:
            raise ValueError(f"max_frame_size={max_frame_size} is negative")
        self.width: int = width
        """Size of the length header, in bytes."""
        self.byteorder: str = byteorder
        """Byte order of the length header."""
        self.max_frame_size: int = min(max_frame_size, (1 << (8 * width)) - 1)
        """Largest payload accepted or sent, in bytes."""
        self._header = struct.Struct(_BYTEORDER_PREFIXES[byteorder] + _HEADER_FORMATS[width])

    def __repr__(self) -> str:
        return (
            f"LengthPrefixed(width={self.width}, byteorder={self.byteorder!r}, "
            f"max_frame_size={self.max_frame_size})"
        )

    def frame(self, payload: bytes) -> bytes:
        """Prefix a payload with its length.

        Args:
            payload: The bytes to send as one message.

        Returns:
            Header and payload.

        Raises:
            LocalProtocolError: The payload exceeds `max_frame_size`.
        """
        size = len(payload)
        if size > self.max_frame_size:
            raise LocalProtocolError(
                f"payload of {size} bytes exceeds max_frame_size={self.max_frame_size}; "
                "split the message or raise the limit on both sides"
            )
        return self._header.pack(size) + payload

    def frame_bounds(
        self,
        buffer: bytes | bytearray,
        start: int,
        scanned: int,  # noqa: ARG002 - a length header is read in O(1); nothing to resume
    ) -> tuple[int, int, int] | None:
        """Read the length header at `start` and check it against the limit.

        Args:
            buffer: Bytes received and not yet consumed.
            start: Offset where the frame begins.
            scanned: Ignored: the header says where the frame ends.

        Returns:
            `(payload_start, payload_end, frame_end)`, or None until the whole frame is buffered.

        Raises:
            FrameTooLarge: The declared length exceeds `max_frame_size`.
        """
        payload_start = start + self.width
        if len(buffer) < payload_start:
            return None
        (size,) = self._header.unpack_from(buffer, start)
        if size > self.max_frame_size:
            raise FrameTooLarge(size, self.max_frame_size)
        frame_end: int = payload_start + size
        if len(buffer) < frame_end:
            return None
        return payload_start, frame_end, frame_end

    def resume_offset(self, buffer: bytes | bytearray, start: int) -> int:  # noqa: ARG002
        """Return `start`: reading the header again costs O(1)."""
        return start

    def describe_partial(self, buffer: bytes | bytearray, start: int) -> str:
        """Say how many header or payload bytes of the frame at `start` arrived."""
        received = len(buffer) - start
        if received < self.width:
            return f"{received} of {self.width} length-header bytes"
        (size,) = self._header.unpack_from(buffer, start)
        return f"{received - self.width} of {size} payload bytes declared by its header"


@final
class Delimited:
    """Framing where a delimiter ends each payload, such as newline-terminated lines.

    The payload excludes the delimiter. The decoder remembers where its search stopped, so a line
    arriving one byte at a time is scanned once (linear, not quadratic).

    Args:
        delimiter: The bytes that end each frame.
        max_frame_size: Largest payload accepted or sent, in bytes, delimiter excluded.

    Raises:
        ValueError: `delimiter` is empty or `max_frame_size` is negative.
    """

    __slots__ = ("delimiter", "max_frame_size")

    def __init__(
        self, delimiter: bytes = b"\n", *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    ) -> None:
        if not delimiter:
            raise ValueError("delimiter is empty; use at least one byte, such as b'\\n'")
        if max_frame_size < 0:
            raise ValueError(f"max_frame_size={max_frame_size} is negative")
        self.delimiter: bytes = bytes(delimiter)
        """The bytes that end each frame."""
        self.max_frame_size: int = max_frame_size
        """Largest payload accepted or sent, in bytes, delimiter excluded."""

    def __repr__(self) -> str:
        return f"Delimited({self.delimiter!r}, max_frame_size={self.max_frame_size})"

    def frame(self, payload: bytes) -> bytes:
        """Append the delimiter to a payload.

        Args:
            payload: The bytes to send as one line.

        Returns:
            Payload and delimiter.

        Raises:
            LocalProtocolError: The payload exceeds `max_frame_size`, or the delimiter occurs in it
                (or straddles its end), so the peer would cut the frame short.
        """
        size = len(payload)
        if size > self.max_frame_size:
            raise LocalProtocolError(
                f"payload of {size} bytes exceeds max_frame_size={self.max_frame_size}; "
                "split the message or raise the limit on both sides"
            )
        framed = payload + self.delimiter
        found = framed.find(self.delimiter)
        if found != size:
            raise LocalProtocolError(
                f"payload contains the delimiter {self.delimiter!r} at offset {found}; "
                "escape it or use LengthPrefixed framing"
            )
        return framed

    def frame_bounds(
        self, buffer: bytes | bytearray, start: int, scanned: int
    ) -> tuple[int, int, int] | None:
        """Search for the delimiter from where the last search stopped.

        The search never looks past `max_frame_size` bytes of payload.

        Args:
            buffer: Bytes received and not yet consumed.
            start: Offset where the frame begins.
            scanned: Offset up to which the buffer holds no delimiter start for this frame.

        Returns:
            `(payload_start, payload_end, frame_end)`, or None until the delimiter arrives.

        Raises:
            FrameTooLarge: More than `max_frame_size` bytes arrived without a delimiter.
        """
        delimiter = self.delimiter
        limit_end = start + self.max_frame_size + len(delimiter)
        found = buffer.find(delimiter, max(start, scanned), limit_end)
        if found < 0:
            if len(buffer) >= limit_end:
                # The tail may hold all but one byte of a delimiter: it is not payload.
                seen = len(buffer) - start - (len(delimiter) - 1)
                raise FrameTooLarge(seen, self.max_frame_size, at_least=True)
            return None
        return start, found, found + len(delimiter)

    def resume_offset(self, buffer: bytes | bytearray, start: int) -> int:
        """Return the first offset where a delimiter could still begin."""
        return max(start, len(buffer) - len(self.delimiter) + 1)

    def describe_partial(self, buffer: bytes | bytearray, start: int) -> str:
        """Say how many bytes of the unterminated line at `start` arrived."""
        return f"{len(buffer) - start} bytes without the {self.delimiter!r} delimiter"
