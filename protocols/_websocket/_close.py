"""Close codes (RFC 6455 §7.4) and Close frame payloads, in both directions."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

from protocols._errors import LocalProtocolError
from protocols._websocket._errors import WebSocketProtocolError

__all__ = [
    "MAX_REASON_BYTES",
    "CloseCode",
    "CloseInfo",
    "build_close_payload",
    "parse_close_payload",
]


class CloseCode(enum.IntEnum):
    """Status codes of RFC 6455 §7.4.1 and the IANA registry; 3000-4999 belong to applications."""

    #: The purpose of the connection has been fulfilled.
    NORMAL_CLOSURE = 1000
    #: A server going down, or a browser leaving the page.
    GOING_AWAY = 1001
    #: The peer broke the protocol.
    PROTOCOL_ERROR = 1002
    #: A type of data this endpoint cannot accept (here: text to a binary-only codec).
    UNSUPPORTED_DATA = 1003
    #: Never sent: the frame had no status code.
    NO_STATUS_RCVD = 1005
    #: Never sent: the connection closed without a Close frame.
    ABNORMAL_CLOSURE = 1006
    #: Payload not consistent with the message type: bad UTF-8, or an undecodable payload.
    INVALID_FRAME_PAYLOAD_DATA = 1007
    #: A message that violates the endpoint's policy.
    POLICY_VIOLATION = 1008
    #: A message too big to process.
    MESSAGE_TOO_BIG = 1009
    #: Client only: the server did not negotiate an extension the client requires.
    MANDATORY_EXTENSION = 1010
    #: An unexpected condition on the server.
    INTERNAL_ERROR = 1011
    #: The service is restarting (IANA registry).
    SERVICE_RESTART = 1012
    #: Try again later (IANA registry).
    TRY_AGAIN_LATER = 1013
    #: A gateway got a bad response upstream (IANA registry).
    BAD_GATEWAY = 1014
    #: Never sent: the TLS handshake failed.
    TLS_HANDSHAKE = 1015


#: Longest reason that fits a control frame's 125 bytes after the 2-byte code.
MAX_REASON_BYTES: Final = 123

# Codes a Close frame may carry (RFC 6455 §7.4.1-2, plus 1012-1014 from the IANA registry,
# which browsers send); 1004 is reserved, 1005, 1006 and 1015 "MUST NOT be set".
_SENDABLE: Final = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)
_APPLICATION: Final = range(3000, 5000)
_CODE: Final = struct.Struct(">H")


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseInfo:
    """What a Close frame said: its status code and reason."""

    code: int
    """The status code; 1005 (`NO_STATUS_RCVD`) if the frame carried none."""
    reason: str
    """The reason, possibly empty."""


def is_valid_close_code(code: int) -> bool:
    """Whether `code` may appear in a Close frame on the wire."""
    return code in _SENDABLE or code in _APPLICATION


def parse_close_payload(payload: bytes) -> CloseInfo:
    """Read a Close frame's payload, validating the code and the reason.

    Raises:
        WebSocketProtocolError: A 1-byte payload or an invalid code (1002), or a reason that
            is not UTF-8 (1007).
    """
    if not payload:
        return CloseInfo(code=CloseCode.NO_STATUS_RCVD, reason="")
    if len(payload) == 1:
        raise WebSocketProtocolError(
            f"Close frame with a 1-byte payload {payload!r}: a close code takes 2 bytes (RFC 6455 "
            "§5.5.1); the peer must send 0 bytes or a 2-byte code and a reason",
            close_code=CloseCode.PROTOCOL_ERROR,
        )
    (code,) = _CODE.unpack_from(payload)
    if not is_valid_close_code(code):
        raise WebSocketProtocolError(
            f"Close frame with code {code}, which no endpoint may send; valid codes are "
            "1000-1003, 1007-1014 and 3000-4999 (RFC 6455 §7.4)",
            close_code=CloseCode.PROTOCOL_ERROR,
        )
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebSocketProtocolError(
            f"Close frame reason is not UTF-8 at byte {exc.start} ({exc.reason}); RFC 6455 "
            "§5.5.1 requires UTF-8",
            close_code=CloseCode.INVALID_FRAME_PAYLOAD_DATA,
        ) from exc
    return CloseInfo(code=code, reason=reason)


def build_close_payload(code: int, reason: str) -> bytes:
    """Build a Close frame's payload: code and reason, the reason cut to fit 123 bytes of UTF-8.

    `code` 1005 (no status) builds an empty payload, as RFC 6455 §7.4.1 has it mean.

    Raises:
        LocalProtocolError: `code` may not be sent (1004-1006, 1015, below 1000, 1016-2999, 5000+).
    """
    if code == CloseCode.NO_STATUS_RCVD:
        return b""
    if not is_valid_close_code(code):
        raise LocalProtocolError(
            f"close code {code} may not be sent; use 1000 (normal), 1001 (going away), "
            "1011 (internal error) or an application code in 3000-4999"
        )
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_REASON_BYTES:
        # Cut at a character boundary so the reason stays valid UTF-8.
        encoded = encoded[:MAX_REASON_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return _CODE.pack(code) + encoded
