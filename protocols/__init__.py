"""Wire protocols as pure objects: bytes in, events out, and back. No sockets here."""

from protocols._codec import Codec, RawCodec
from protocols._decoder import Decoder
from protocols._encoder import Encoder
from protocols._errors import FrameTooLarge, LocalProtocolError, ProtocolError, RemoteProtocolError
from protocols._framing import DEFAULT_MAX_FRAME_SIZE, Delimited, Framing, LengthPrefixed
from protocols._tagged import TaggedUnion
from protocols._wire import Wire
from protocols._wireprotocol import Opened, Receiver, Sender, WireProtocol

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "Codec",
    "Decoder",
    "Delimited",
    "Encoder",
    "FrameTooLarge",
    "Framing",
    "LengthPrefixed",
    "LocalProtocolError",
    "Opened",
    "ProtocolError",
    "RawCodec",
    "Receiver",
    "RemoteProtocolError",
    "Sender",
    "TaggedUnion",
    "Wire",
    "WireProtocol",
]
