"""WebSocket errors: the peer broke the protocol, and the close code that says how.

```
RemoteProtocolError              (protocols)
  WebSocketProtocolError         .close_code: sent to the peer in a Close frame
    MessageTooBig                .size, .limit; close code 1009
  HandshakeError                 .status_code: the HTTP response sent (server) or received
                                 (client); .close_code is None, no WebSocket was ever open
```
"""

from __future__ import annotations

__all__ = ["HandshakeError", "MessageTooBig", "WebSocketProtocolError"]

from protocols._errors import RemoteProtocolError


class WebSocketProtocolError(RemoteProtocolError):
    """Error raised when the peer's frames break RFC 6455 or RFC 7692.

    The Close frame carrying `close_code` is already in the receiver's `data_to_send()` when this
    is raised, unless `close_code` is 1006 (the peer closed the TCP connection mid-frame, so no
    Close frame is owed).

    Args:
        message: What was wrong, with the value, the limit and the way out.
        close_code: The RFC 6455 §7.4.1 status code reported to the peer.
    """

    def __init__(self, message: str, *, close_code: int) -> None:
        super().__init__(message)
        self.close_code: int | None = close_code
        """RFC 6455 status code sent to the peer: 1002, 1003, 1007, 1009, or 1006 (none sent)."""


class MessageTooBig(WebSocketProtocolError):  # noqa: N818 - named like FrameTooLarge
    """Error raised when a message (declared, assembled or inflated) exceeds `max_message_size`.

    Raised as soon as the size is known: a frame's declared length is checked before its payload
    is buffered, and inflation stops one byte past the limit.

    Args:
        size: Bytes the message has at least.
        limit: `max_message_size`, in bytes.
        what: Which count exceeded the limit ("declared frame", "message", "inflated message").
    """

    def __init__(self, size: int, limit: int, *, what: str) -> None:
        super().__init__(
            f"{what} of {'at least ' if what.startswith('inflated') else ''}{size} bytes exceeds "
            f"max_message_size={limit}; raise max_message_size if such messages are expected",
            close_code=1009,
        )
        self.size: int = size
        """Bytes the message has (at least)."""
        self.limit: int = limit
        """The limit exceeded, in bytes."""


class HandshakeError(RemoteProtocolError):
    """Error raised when the opening handshake fails: no WebSocket connection exists.

    On a server, the HTTP error response (400, 403, 426, ...) is already in `data_to_send()`; on
    a client, `status_code` is the server's answer (or None if the answer was not valid HTTP).

    Args:
        message: What was wrong.
        status_code: The HTTP status sent (server) or received (client), or None.
    """

    def __init__(self, message: str, *, status_code: int | None) -> None:
        super().__init__(message)
        self.status_code: int | None = status_code
        """HTTP status of the response sent (server) or received (client), or None."""
        self.close_code: int | None = None
        """Always None: there was no WebSocket connection to send a Close frame on."""
