"""The receiving half of a WebSocket connection: handshake, then frames to messages.

Theory of operation: while CONNECTING, bytes go to the handshake (HTTP for a server, the 101 for
a client); when it succeeds, the receiver makes the sending half (with the negotiated compressor)
and hands it over through `opened()`, then parses the bytes that followed the handshake as frames.

In OPEN, `receive_data` cuts every complete frame out of the chunk (or, if a partial frame is
waiting, out of the buffer it is appended to). Every check that needs only the header (mask bit,
reserved bits, opcode, control frame rules, fragmentation order, declared size against
`max_message_size`) runs before the payload is buffered, so a peer cannot make the receiver hold
more than one frame of at most `max_message_size` bytes. While a large frame arrives, the buffer
is not parsed again until it holds `_needed` bytes. The common case, a whole unfragmented
uncompressed data frame, becomes an event without touching the fragmentation state.

Fragments accumulate in `_parts` (inflated, and for text decoded by an incremental UTF-8 decoder
so the first invalid byte fails at once). Pings are answered after the chunk that carried them
(only the last, as RFC 6455 §5.5.3 allows: a ping flood cannot multiply output); pongs are
ignored. The peer's Close is validated, recorded in `close_received`, echoed, and ends the
conversation (`finished`). An error is kept for `events()`, after the events before it, and its
Close frame is queued at once.

State changes follow `_state.TRANSITIONS`, and only this file makes them.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, final

from protocols._errors import LocalProtocolError, RemoteProtocolError
from protocols._websocket._close import (
    CloseCode,
    CloseInfo,
    build_close_payload,
    parse_close_payload,
)
from protocols._websocket._deflate import Deflater, Inflater
from protocols._websocket._errors import MessageTooBig, WebSocketProtocolError
from protocols._websocket._frames import (
    MAX_CONTROL_PAYLOAD,
    Opcode,
    apply_mask,
    build_frame,
    parse_header,
)
from protocols._websocket._sender import WebSocketSender
from protocols._websocket._state import ConnectionState, Trigger, transition
from protocols._wireprotocol import Opened

if TYPE_CHECKING:
    from collections.abc import Callable

    from protocols._codec import Codec
    from protocols._websocket._client_handshake import ClientHandshake
    from protocols._websocket._extension import PerMessageDeflate
    from protocols._websocket._handshake import HandshakeResult
    from protocols._websocket._server_handshake import ServerHandshake

__all__ = ["WebSocketReceiver"]

M = TypeVar("M")

_OPEN: Final = ConnectionState.OPEN
_CONNECTING: Final = ConnectionState.CONNECTING
_FIN_TEXT: Final = 0x81
_FIN_BINARY: Final = 0x82
_FIN: Final = 0x80
_RSV1: Final = 0x40
_RSV23: Final = 0x30
_CONTROL: Final = 0x08
_CLOSE: Final = Opcode.CLOSE.value
_PING: Final = Opcode.PING.value
_PONG: Final = Opcode.PONG.value
_TEXT: Final = Opcode.TEXT.value
_MSB64: Final = 1 << 63
_ERROR_CLOSE_REASONS: Final = 123
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


def _protocol_error(message: str, code: int = CloseCode.PROTOCOL_ERROR) -> WebSocketProtocolError:
    return WebSocketProtocolError(message, close_code=code)


@final
class WebSocketReceiver(Generic[M]):
    """The receiving half of one WebSocket connection, owned by its reader.

    Made by `WebSocketServer.decoder()` or `WebSocketClient.decoder()`.

    Attributes:
        close_received: The peer's Close frame (code and reason) once it arrived, else None.
    """

    __slots__ = (
        "_accept_text",
        "_buffer",
        "_codec",
        "_compressed",
        "_deflate_config",
        "_error",
        "_events",
        "_handshake",
        "_inflated",
        "_inflater",
        "_limit",
        "_masked",
        "_needed",
        "_opcode",
        "_opened",
        "_out",
        "_parts",
        "_ping",
        "_size",
        "_state",
        "_urandom",
        "_utf8",
        "_wire_limit",
        "close_received",
    )

    def __init__(
        self,
        handshake: ServerHandshake | ClientHandshake,
        *,
        codec: Codec[M] | None,
        max_message_size: int,
        deflate: PerMessageDeflate | None,
        urandom: Callable[[int], bytes] | None,
    ) -> None:
        self._handshake: ServerHandshake | ClientHandshake | None = handshake
        self._codec = codec
        self._accept_text = codec is None
        self._limit = max_message_size
        # Compressed bytes may slightly exceed what they inflate to (stored blocks: 5 bytes per
        # 64 KiB): the wire bound for a compressed message is a little above the inflated one.
        self._wire_limit = max_message_size + (max_message_size >> 8) + 64
        self._deflate_config = deflate
        self._urandom = urandom  # a client masks its frames and expects unmasked ones
        self._masked = urandom is None
        self._state = _CONNECTING
        self._buffer = bytearray()
        self._needed = 0
        self._out = bytearray(handshake.data_to_send())
        self._events: list[Any] = []
        self._error: RemoteProtocolError | None = None
        self._opened: Opened[M] | None = None
        self._inflater: Inflater | None = None
        self._ping: bytes | None = None
        # The fragmented message being assembled: its opcode (None between messages), wire
        # size, inflated size, parts, and UTF-8 decoder.
        self._opcode: int | None = None
        self._compressed = False
        self._size = 0
        self._inflated = 0
        self._parts: list[Any] = []
        self._utf8: codecs.IncrementalDecoder | None = None
        self.close_received: CloseInfo | None = None

    def __repr__(self) -> str:
        role = "server" if self._masked else "client"
        return f"<WebSocketReceiver {role} {self._state.name} buffered={len(self._buffer)}>"

    @property
    def state(self) -> ConnectionState:
        """Where the connection is (see `ConnectionState`)."""
        return self._state

    @property
    def finished(self) -> bool:
        """Whether the peer ended the conversation: its Close arrived, or HTTP must close."""
        return self._state is ConnectionState.CLOSED

    @property
    def inflated(self) -> int:
        """Bytes inflated so far on this connection (0 without permessage-deflate)."""
        return 0 if self._inflater is None else self._inflater.inflated

    def opened(self) -> Opened[M] | None:
        """Take the sending half, once, after the handshake succeeded; None otherwise."""
        opened, self._opened = self._opened, None
        return opened

    def data_to_send(self) -> bytes:
        """Take the bytes owed to the peer: handshake response, pong, Close echo or error Close."""
        out = self._out
        if not out:
            return b""
        data = bytes(out)
        out.clear()
        return data

    def events(self) -> list[M]:
        """Take every message received so far, in order.

        Raises:
            RemoteProtocolError: `WebSocketProtocolError` (its Close frame already queued) or
                `HandshakeError`; raised after the messages before it, and on every later call.
        """
        events = self._events
        if events:
            self._events = []
            return events
        if self._error is not None:
            raise self._error
        return events

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer (`b""`: it closed TCP); never raises for bad peer data.

        Raises:
            LocalProtocolError: Data after `b""` (a bug in the caller).
        """
        if self._state is not _OPEN:
            self._receive_outside_open(data)
            return
        if not data:
            self._receive_eof()
            return
        buffer = self._buffer
        try:
            if buffer:
                buffer += data
                if len(buffer) < self._needed:
                    return
                consumed = self._receive_frames(buffer)
                del buffer[:consumed]
            else:
                consumed = self._receive_frames(data)
                if consumed < len(data) and self._state is _OPEN:
                    buffer += memoryview(data)[consumed:]
        except WebSocketProtocolError as exc:
            self._fail(exc)
        except RemoteProtocolError as exc:
            error = _protocol_error(
                f"binary message rejected by the codec: {exc}", CloseCode.INVALID_FRAME_PAYLOAD_DATA
            )
            error.__cause__ = exc
            self._fail(error)
        if self._ping is not None and self._state is _OPEN:
            self._send_pong()

    def _receive_frames(self, source: bytes | bytearray) -> int:  # noqa: C901, PLR0912, PLR0915
        """Handle every complete frame of `source`; return the offset after the last one."""
        pos = 0
        size = len(source)
        events = self._events
        masked = self._masked
        limit = self._limit
        decode = None if self._codec is None else self._codec.decode
        while True:
            # The 7-bit length (the common case) and a masked 16-bit one are read inline;
            # parse_header does the rest.
            if size - pos < 2:
                self._needed = 0
                return pos
            first = source[pos]
            second = source[pos + 1]
            length = second & 0x7F
            key: bytes | bytearray | None
            if length < 126:
                if second & 0x80:
                    start = pos + 6
                    if start > size:
                        self._needed = 0
                        return pos
                    key = source[pos + 2 : start]
                else:
                    start = pos + 2
                    key = None
            elif length == 126 and second & 0x80:
                # A masked frame of 126-65535 bytes (a 512-byte chat line, say), also inline.
                start = pos + 8
                if start > size:
                    self._needed = 0
                    return pos
                length = (source[pos + 2] << 8) | source[pos + 3]
                key = source[pos + 4 : start]
            else:
                header = parse_header(source, pos)
                if header is None:
                    self._needed = 0
                    return pos
                first, start, length, key = header
            if (key is not None) is not masked:
                raise self._mask_error()
            # Whole uncompressed text or binary frame outside a fragmented message: the fast path.
            fast = (first == _FIN_BINARY or (first == _FIN_TEXT and self._accept_text)) and (
                self._opcode is None
            )
            if not fast:
                self._check_header(first, length)
            elif length > limit:
                self._check_header(first, length)  # raises the precise error
            end = start + length
            if end > size:
                self._needed = end - pos
                return pos
            payload = source[start:end]
            if key is not None:
                payload = apply_mask(payload, key)
            elif type(payload) is not bytes:
                payload = bytes(payload)
            pos = end
            if fast:
                if first == _FIN_BINARY:
                    events.append(payload if decode is None else decode(payload))
                else:
                    events.append(_decode_text(payload))
            else:
                self._receive_frame(first, payload)
                if self._state is not _OPEN:
                    return pos

    def _mask_error(self) -> WebSocketProtocolError:
        if self._masked:
            return _protocol_error(
                "client frame is not masked; RFC 6455 §5.1 requires clients to mask every frame"
            )
        return _protocol_error(
            "server frame is masked; RFC 6455 §5.1 forbids servers to mask frames"
        )

    def _check_header(self, first: int, length: int) -> None:  # noqa: C901, PLR0912 - one rule each
        """Check one frame's header before its payload is buffered."""
        opcode = first & 0x0F
        if length >= _MSB64:
            raise _protocol_error(
                f"frame declares {length} bytes: the 64-bit length's most significant bit "
                "must be 0 (RFC 6455 §5.2)"
            )
        if opcode & _CONTROL:
            if opcode not in {_CLOSE, _PING, _PONG}:
                raise _protocol_error(f"unknown control opcode {opcode:#x} (RFC 6455 §5.2)")
            if not first & _FIN:
                raise _protocol_error(
                    f"fragmented {Opcode(opcode).name} frame: control frames must not be "
                    "fragmented (RFC 6455 §5.5)"
                )
            if length > MAX_CONTROL_PAYLOAD:
                raise _protocol_error(
                    f"{Opcode(opcode).name} frame of {length} bytes exceeds the "
                    f"{MAX_CONTROL_PAYLOAD} bytes a control frame may carry (RFC 6455 §5.5)"
                )
            if first & 0x70:
                raise _protocol_error(
                    f"{Opcode(opcode).name} frame has reserved bits {first & 0x70:#x} set; no "
                    "extension defines them for control frames"
                )
            return
        if opcode > _BINARY_OPCODE:
            raise _protocol_error(f"unknown data opcode {opcode:#x} (RFC 6455 §5.2)")
        if first & _RSV23:
            raise _protocol_error(
                f"frame has reserved bits RSV2/RSV3 ({first & _RSV23:#x}) set, and no "
                "extension using them was negotiated"
            )
        if opcode == 0:
            if self._opcode is None:
                raise _protocol_error(
                    "continuation frame without a message to continue (RFC 6455 §5.4)"
                )
            if first & _RSV1:
                raise _protocol_error(
                    "continuation frame has RSV1 set: only a message's first frame carries it "
                    "(RFC 7692 §6.1)"
                )
            compressed = self._compressed
            total = self._size + length
        else:
            if self._opcode is not None:
                raise _protocol_error(
                    f"new {Opcode(opcode).name} message inside a fragmented "
                    f"{Opcode(self._opcode).name} message; finish it first (RFC 6455 §5.4)"
                )
            if first & _RSV1 and self._inflater is None:
                raise _protocol_error(
                    "frame has RSV1 set, but permessage-deflate was not negotiated"
                )
            if opcode == _TEXT and not self._accept_text:
                raise _protocol_error(
                    "text message received, but this WebSocket's codec takes binary messages "
                    "only; send binary frames",
                    CloseCode.UNSUPPORTED_DATA,
                )
            compressed = bool(first & _RSV1)
            total = length
        if compressed:
            if total > self._wire_limit:
                raise MessageTooBig(total, self._wire_limit, what="compressed message")
        elif total > self._limit:
            raise MessageTooBig(total, self._limit, what="declared frame" if opcode else "message")

    def _receive_frame(self, first: int, payload: bytes) -> None:
        """Handle one frame that is not a whole uncompressed message (headers already checked)."""
        opcode = first & 0x0F
        if opcode & _CONTROL:
            if opcode == _PING:
                self._ping = payload
            elif opcode == _CLOSE:
                self._receive_close(payload)
            return
        message = self._receive_fragment(first, payload)
        if message is not None:
            codec = self._codec
            if codec is None or isinstance(message, str):
                self._events.append(message)
            else:
                self._events.append(codec.decode(message))

    def _receive_fragment(self, first: int, payload: bytes) -> str | bytes | None:
        """Add one data frame to the message; return the message if this frame ends it."""
        opcode = first & 0x0F
        if opcode:
            self._opcode = opcode
            self._compressed = bool(first & _RSV1)
            self._size = self._inflated = 0
        fin = bool(first & _FIN)
        self._size += len(payload)
        if self._compressed:
            assert self._inflater is not None
            payload = self._inflater.feed(payload, self._limit - self._inflated, final=fin)
        self._inflated += len(payload)
        parts = self._parts
        if self._opcode == _TEXT:
            if fin and not parts and self._utf8 is None:
                parts.append(_decode_text(payload))
            else:
                utf8 = self._utf8
                if utf8 is None:
                    utf8 = self._utf8 = _Utf8Decoder()
                # Bytes of a character cut by the previous fragment, held back by the decoder:
                # exc.start counts them too.
                held = len(utf8.getstate()[0])
                try:
                    parts.append(utf8.decode(payload, final=fin))
                except UnicodeDecodeError as exc:
                    raise _text_error(exc, self._inflated - len(payload) - held) from exc
        else:
            parts.append(payload)
        if not fin:
            return None
        message: str | bytes = ("" if self._opcode == _TEXT else b"").join(parts)
        self._opcode = None
        self._parts = []
        self._utf8 = None
        return message

    def _receive_close(self, payload: bytes) -> None:
        info = parse_close_payload(payload)
        self.close_received = info
        if self._ping is not None:
            self._send_pong()
        # RFC 6455 §5.5.1: the answer "typically echos the status code it received".
        self._out += self._frame(_CLOSE, build_close_payload(info.code, ""))
        self._state = transition(self._state, Trigger.CLOSE_RECEIVED)
        self._buffer.clear()

    def _send_pong(self) -> None:
        assert self._ping is not None
        self._out += self._frame(_PONG, self._ping)
        self._ping = None

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        urandom = self._urandom
        return build_frame(opcode, payload, mask_key=None if urandom is None else urandom(4))

    def _fail(self, error: RemoteProtocolError) -> None:
        if self._ping is not None:
            self._send_pong()
        code = getattr(error, "close_code", None)
        if code is not None and code != CloseCode.ABNORMAL_CLOSURE:
            self._out += self._frame(_CLOSE, build_close_payload(code, str(error)))
        self._error = error
        self._state = transition(self._state, Trigger.PROTOCOL_ERROR)
        self._buffer.clear()
        self._parts = []

    def _receive_eof(self) -> None:
        if self._buffer or self._opcode is not None:
            where = "inside a frame" if self._buffer else "inside a fragmented message"
            self._fail(
                _protocol_error(
                    f"peer closed the connection {where} ({len(self._buffer)} bytes buffered), "
                    "without a Close frame",
                    CloseCode.ABNORMAL_CLOSURE,
                )
            )
        else:
            self._state = transition(self._state, Trigger.EOF)

    def _receive_outside_open(self, data: bytes) -> None:
        state = self._state
        if state is _CONNECTING:
            handshake = self._handshake
            assert handshake is not None
            try:
                handshake.receive_data(data)
            finally:
                # Also when an HTTP handler raised: its 500 and the failure are kept.
                self._out += handshake.data_to_send()
                if handshake.error is not None:
                    self._error = handshake.error
                    self._state = transition(state, Trigger.PROTOCOL_ERROR)
            if handshake.error is not None:
                return
            if handshake.result is not None:
                self._open(handshake.result)
            elif getattr(handshake, "finished", False):
                self._state = transition(state, Trigger.HTTP_DONE)
            elif not data:
                self._state = transition(state, Trigger.EOF)
        elif state is ConnectionState.ENDED and data:
            raise LocalProtocolError(
                f"received {len(data)} bytes after end of stream; call receive_data(b'') only "
                "when the peer has closed"
            )
        # CLOSED or FAILED: the conversation is over; later bytes are dropped unread.

    def _open(self, result: HandshakeResult) -> None:
        self._handshake = None
        deflater = None
        params = result.deflate
        config = self._deflate_config
        if params is not None:
            assert config is not None
            client = self._urandom is not None
            self._inflater = Inflater(
                params.server_max_window_bits if client else params.client_max_window_bits,
                no_context_takeover=(
                    params.server_no_context_takeover
                    if client
                    else params.client_no_context_takeover
                ),
                limit=self._limit,
            )
            deflater = Deflater(
                params.client_max_window_bits if client else params.server_max_window_bits,
                no_context_takeover=(
                    params.client_no_context_takeover
                    if client
                    else params.server_no_context_takeover
                ),
                mem_level=config.mem_level,
                level=config.compression_level,
            )
        sender = WebSocketSender(
            codec=self._codec,
            deflater=deflater,
            min_size=0 if config is None else config.min_size,
            urandom=self._urandom,
        )
        self._opened = Opened(sender=sender, details=result.details)
        self._state = transition(self._state, Trigger.HANDSHAKE_DONE)
        if result.leftover:
            self.receive_data(result.leftover)


_BINARY_OPCODE: Final = Opcode.BINARY.value


def _decode_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _text_error(exc, 0) from exc


def _text_error(exc: UnicodeDecodeError, offset: int) -> WebSocketProtocolError:
    return _protocol_error(
        f"text message is not UTF-8 at byte {offset + exc.start} ({exc.reason}); RFC 6455 §8.1 "
        "requires UTF-8, send binary messages for other data",
        CloseCode.INVALID_FRAME_PAYLOAD_DATA,
    )
