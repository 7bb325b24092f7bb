"""Protocol errors: who broke the protocol, this side or the peer.

```
ProtocolError            base, never raised itself
  LocalProtocolError     this side tried to send what the protocol forbids: a bug here
  RemoteProtocolError    the peer sent what cannot be accepted; .reply_hint = event to send first
    FrameTooLarge        .size, .limit
```
"""

from __future__ import annotations

__all__ = ["FrameTooLarge", "LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base of the errors raised when bytes or events break a protocol.

    Never raised itself: catch it, but raise `LocalProtocolError` or `RemoteProtocolError`, which
    say whose bug it is.
    """

    def __init__(self, *args: object) -> None:
        if type(self) is ProtocolError:
            raise TypeError(
                "ProtocolError is abstract; raise LocalProtocolError or RemoteProtocolError"
            )
        super().__init__(*args)


class LocalProtocolError(ProtocolError):
    """Error raised when this side tries to send what the protocol forbids.

    It is a bug in this program (a string too long for its length prefix, a frame over the limit),
    not something the peer did; the connection itself is still sound.
    """


class RemoteProtocolError(ProtocolError):
    """Error raised when the peer sends bytes that cannot be accepted.

    The connection cannot be trusted any more: the server should send `reply_hint` (if any) and
    close.

    Args:
        message: What was wrong, with the value, the limit and the way out.
        reply_hint: An event the server should send before closing, or None.
    """

    def __init__(self, message: str, *, reply_hint: object | None = None) -> None:
        super().__init__(message)
        self.reply_hint: object | None = reply_hint
        """Event to send to the peer before closing, or None to just close."""


class FrameTooLarge(RemoteProtocolError):  # noqa: N818 - the name says what, like h11's errors
    """Error raised when the peer declares or sends a frame over the size limit.

    Raised as soon as the size is known, before the body is buffered.

    Args:
        size: Size of the frame's payload in bytes (of an unterminated line: the bytes seen so far).
        limit: The limit it exceeds, in bytes.
        setting: Name of the setting that holds the limit, so the message says what to raise.
        at_least: True if `size` is a lower bound (a line whose delimiter has not arrived).
        reply_hint: An event the server should send before closing, or None.
    """

    def __init__(
        self,
        size: int,
        limit: int,
        *,
        setting: str = "max_frame_size",
        at_least: bool = False,
        reply_hint: object | None = None,
    ) -> None:
        bound = "at least " if at_least else ""
        super().__init__(
            f"frame of {bound}{size} bytes exceeds {setting}={limit}", reply_hint=reply_hint
        )
        self.size: int = size
        """Payload size in bytes (a lower bound if the frame is an unterminated line)."""
        self.limit: int = limit
        """The limit exceeded, in bytes."""
