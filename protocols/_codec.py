"""Codecs: one frame's payload to one message and back."""

from __future__ import annotations

from typing import Protocol, TypeVar, final

from protocols._errors import LocalProtocolError

__all__ = ["Codec", "RawCodec"]

M = TypeVar("M")


class Codec(Protocol[M]):
    """Translation between one frame's payload and one message of type `M`."""

    def decode(self, payload: bytes) -> M:
        """Turn one payload from the peer into a message.

        Args:
            payload: The bytes of one frame, without framing.

        Returns:
            The message.

        Raises:
            RemoteProtocolError: The payload is not a valid message (and nothing else).
        """
        ...

    def encode(self, message: M) -> bytes:
        """Turn one message into a payload for the peer.

        Args:
            message: The message to send.

        Returns:
            The payload, without framing.

        Raises:
            LocalProtocolError: The message cannot be encoded (and nothing else).
        """
        ...


@final
class RawCodec:
    """Identity codec: each message is the frame's payload as bytes."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RawCodec()"

    def decode(self, payload: bytes) -> bytes:
        """Return the payload as immutable bytes."""
        return bytes(payload)

    def encode(self, message: object) -> bytes:
        """Return the message as immutable bytes.

        Raises:
            LocalProtocolError: The message is not bytes-like (a str must be encoded first).
        """
        if type(message) is bytes:
            return message
        if isinstance(message, bytearray | memoryview):
            return bytes(message)
        raise LocalProtocolError(
            f"RawCodec sends bytes, not {type(message).__name__}; encode the message first"
        )
