"""Wire: what a connection speaks (a framing and a codec); makes its Decoder and Encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, final

from protocols._decoder import Decoder
from protocols._encoder import Encoder

if TYPE_CHECKING:
    from protocols._codec import Codec
    from protocols._framing import Framing

__all__ = ["Wire"]

M = TypeVar("M")


@final
class Wire(Generic[M]):
    """Description of what a connection speaks: a framing and a codec, shared by every connection.

    A `Wire` holds no per-connection state: each connection gets its own `Decoder` (for its reader)
    and `Encoder` (for its writer).

    Args:
        framing: Where frames end, and the frame size limit.
        codec: How a payload becomes a message and back.
    """

    __slots__ = ("codec", "framing")

    def __init__(self, framing: Framing, codec: Codec[M]) -> None:
        self.framing: Framing = framing
        """Where frames end, and the frame size limit."""
        self.codec: Codec[M] = codec
        """How a payload becomes a message and back."""

    def __repr__(self) -> str:
        return f"Wire({self.framing!r}, {self.codec!r})"

    def decoder(self) -> Decoder[M]:
        """Create a decoder for one connection's incoming bytes."""
        return Decoder(self.framing, self.codec)

    def encoder(self) -> Encoder[M]:
        """Create an encoder for one connection's outgoing messages."""
        return Encoder(self.framing, self.codec)

    def encode(self, message: M) -> bytes:
        """Encode and frame one message, such as a broadcast written to many connections.

        Args:
            message: The message to send.

        Returns:
            The framed bytes; the same object may be handed to many writers.

        Raises:
            LocalProtocolError: The message cannot be encoded or its payload is too large to frame.
        """
        return self.framing.frame(self.codec.encode(message))
