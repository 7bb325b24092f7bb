"""Compressing and inflating messages (RFC 7692 §7.2), with bounded output and lazy contexts.

Theory of operation: a message is compressed as one raw-deflate stream flushed with Z_SYNC_FLUSH,
whose trailing `00 00 ff ff` is stripped before sending and appended again before inflating
(§7.2.1-2). With context takeover the zlib context lives from one message to the next (the
previous messages are the dictionary); without it, it is dropped after each message.

Memory: a zlib context is created only when the first message needs it, so an idle connection,
or one whose messages are all under `PerMessageDeflate.min_size`, holds none; what one holds is
in the table of `protocols.websocket`.

Decompression bombs: `Inflater.feed` never asks zlib for more than the room left under
`max_message_size` plus one byte (`decompressobj.decompress(data, max_length)`); input zlib did
not get to is left in `unconsumed_tail` and never inflated, so a 100 MiB bomb costs at most
`max_message_size` + 1 bytes of output before it fails with 1009.
"""

from __future__ import annotations

import zlib
from typing import Final, final

from protocols._websocket._errors import MessageTooBig, WebSocketProtocolError

__all__ = ["Deflater", "Inflater"]

_TAIL: Final = b"\x00\x00\xff\xff"

KEEP_UNCOMPRESSED_FROM: Final = 4096
"""Size in bytes from which a message deflate would enlarge is sent uncompressed instead.

Below it a growing message gains a few bytes at most; from it, the zlib context is copied
before compressing (~10 us for our 38 KiB context, against 20-50 us to compress 4 KiB) so it
can be rolled back.
"""


@final
class Inflater:
    """The receiving side's decompressor for one connection, created lazily.

    Args:
        window_bits: The peer's agreed window (9-15).
        no_context_takeover: The peer resets per message, so the context is dropped after each.
        limit: `max_message_size`, in bytes, for error messages.
    """

    __slots__ = ("_context", "_limit", "_no_context_takeover", "_window_bits", "inflated")

    def __init__(self, window_bits: int, *, no_context_takeover: bool, limit: int) -> None:
        self._window_bits = window_bits
        self._no_context_takeover = no_context_takeover
        self._limit = limit
        self._context: zlib._Decompress | None = None
        self.inflated = 0
        """Bytes of output zlib produced, over the connection's life (for tests and stats)."""

    def feed(self, data: bytes, room: int, *, final: bool) -> bytes:
        """Inflate one frame's payload of a compressed message.

        Args:
            data: The frame's payload (compressed).
            room: Bytes the message may still grow by under `max_message_size`.
            final: Whether this is the message's last frame (the stripped tail is added).

        Raises:
            MessageTooBig: The output would exceed `room` (1009).
            WebSocketProtocolError: The data is not valid deflate (1007).
        """
        context = self._context
        if context is None:
            context = self._context = zlib.decompressobj(-self._window_bits)
        if final:
            data += _TAIL
        try:
            out = context.decompress(data, room + 1)
        except zlib.error as exc:
            self._context = None
            raise WebSocketProtocolError(
                f"compressed message is not valid deflate ({exc}); the peer's permessage-deflate "
                "is broken",
                close_code=1007,
            ) from exc
        self.inflated += len(out)
        if len(out) > room:
            self._context = None
            raise MessageTooBig(self._limit - room + len(out), self._limit, what="inflated message")
        if final and (self._no_context_takeover or context.eof):
            # A final deflate block (BFINAL) ends the stream: the next message starts a new one.
            self._context = None
        return out


@final
class Deflater:
    """The sending side's compressor for one connection, created lazily.

    Args:
        window_bits: This side's agreed window (9-15).
        no_context_takeover: Reset after each message (drop the context).
        mem_level: zlib memLevel (1-9).
        level: zlib compression level (0-9).
    """

    __slots__ = ("_context", "_level", "_mem_level", "_no_context_takeover", "_window_bits")

    def __init__(
        self, window_bits: int, *, no_context_takeover: bool, mem_level: int, level: int
    ) -> None:
        self._window_bits = window_bits
        self._no_context_takeover = no_context_takeover
        self._mem_level = mem_level
        self._level = level
        self._context: zlib._Compress | None = None

    def compress(self, payload: bytes) -> bytes | None:
        """Compress one whole message, sent with RSV1 set on its first frame.

        Returns:
            The compressed payload, or None when deflate would make a message of at least
            `KEEP_UNCOMPRESSED_FROM` bytes larger (random or already compressed data): send it
            uncompressed, which RFC 7692 §6 allows, so that a message the peer's limit admits
            is never refused for growing on the way. With context takeover the compressor is
            then rolled back, so the peer's window (which never sees uncompressed messages)
            stays in step.
        """
        context = self._context
        if context is None:
            context = zlib.compressobj(
                self._level, zlib.DEFLATED, -self._window_bits, self._mem_level
            )
            if not self._no_context_takeover:
                self._context = context
        big = len(payload) >= KEEP_UNCOMPRESSED_FROM
        backup = context.copy() if big and self._context is not None else None
        data = context.compress(payload) + context.flush(zlib.Z_SYNC_FLUSH)
        # Z_SYNC_FLUSH always ends with the empty stored block 00 00 ff ff (RFC 7692 §7.2.1).
        assert data.endswith(_TAIL)
        if big and len(data) - len(_TAIL) >= len(payload):
            if backup is not None:
                self._context = backup
            return None
        return data[:-4]
