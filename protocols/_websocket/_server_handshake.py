"""The server's opening handshake (RFC 6455 §4.2): HTTP requests until one upgrades.

Every request that is not a WebSocket upgrade on a WebSocket path goes to the `http_handler`
(404 without one), and the connection stays in HTTP, keep-alive included. An upgrade request is
checked in RFC order; the first failure is answered with its status and `Connection: close`, and
the handshake fails (`HandshakeError`, close_code None: there is no WebSocket to close):

| check                                        | failure                                  |
|----------------------------------------------|------------------------------------------|
| method is GET                                | 405, Allow: GET                          |
| HTTP/1.1 or later                            | 400                                      |
| `Connection` tokens include `upgrade`        | 400                                      |
| `Sec-WebSocket-Version: 13`                  | 426, Sec-WebSocket-Version: 13           |
| one `Sec-WebSocket-Key`, 16 bytes in base64  | 400                                      |
| `Origin` in `allowed_origins` (if given)     | 403                                      |

A handler that raises is answered with 500 and `Connection: close`, the handshake fails (with
the handler's exception as the `HandshakeError`'s cause), and the exception propagates out of
`receive_data`, so the I/O shell logs it as the bug it is.

Then the subprotocol is the first of the server's `subprotocols` the client offered (none if no
match: the client decides whether to go on), and permessage-deflate is negotiated.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Final, final

from protocols._websocket._errors import HandshakeError
from protocols._websocket._extension import negotiate
from protocols._websocket._handshake import Handshake, HandshakeResult, accept_key, split_tokens
from protocols.http import HttpError, HttpServerConnection, Request, Response

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from protocols._websocket._extension import DeflateParams, PerMessageDeflate
    from protocols.http import Handler

__all__ = ["ServerHandshake"]

_KEY_BYTES: Final = 16
_NOT_FOUND: Final = Response.text(404, "404 Not Found\n")
_SERVER_ERROR: Final = Response.text(500, "500 Internal Server Error\n")


class _Refused(Exception):  # noqa: N818 - internal signal carrying the response
    def __init__(self, status: int, message: str, *headers: tuple[str, str]) -> None:
        super().__init__(message)
        self.response = Response.text(status, f"{status} {message}\n", *headers)


@final
class ServerHandshake:
    """One connection's server handshake: HTTP until an upgrade succeeds or fails.

    Args:
        subprotocols: Subprotocols this server speaks, in order of preference.
        allowed_origins: Origins accepted (None in it accepts requests without Origin), or
            None to accept any.
        websocket_paths: Paths that upgrade, or None for any.
        http_handler: Answers every other request, or None for 404.
        deflate: permessage-deflate settings, or None for no compression.
        max_head_size: Largest request head, in bytes.
    """

    __slots__ = (
        "_allowed_origins",
        "_deflate",
        "_handler",
        "_http",
        "_out",
        "_paths",
        "_subprotocols",
        "error",
        "finished",
        "result",
    )

    def __init__(  # noqa: PLR0913 - each is one documented option
        self,
        *,
        subprotocols: Sequence[str],
        allowed_origins: Collection[str | None] | None,
        websocket_paths: Collection[str] | None,
        http_handler: Handler | None,
        deflate: PerMessageDeflate | None,
        max_head_size: int,
    ) -> None:
        self._subprotocols = subprotocols
        self._allowed_origins = allowed_origins
        self._paths = websocket_paths
        self._handler = http_handler
        self._deflate = deflate
        self._http = HttpServerConnection(max_head_size=max_head_size)
        self._out = bytearray()
        self.result: HandshakeResult | None = None
        """Set when an upgrade succeeded."""
        self.error: HandshakeError | None = None
        """Set when the handshake failed (its response is in the output)."""
        self.finished = False
        """Whether the HTTP connection ended (h11 says it must close after a response)."""

    def data_to_send(self) -> bytes:
        """Take the responses owed so far."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> None:
        """Read requests from `data` and answer each, until an upgrade or the end."""
        http = self._http
        http.receive_data(data)
        while self.result is None and self.error is None and not self.finished:
            try:
                request = http.next_request()
            except HttpError as exc:
                self._out += http.error_response(exc)
                self.error = HandshakeError(str(exc), status_code=exc.status_code)
                self.error.__cause__ = exc
                return
            if request is None:
                return
            if "websocket" in request.header_tokens("upgrade") and (
                self._paths is None or request.path in self._paths
            ):
                self._upgrade(request)
            else:
                response = self._answer(request)
                if response is None:
                    return
                self._out += http.respond(response)
                self.finished = http.must_close

    def _answer(self, request: Request) -> Response | None:
        """Return the handler's response; answer 500 and re-raise if the handler raises."""
        if self._handler is None:
            return _NOT_FOUND
        try:
            return self._handler(request)
        except Exception as exc:
            # A bug in the handler, not the peer's fault: answer as HTTP does, fail the
            # connection, and let the exception reach the caller of receive_data to be logged.
            self._out += self._http.respond(_SERVER_ERROR, close=True)
            self.error = HandshakeError(
                f"the HTTP handler raised {type(exc).__name__} for {request.method} "
                f"{request.target}; answered 500",
                status_code=500,
            )
            self.error.__cause__ = exc
            raise

    def _upgrade(self, request: Request) -> None:
        try:
            headers, details, deflate = self._check(request)
        except _Refused as refused:
            self._out += self._http.respond(refused.response, close=True)
            self.error = HandshakeError(
                f"WebSocket upgrade of {request.method} {request.target} refused with "
                f"{refused.response.status}: {refused}",
                status_code=refused.response.status,
            )
            return
        response, leftover = self._http.switch_protocols(headers)
        self._out += response
        self.result = HandshakeResult(details=details, deflate=deflate, leftover=leftover)

    def _check(
        self, request: Request
    ) -> tuple[list[tuple[str, str]], Handshake, DeflateParams | None]:
        if request.method != "GET":
            raise _Refused(
                405, f"a WebSocket upgrade must be GET, not {request.method}", ("allow", "GET")
            )
        if request.http_version in {"1.0", "0.9"}:
            raise _Refused(
                400, f"a WebSocket upgrade needs HTTP/1.1, not HTTP/{request.http_version}"
            )
        if "upgrade" not in request.header_tokens("connection"):
            raise _Refused(
                400, f"Connection: {request.header('connection')!r} lacks the 'upgrade' token"
            )
        version = request.header("sec-websocket-version")
        if version != "13":
            raise _Refused(
                426,
                f"Sec-WebSocket-Version {version!r} is not supported; this server speaks 13",
                ("sec-websocket-version", "13"),
            )
        keys = request.header_values("sec-websocket-key")
        if len(keys) != 1 or not _is_valid_key(keys[0]):
            raise _Refused(400, f"Sec-WebSocket-Key {keys!r} is not one base64 16-byte nonce")
        origin = request.header("origin")
        if self._allowed_origins is not None and origin not in self._allowed_origins:
            raise _Refused(403, f"Origin {origin!r} is not allowed")
        offered = split_tokens(request.header_values("sec-websocket-protocol"))
        subprotocol = next((name for name in self._subprotocols if name in offered), None)
        deflate = None
        if self._deflate is not None:
            deflate = negotiate(request.header_values("sec-websocket-extensions"), self._deflate)
        headers = [
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", accept_key(keys[0].strip())),
        ]
        if subprotocol is not None:
            headers.append(("sec-websocket-protocol", subprotocol))
        if deflate is not None:
            headers.append(("sec-websocket-extensions", deflate.header))
        details = Handshake(
            path=request.target,
            subprotocol=subprotocol,
            extensions=None if deflate is None else deflate.header,
            headers=request.headers,
            origin=origin,
        )
        return headers, details, deflate


def _is_valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == _KEY_BYTES
    except binascii.Error:
        return False
