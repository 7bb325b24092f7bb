"""HTTP/1.1 for the server side of a WebSocket door, on h11: requests in, responses out.

No HTTP parsing happens here: h11 parses and serialises; this module turns its events into two
small immutable values, `Request` and `Response`, and drives its request/response cycles for one
connection (`HttpServerConnection`, owned by the connection's reader):

- keep-alive: after each response the next request of the same connection is read (h11 cycles);
  `must_close` says when h11 decided the connection ends after the response;
- bounded heads: a request head over `max_head_size` bytes is answered 431 and the connection
  closed (h11's `max_incomplete_event_size`);
- no bodies: this side serves GET and HEAD from memory, so a request that announces a body is
  answered 413 without reading it, and the connection closed;
- HEAD: answered with the headers of the GET response (Content-Length included), no body;
- upgrades: `switch_protocols` sends a 101 and returns the bytes that followed the request.

The WebSocket handshake itself (which headers a 101 needs) lives in `protocols.websocket`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, TypeAlias, final

import h11

from protocols._errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DEFAULT_MAX_HEAD_SIZE",
    "Handler",
    "HttpError",
    "HttpServerConnection",
    "Request",
    "Response",
]

DEFAULT_MAX_HEAD_SIZE: Final = 16 * 1024
"""Largest request head (request line and headers) accepted, in bytes: h11's own default.

