"""The sending half of a WebSocket connection: messages to frames, this side's Close."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, final

from protocols._errors import LocalProtocolError
from protocols._websocket._close import CloseCode, build_close_payload
from protocols._websocket._frames import MAX_CONTROL_PAYLOAD, Opcode, build_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    from protocols._codec import Codec
    from protocols._websocket._deflate import Deflater

__all__ = ["WebSocketSender"]

M = TypeVar("M")

_TEXT = Opcode.TEXT.value
_BINARY = Opcode.BINARY.value
_MASK_BYTES = 4


@final
class WebSocketSender(Generic[M]):
    """The sending half of one WebSocket connection, owned by its session.

    Each message becomes one frame (FIN set): a str is a text message and bytes a binary one
    without a codec; with a codec, every message is a binary message of the codec's payload.
    Made by the receiver when the handshake succeeds (it knows what was negotiated) and handed
    over in `Opened`.

    Args:
        codec: How a message becomes a binary payload, or None for str/bytes messages.
        deflater: The permessage-deflate compressor, or None.
        min_size: Payloads shorter than this go uncompressed (RFC 7692 §6 allows it).
        urandom: The masking key source for a client (`os.urandom`), or None for a server.
    """

    __slots__ = ("_closed", "_codec", "_deflater", "_min_size", "_urandom")

    def __init__(
        self,
        *,
        codec: Codec[M] | None,
        deflater: Deflater | None,
        min_size: int,
        urandom: Callable[[int], bytes] | None,
    ) -> None:
        self._codec = codec
        self._deflater = deflater
        self._min_size = min_size
        self._urandom = urandom
        self._closed = False

    def __repr__(self) -> str:
        role = "client" if self._urandom is not None else "server"
        return (
            f"<WebSocketSender {role} deflate={self._deflater is not None} closed={self._closed}>"
        )

    def send(self, event: M) -> bytes:
        """Turn one message into one frame (masked by a client, compressed if negotiated).

        Raises:
            LocalProtocolError: After `close()`, or the message cannot be encoded.
        """
        if self._closed:
            raise LocalProtocolError("send() after close(): this side already sent its Close")
        codec = self._codec
        payload: bytes
        if codec is not None:
            opcode = _BINARY
            payload = codec.encode(event)
        elif isinstance(event, bytes):
            opcode = _BINARY
            payload = event
        elif isinstance(event, str):
            opcode = _TEXT
            payload = _encode_text(event)
        elif isinstance(event, bytearray | memoryview):
            opcode = _BINARY
            payload = bytes(event)
        else:
            raise LocalProtocolError(
                f"a WebSocket without a codec sends str (text) or bytes (binary), not "
                f"{type(event).__name__}; encode it first or give the WebSocket a codec"
            )
        deflater = self._deflater
        if deflater is not None and len(payload) >= self._min_size:
            compressed = deflater.compress(payload)
            if compressed is not None:
                return build_frame(opcode, compressed, rsv1=True, mask_key=self._mask())
        return build_frame(opcode, payload, mask_key=self._mask())

    def ping(self, payload: bytes = b"") -> bytes:
        """Build a Ping frame (the peer's receiver answers with a Pong, which is not an event).

        Raises:
            LocalProtocolError: After `close()`, or `payload` is over 125 bytes.
        """
        if self._closed:
            raise LocalProtocolError("ping() after close(): this side already sent its Close")
        if len(payload) > MAX_CONTROL_PAYLOAD:
            raise LocalProtocolError(
                f"ping payload of {len(payload)} bytes exceeds the {MAX_CONTROL_PAYLOAD} a "
                "control frame holds (RFC 6455 §5.5)"
            )
        return build_frame(Opcode.PING, payload, mask_key=self._mask())

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
        """Build this side's Close frame; nothing may be sent after it.

        Args:
            code: 1000 normal, 1001 going away, 1011 internal error, or 3000-4999.
            reason: A few words; cut to 123 bytes of UTF-8.

        Raises:
            LocalProtocolError: Called twice, or `code` may not be sent.
        """
        if self._closed:
            raise LocalProtocolError("close() called twice: this side already sent its Close")
        payload = build_close_payload(code, reason)
        self._closed = True
        return build_frame(Opcode.CLOSE, payload, mask_key=self._mask())

    @property
    def awaits_peer_close(self) -> bool:
        """True: after this side's Close, the peer answers with its own (RFC 6455 §7.1.2)."""
        return True

    def _mask(self) -> bytes | None:
        urandom = self._urandom
        return None if urandom is None else urandom(_MASK_BYTES)


def _encode_text(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(
            f"text message is not encodable as UTF-8 at index {exc.start} ({exc.reason}); "
            "lone surrogates cannot be sent"
        ) from exc
