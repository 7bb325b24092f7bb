"""WebSocket (RFC 6455) with permessage-deflate (RFC 7692), server and client, sans-IO.

`WebSocketServer` and `WebSocketClient` are `WireProtocol`s: shared by every connection, each
makes one connection's `WebSocketReceiver` (for the reader) and hands out the `WebSocketSender`
(for the session) inside `Opened` once the handshake succeeds. The HTTP/1.1 side is h11's (see
`protocols.http`): a server answers plain requests with its `http_handler` and upgrades the ones
for its `websocket_paths`.

Messages: without a codec, a message is a `str` (text) or `bytes` (binary), in both directions,
so an echo sends each message back with its type. With a `Codec[M]`, every binary message is one
payload of the codec and decodes to an `M`; a text message fails the connection with 1003, and
sending an `M` sends a binary message.

Closing: when the peer's Close arrives, the receiver echoes it (in `data_to_send()`), sets
`finished`, and records the peer's code and reason in `receiver.close_received` (a `CloseInfo`).
This side closes with `sender.close(code, reason)`. A protocol error is raised by `events()` as a
`WebSocketProtocolError` whose `close_code` is already queued in a Close frame; a failed handshake
raises `HandshakeError` (close_code None, its HTTP response queued on a server).

Memory per connection for permessage-deflate, resident bytes per zlib context over 1000
contexts (RSS deltas: tracemalloc does not see zlib), CPython 3.11, after 16 KiB of text:

| context                                   | KiB  | compressed to |
|-------------------------------------------|------|---------------|
| compress, window 2^15, memLevel 8 (zlib)  | 162  | 37%           |
| compress, window 2^12, memLevel 8         | 116  | 41%           |
| compress, window 2^12, memLevel 5 (ours)  |  38  | 41%           |
| compress, window 2^10, memLevel 5         |  26  | 49%           |
| inflate, window 2^15                      |  28  |               |
| inflate, window 2^12 (ours, if allowed)   |  12  |               |

Hence `PerMessageDeflate`'s defaults: 2^12 windows both ways and memLevel 5, about 50 KiB per
connection that compresses at all, against ~190 KiB for zlib's defaults; contexts are created on
first use, and messages under 128 bytes go uncompressed (deflate saves little on them for
2-5 µs each), so small-message connections hold none. A client that does not offer
`client_max_window_bits` (Firefox) is inflated with 2^15. `encode()` (broadcasts) is always
uncompressed: a compressed frame depends on its connection's context, and RFC 7692 lets any
message go uncompressed.

Not covered: other extensions; sending fragmented messages (each message is one frame);
`Sec-WebSocket-Protocol`/extension requirements beyond permessage-deflate; HTTP bodies.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final, Generic, TypeVar, final, overload

from protocols._websocket._client_handshake import ClientHandshake
from protocols._websocket._close import CloseCode, CloseInfo
from protocols._websocket._errors import HandshakeError, MessageTooBig, WebSocketProtocolError
from protocols._websocket._extension import PerMessageDeflate
from protocols._websocket._frames import Opcode
from protocols._websocket._handshake import Handshake
from protocols._websocket._receiver import WebSocketReceiver
from protocols._websocket._sender import WebSocketSender
from protocols._websocket._server_handshake import ServerHandshake
from protocols._websocket._state import ConnectionState
from protocols.http import DEFAULT_MAX_HEAD_SIZE

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Sequence

    from protocols._codec import Codec
    from protocols.http import Handler

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "CloseCode",
    "CloseInfo",
    "ConnectionState",
    "Handshake",
    "HandshakeError",
    "MessageTooBig",
    "Opcode",
    "PerMessageDeflate",
    "WebSocketClient",
    "WebSocketProtocolError",
    "WebSocketReceiver",
    "WebSocketSender",
    "WebSocketServer",
]

M = TypeVar("M")

DEFAULT_MAX_MESSAGE_SIZE: Final = 1024 * 1024
"""Largest message accepted, in bytes, across fragments and after inflating: 1 MiB.

