"""What both sides of the opening handshake share (RFC 6455 §4): the accept key and the result."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from protocols._websocket._extension import DeflateParams

__all__ = ["GUID", "Handshake", "HandshakeResult", "accept_key", "split_tokens"]

#: The GUID RFC 6455 §1.3 appends to the client's key.
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """Compute `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID))."""
    digest = hashlib.sha1((key + GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def split_tokens(values: list[str]) -> list[str]:
    """Split comma-separated header values into stripped tokens, keeping their case."""
    return [token.strip() for value in values for token in value.split(",") if token.strip()]


@dataclass(frozen=True, slots=True, kw_only=True)
class Handshake:
    """What an opening handshake established, for the session (`Opened.details`)."""

    path: str
    """The request target (path and query) the client asked for."""
    subprotocol: str | None
    """The subprotocol agreed (`Sec-WebSocket-Protocol`), or None."""
    extensions: str | None
    """The `Sec-WebSocket-Extensions` the server answered, such as "permessage-deflate; ...",
    or None for no extension."""
    headers: tuple[tuple[str, str], ...]
    """The peer's headers: the request's (on a server) or the 101 response's (on a client);
    names lower-case."""
    origin: str | None
    """The request's `Origin`, or None if the client sent none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeResult:
    """A successful handshake, as the receiver needs it to open the connection."""

    details: Handshake
    deflate: DeflateParams | None
    leftover: bytes
    """Bytes received after the handshake: the first frames."""
