"""The client's opening handshake (RFC 6455 §4.1): the upgrade request, and checking the 101.

The request carries a fresh 16-byte key, `Host`, an optional `Origin`, the subprotocols and the
permessage-deflate offer. The answer must be a 101 with `Upgrade: websocket`, `Connection:
upgrade`, the right `Sec-WebSocket-Accept`, a subprotocol we offered (or none) and extensions we
offered (or none); anything else fails with `HandshakeError` (status_code = the server's status,
None if its answer was not HTTP).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Final, final

import h11

from protocols._websocket._errors import HandshakeError
from protocols._websocket._extension import accept_response
from protocols._websocket._handshake import Handshake, HandshakeResult, accept_key, split_tokens

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from protocols._websocket._extension import DeflateParams, PerMessageDeflate

__all__ = ["ClientHandshake"]

_KEY_BYTES: Final = 16


@final
class ClientHandshake:
    """One connection's client handshake: the request first, then the server's answer.

    Args:
        host: The `Host` header ("example.com" or "example.com:8080").
        path: The request target.
        origin: The `Origin` header, or None.
        subprotocols: Subprotocols offered, in order of preference.
        deflate: permessage-deflate to offer, or None.
        urandom: Source of randomness for the key (`os.urandom`; tests inject their own).
        max_head_size: Largest response head accepted, in bytes.
    """

    __slots__ = (
        "_conn",
        "_deflate",
        "_key",
        "_origin",
        "_out",
        "_path",
        "_subprotocols",
        "error",
        "result",
    )

    def __init__(  # noqa: PLR0913 - each is one documented option
        self,
        *,
        host: str,
        path: str,
        origin: str | None,
        subprotocols: Sequence[str],
        deflate: PerMessageDeflate | None,
        urandom: Callable[[int], bytes],
        max_head_size: int,
    ) -> None:
        self._path = path
        self._origin = origin
        self._subprotocols = subprotocols
        self._deflate = deflate
        self._key = base64.b64encode(urandom(_KEY_BYTES)).decode("ascii")
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head_size)
        headers = [
            ("host", host),
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-key", self._key),
            ("sec-websocket-version", "13"),
        ]
        if origin is not None:
            headers.append(("origin", origin))
        if subprotocols:
            headers.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        if deflate is not None:
            headers.append(("sec-websocket-extensions", deflate.offer()))
        request = h11.Request(method="GET", target=path, headers=headers)
        self._out = (self._conn.send(request) or b"") + (self._conn.send(h11.EndOfMessage()) or b"")
        self.result: HandshakeResult | None = None
        """Set when the server accepted."""
        self.error: HandshakeError | None = None
        """Set when the handshake failed."""

    def data_to_send(self) -> bytes:
        """Take the upgrade request (once; b"" afterwards)."""
        out, self._out = self._out, b""
        return out

    def receive_data(self, data: bytes) -> None:
        """Read the server's answer from `data` (`b""`: the server closed)."""
        conn = self._conn
        conn.receive_data(data)
        while self.result is None and self.error is None:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                if not data:
                    self._fail("server closed the connection before answering the upgrade", None)
                else:
                    self._fail(f"server's answer is not valid HTTP: {exc}", None)
                return
            if isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                self._check(event)
            elif isinstance(event, h11.Response):
                self._fail(
                    f"server answered {event.status_code} {event.reason.decode('latin-1')} to "
                    f"the upgrade of {self._path}, not 101",
                    event.status_code,
                )
            elif isinstance(event, h11.ConnectionClosed):
                self._fail("server closed the connection before answering the upgrade", None)
            elif event is h11.NEED_DATA or event is h11.PAUSED:
                return
            # Other 1xx responses (100 Continue, 103 Early Hints) precede the real answer.

    def _fail(self, message: str, status: int | None) -> None:
        self.error = HandshakeError(message, status_code=status)

    def _check(self, event: h11.InformationalResponse) -> None:
        headers = tuple(
            (name.decode("ascii"), value.decode("latin-1")) for name, value in event.headers
        )

        def values(name: str) -> list[str]:
            return [value for key, value in headers if key == name]

        upgrade = [token.lower() for token in split_tokens(values("upgrade"))]
        connection = [token.lower() for token in split_tokens(values("connection"))]
        accept = values("sec-websocket-accept")
        protocols = split_tokens(values("sec-websocket-protocol"))
        expected = accept_key(self._key)
        if upgrade != ["websocket"]:
            self._fail(f"101 response has Upgrade {values('upgrade')!r}, not websocket", 101)
        elif "upgrade" not in connection:
            self._fail(f"101 response's Connection {values('connection')!r} lacks upgrade", 101)
        elif accept != [expected]:
            self._fail(
                f"101 response has Sec-WebSocket-Accept {accept!r}; expected {expected!r}", 101
            )
        elif len(protocols) > 1 or (protocols and protocols[0] not in self._subprotocols):
            self._fail(
                f"server chose subprotocol {protocols!r}; we offered {list(self._subprotocols)!r}",
                101,
            )
        else:
            deflate: DeflateParams | None = None
            extensions = values("sec-websocket-extensions")
            if extensions and self._deflate is None:
                self._fail(f"server accepted extensions {extensions!r}; we offered none", 101)
                return
            if self._deflate is not None:
                try:
                    deflate = accept_response(extensions, self._deflate)
                except ValueError as exc:
                    self._fail(f"server's Sec-WebSocket-Extensions refused: {exc}", 101)
                    return
            trailing, _closed = self._conn.trailing_data
            self.result = HandshakeResult(
                details=Handshake(
                    path=self._path,
                    subprotocol=protocols[0] if protocols else None,
                    extensions=None if deflate is None else deflate.header,
                    headers=headers,
                    origin=self._origin,
                ),
                deflate=deflate,
                leftover=bytes(trailing),
            )