websockets' default too; bounds what one connection can make the reader hold (one message plus
one partial frame). Chat lines and RPCs are far smaller; raise it for bulk transfers.
"""


def _deflate(compression: bool | PerMessageDeflate) -> PerMessageDeflate | None:
    if compression is True:
        return PerMessageDeflate()
    if compression is False:
        return None
    return compression


@final
class WebSocketServer(Generic[M]):
    """What a WebSocket server connection speaks: HTTP/1.1 until an upgrade, then frames.

    Args:
        codec: How a binary message's payload becomes an `M`; None for `str | bytes` messages
            (text and binary, each kept as it came).
        subprotocols: Subprotocols spoken, in order of preference; the first the client also
            offers is chosen.
        allowed_origins: `Origin` values accepted (put None in to accept requests without
            one), or None to accept any origin; others get 403.
        websocket_paths: Paths that may upgrade, or None for any path.
        http_handler: Answers every request that is not an upgrade, synchronously, inside
            `receive_data` (keep it cheap: static pages from memory); None answers 404.
        compression: Offer permessage-deflate with the default `PerMessageDeflate`, not at
            all (False), or with these settings.
        max_message_size: Largest message accepted, in bytes (1009 beyond).
        max_head_size: Largest HTTP request head accepted, in bytes (431 beyond).
    """

    __slots__ = (
        "_broadcast",
        "_codec",
        "_deflate",
        "_handler",
        "_max_head_size",
        "_origins",
        "_paths",
        "_subprotocols",
        "max_message_size",
    )

    @overload
    def __init__(
        self: WebSocketServer[str | bytes],
        codec: None = None,
        *,
        subprotocols: Sequence[str] = (),
        allowed_origins: Collection[str | None] | None = None,
        websocket_paths: Collection[str] | None = None,
        http_handler: Handler | None = None,
        compression: bool | PerMessageDeflate = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
    ) -> None: ...
    @overload
    def __init__(
        self: WebSocketServer[M],
        codec: Codec[M],
        *,
        subprotocols: Sequence[str] = (),
        allowed_origins: Collection[str | None] | None = None,
        websocket_paths: Collection[str] | None = None,
        http_handler: Handler | None = None,
        compression: bool | PerMessageDeflate = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
    ) -> None: ...
    def __init__(  # noqa: PLR0913 - each is one documented option
        self,
        codec: Codec[M] | None = None,
        *,
        subprotocols: Sequence[str] = (),
        allowed_origins: Collection[str | None] | None = None,
        websocket_paths: Collection[str] | None = None,
        http_handler: Handler | None = None,
        compression: bool | PerMessageDeflate = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
    ) -> None:
        self._codec = codec
        self._subprotocols = tuple(subprotocols)
        self._origins = None if allowed_origins is None else frozenset(allowed_origins)
        self._paths = None if websocket_paths is None else frozenset(websocket_paths)
        self._handler = http_handler
        self._deflate = _deflate(compression)
        self.max_message_size: int = max_message_size
        """Largest message accepted, in bytes."""
        self._max_head_size = max_head_size
        # Stateless (never closed, no compressor): safe to share between threads.
        self._broadcast: WebSocketSender[M] = WebSocketSender(
            codec=codec, deflater=None, min_size=0, urandom=None
        )

    def __repr__(self) -> str:
        return (
            f"WebSocketServer({self._codec!r}, paths={self._paths!r}, "
            f"compression={self._deflate is not None})"
        )

    def decoder(self) -> WebSocketReceiver[M]:
        """Create one connection's receiving half (it answers HTTP, then the handshake)."""
        return WebSocketReceiver(
            ServerHandshake(
                subprotocols=self._subprotocols,
                allowed_origins=self._origins,
                websocket_paths=self._paths,
                http_handler=self._handler,
                deflate=self._deflate,
                max_head_size=self._max_head_size,
            ),
            codec=self._codec,
            max_message_size=self.max_message_size,
            deflate=self._deflate,
            urandom=None,
        )

    def encoder(self) -> None:
        """Return None: the sender comes in `Opened`, made when the handshake succeeds."""
        return

    def encode(self, event: M) -> bytes:
        """Build one unmasked, uncompressed frame of `event`, which any connection may send.

        Raises:
            LocalProtocolError: The message cannot be encoded.
        """
        return self._broadcast.send(event)


@final
class WebSocketClient(Generic[M]):
    """What a WebSocket client connection speaks: the upgrade request, then frames.

    The receiver's first `data_to_send()` (before any data arrives) is the upgrade request.

    Args:
        codec: As for `WebSocketServer`.
        host: The `Host` header, such as "example.com:8080".
        path: The request target, such as "/chat".
        origin: The `Origin` header, or None to send none.
        subprotocols: Subprotocols offered, in order of preference.
        compression: Offer permessage-deflate (default settings), not (False), or these.
        max_message_size: Largest message accepted, in bytes (1009 beyond).
        max_head_size: Largest HTTP response head accepted, in bytes.
        urandom: Randomness for keys and masks; `os.urandom` unless a test injects its own.
    """

    __slots__ = (
        "_codec",
        "_deflate",
        "_host",
        "_max_head_size",
        "_origin",
        "_path",
        "_subprotocols",
        "_urandom",
        "max_message_size",
    )

    @overload
    def __init__(
        self: WebSocketClient[str | bytes],
        codec: None = None,
        *,
        host: str,
        path: str = "/",
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        compression: bool | PerMessageDeflate = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        urandom: Callable[[int], bytes] = os.urandom,
    ) -> None: ...
    @overload
    def __init__(
        self: WebSocketClient[M],
        codec: Codec[M],
        *,
        host: str,
        path: str = "/",
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        compression: bool | PerMessageDeflate = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        urandom: Callable[[int], bytes] = os.urandom,
    ) -> None: ...
    def __init__(  # noqa: PLR0913 - each is one documented option
        self,
        codec: Codec[M] | None = None,
        *,
        host: str,
        path: str = "/",
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        compression: bool | PerMessageDeflate = True,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        urandom: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._codec = codec
        self._host = host
        self._path = path
        self._origin = origin
        self._subprotocols = tuple(subprotocols)
        self._deflate = _deflate(compression)
        self.max_message_size: int = max_message_size
        """Largest message accepted, in bytes."""
        self._max_head_size = max_head_size
        self._urandom = urandom

    def __repr__(self) -> str:
        return f"WebSocketClient({self._codec!r}, host={self._host!r}, path={self._path!r})"

    def decoder(self) -> WebSocketReceiver[M]:
        """Create one connection's receiving half; its first `data_to_send()` is the request."""
        return WebSocketReceiver(
            ClientHandshake(
                host=self._host,
                path=self._path,
                origin=self._origin,
                subprotocols=self._subprotocols,
                deflate=self._deflate,
                urandom=self._urandom,
                max_head_size=self._max_head_size,
            ),
            codec=self._codec,
            max_message_size=self.max_message_size,
            deflate=self._deflate,
            urandom=self._urandom,
        )

    def encoder(self) -> None:
        """Return None: the sender comes in `Opened`, made when the handshake succeeds."""
        return

    def encode(self, event: M) -> bytes:
        """Build one uncompressed frame of `event`, masked with a fresh key (clients must mask).

        Raises:
            LocalProtocolError: The message cannot be encoded.
        """
        return WebSocketSender(
            codec=self._codec, deflater=None, min_size=0, urandom=self._urandom
        ).send(event)
