"""Encoder: messages to one peer in, framed bytes out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, final

if TYPE_CHECKING:
    from protocols._codec import Codec
    from protocols._framing import Framing

__all__ = ["Encoder"]

M = TypeVar("M")


@final
class Encoder(Generic[M]):
    """Encoder of messages into framed bytes for one peer, owned by one writer.

    Args:
        framing: How each payload is framed, and the frame size limit.
        codec: How a message becomes a payload.
    """

    __slots__ = ("_codec", "_framing")

    def __init__(self, framing: Framing, codec: Codec[M]) -> None:
        self._framing = framing
        self._codec = codec

    def __repr__(self) -> str:
        return f"<Encoder {self._framing!r} {self._codec!r}>"

    def send(self, message: M) -> bytes:
        """Encode and frame one message.

        Args:
            message: The message to send.

        Returns:
            The framed bytes, ready to write; nothing is written here.

        Raises:
            LocalProtocolError: The message cannot be encoded or its payload is too large to frame.
        """
        return self._framing.frame(self._codec.encode(message))

    def close(self, code: int, reason: str) -> bytes:  # noqa: ARG002 - the Sender signature
        """Return b"": a framed stream ends with the connection, without a goodbye of its own."""
        return b""

    @property
    def awaits_peer_close(self) -> bool:
        """False: nothing to wait for once the last frame is written."""
        return False