Browsers send 0.5-2 KiB, more with big cookies; 16 KiB is what h11 and many servers allow.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One HTTP request head (this side accepts no request bodies)."""

    method: str
    """The method, as sent: "GET", "HEAD", ..."""
    target: str
    """The request target as sent, such as "/chat?room=lobby"."""
    headers: tuple[tuple[str, str], ...]
    """Header (name, value) pairs in order; names lower-case, values decoded as Latin-1."""
    http_version: str = "1.1"
    """The HTTP version, such as "1.1"."""

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The query string (after "?"), or ""."""
        return self.target.partition("?")[2]

    def header(self, name: str) -> str | None:
        """Return the values of header `name` (any case) joined by ", ", or None if absent."""
        name = name.lower()
        values = [value for key, value in self.headers if key == name]
        return ", ".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        """Return every value of header `name` (any case), one per header line."""
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def header_tokens(self, name: str) -> list[str]:
        """Return the comma-separated tokens of header `name`, stripped and lower-case."""
        return [
            token.strip().lower()
            for value in self.header_values(name)
            for token in value.split(",")
            if token.strip()
        ]


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response: status, headers and the whole body.

    Content-Length is added when sending; a HEAD request gets the headers only.
    """

    status: int
    """The status code, such as 200 or 404."""
    headers: tuple[tuple[str, str], ...] = ()
    """Header (name, value) pairs; Content-Length is computed, do not set it."""
    body: bytes = b""
    """The body, held in memory."""

    @classmethod
    def text(cls, status: int, text: str, *headers: tuple[str, str]) -> Response:
        """Make a plain-text UTF-8 response."""
        return cls(status, (("content-type", "text/plain; charset=utf-8"), *headers), text.encode())


Handler: TypeAlias = Callable[[Request], Response]
"""Type of an HTTP handler: one request in, its response out, synchronously and cheaply."""


class HttpError(RemoteProtocolError):
    """Error raised when the peer's HTTP cannot be accepted; `response` was sent in reply.

    Args:
        message: What was wrong.
        status_code: The status of the error response (400, 413, 431).
    """

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code: int = status_code
        """The status of the error response sent."""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@final
class HttpServerConnection:
    """One connection's HTTP/1.1 server side: request heads in, responses out (h11 inside).

    Owned by one reader. Call `receive_data`, then `next_request` until it returns None; answer
    each request with `respond` (or `switch_protocols`) before asking for the next.

    Args:
        max_head_size: Largest request head accepted, in bytes (431 beyond).
    """

    __slots__ = ("_conn", "_max_head_size", "_request")

    def __init__(self, *, max_head_size: int = DEFAULT_MAX_HEAD_SIZE) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head_size)
        self._max_head_size = max_head_size
        self._request: Request | None = None

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; `b""` means it closed its side."""
        self._conn.receive_data(data)

    @property
    def must_close(self) -> bool:
        """Whether the connection ends after the last response (h11's MUST_CLOSE)."""
        return self._conn.our_state in {h11.MUST_CLOSE, h11.CLOSED}

    def next_request(self) -> Request | None:
        """Return the next complete request head, or None if more data is needed.

        Raises:
            HttpError: The request is malformed (400), its head too big (431) or it has a body
                (413); the error response is in `error_response`, already built.
        """
        conn = self._conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise HttpError(
                    f"malformed HTTP request: {exc}", status_code=exc.error_status_hint
                ) from exc
            if isinstance(event, h11.Request):
                request = Request(
                    method=event.method.decode("ascii"),
                    target=event.target.decode("ascii"),
                    headers=tuple(
                        (name.decode("ascii"), value.decode("latin-1"))
                        for name, value in event.headers
                    ),
                    http_version=event.http_version.decode("ascii"),
                )
                self._request = request
                # h11 bounds only a head still incomplete; one that arrived whole in a single
                # read is measured here (request line and header lines, CRLFs included).
                head_size = (
                    len(event.method) + len(event.target) + 12
                    + sum(len(name) + len(value) + 4 for name, value in event.headers) + 2
                )
                if head_size > self._max_head_size:
                    raise HttpError(
                        f"request head of {head_size} bytes exceeds max_head_size="
                        f"{self._max_head_size}; send fewer or shorter headers",
                        status_code=431,
                    )
                if request.header("transfer-encoding") is not None or request.header(
                    "content-length"
                ) not in {None, "0"}:
                    raise HttpError(
                        f"{request.method} {request.target} has a body; this server accepts "
                        "none (send GET or HEAD without Content-Length or Transfer-Encoding)",
                        status_code=413,
                    )
            elif isinstance(event, h11.EndOfMessage):
                assert self._request is not None
                return self._request
            else:
                # NEED_DATA, PAUSED (an upgrade awaits its answer), ConnectionClosed.
                return None

    def error_response(self, error: HttpError) -> bytes:
        """Return the response for `error`, with `Connection: close`, or b"" if none can be sent."""
        return self.respond(
            Response.text(
                error.status_code, f"{error.status_code} {_phrase(error.status_code)}\n{error}\n"
            ),
            close=True,
        )

    def respond(self, response: Response, *, close: bool = False) -> bytes:
        """Build the response to the current request (headers only for HEAD).

        Args:
            response: The response.
            close: Add `Connection: close` (then `must_close` becomes true).

        Returns:
            The bytes to send, or b"" if h11 cannot send a response now (the connection is
            beyond answering: close it).
        """
        headers = [
            *response.headers,
            ("content-length", str(len(response.body))),
        ]
        if close:
            headers.append(("connection", "close"))
        head_only = self._request is not None and self._request.method == "HEAD"
        try:
            out = self._conn.send(
                h11.Response(
                    status_code=response.status,
                    headers=headers,
                    reason=_phrase(response.status).encode("ascii"),
                )
            )
            if response.body and not head_only:
                out += self._conn.send(h11.Data(data=response.body))
            out += self._conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            if exc.error_status_hint == 500 and self._conn.our_state is h11.ERROR:
                return b""
            raise LocalProtocolError(f"cannot send {response.status} response: {exc}") from exc
        self._request = None
        return out or b""

    def switch_protocols(self, headers: list[tuple[str, str]]) -> tuple[bytes, bytes]:
        """Send 101 Switching Protocols for the current (upgrade) request.

        Returns:
            The 101 response's bytes, and the bytes that followed the request (the new
            protocol's first bytes, possibly b"").
        """
        out = self._conn.send(
            h11.InformationalResponse(
                status_code=101, headers=headers, reason=b"Switching Protocols"
            )
        )
        trailing, _closed = self._conn.trailing_data
        self._request = None
        return out or b"", bytes(trailing)
