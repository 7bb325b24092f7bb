# ruff: noqa: INP001 - fuzz/ holds scripts run by path, not a package
"""Shared by the atheris targets: cut the fuzz input into chunks, feed a Decoder, check it.

Layout of a fuzz input, after the target's own selector byte (see each target):

```
byte 0        k = byte % 8: how many chunk-size bytes follow
bytes 1..k    chunk sizes, each byte + 1 (1..256), used in turn and repeated; none: one chunk
rest          the bytes (the stream, or a payload the target frames first)
```

Anything but a `ProtocolError` escaping a Decoder, and any broken invariant (raised here as a
`InvariantError`), is a crash: atheris prints the traceback and libFuzzer saves the input.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from typing import TYPE_CHECKING, Any

import atheris  # type: ignore[import-untyped]

from protocols import (
    Decoder,
    Delimited,
    LengthPrefixed,
    ProtocolError,
    RemoteProtocolError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from protocols import Codec, Framing

__all__ = ["Fed", "InvariantError", "check_decoding", "cut", "fuzz", "header_size", "split"]


class InvariantError(AssertionError):
    """An invariant of the protocols package does not hold for this input: a bug to report."""


def split(data: bytes) -> tuple[list[int], bytes]:
    """Return the chunk sizes the input asks for, and the rest of the input."""
    if not data:
        return [], b""
    count = data[0] % 8
    return [size + 1 for size in data[1 : 1 + count]], data[1 + count :]


def cut(stream: bytes, sizes: list[int]) -> list[bytes]:
    """Cut a stream into chunks of the given sizes in turn; no chunk is empty (that means EOF)."""
    if not sizes:
        return [stream] if stream else []
    chunks: list[bytes] = []
    pos = 0
    for size in itertools.cycle(sizes):
        if pos >= len(stream):
            break
        chunks.append(stream[pos : pos + size])
        pos += size
    return chunks


def header_size(framing: Framing) -> int:
    """Bytes a frame adds to its payload: the length header or the delimiter."""
    if isinstance(framing, LengthPrefixed):
        return framing.width
    if isinstance(framing, Delimited):
        return len(framing.delimiter)
    raise TypeError(f"unknown framing {framing!r}")


@dataclasses.dataclass
class Fed:
    """What a decoder gave for a whole stream: every message, and the error that stopped it."""

    events: list[Any]
    error: RemoteProtocolError | None


def feed(framing: Framing, codec: Codec[Any], chunks: list[bytes]) -> Fed:
    """Feed chunks then EOF to a new Decoder; check the buffer bound after every chunk."""
    decoder = Decoder(framing, codec)
    fed = Fed([], None)
    bound = framing.max_frame_size + header_size(framing)
    for chunk in [*chunks, b""]:
        decoder.receive_data(chunk)
        if decoder.buffered >= bound:
            raise InvariantError(f"{decoder} holds more than one partial frame (limit {bound})")
        try:
            fed.events += decoder.events()
        except ProtocolError as exc:
            if not isinstance(exc, RemoteProtocolError):
                message = f"peer bytes raised {exc!r}, not a RemoteProtocolError"
                raise InvariantError(message) from exc
            if fed.error not in (None, exc):
                message = f"two errors from one decoder: {fed.error!r}, {exc!r}"
                raise InvariantError(message) from exc
            fed.error = exc
    return fed


def check_decoding(framing: Framing, codec: Codec[Any], stream: bytes, chunks: list[bytes]) -> Fed:
    """Decode `stream` cut into `chunks` and whole, and check everything that must hold.

    - Cut or whole, the same messages come out, and the same class of error.
    - Each message re-encodes and decodes to an equal message.
    - Framing the re-encoded messages gives back the front of the stream, byte for byte; all of
      it exactly when no error stopped the decoder.

    Returns:
        What the decoder gave for the chunks.
    """
    fed = feed(framing, codec, chunks)
    if len(chunks) > 1:
        whole = feed(framing, codec, [stream])
        if whole.events != fed.events or type(whole.error) is not type(fed.error):
            raise InvariantError(
                f"cut into {len(chunks)} chunks: {fed.events!r}, {fed.error!r}; "
                f"whole: {whole.events!r}, {whole.error!r}"
            )
    echoed: list[bytes] = []
    for message in fed.events:
        payload = codec.encode(message)
        again = codec.decode(payload)
        if again != message:
            raise InvariantError(f"{message!r} re-encoded as {payload!r} decodes to {again!r}")
        echoed.append(framing.frame(payload))
    consumed = b"".join(echoed)
    if not stream.startswith(consumed):
        raise InvariantError(f"messages re-frame to {consumed!r}; the stream is {stream!r}")
    if (fed.error is None) != (consumed == stream):
        raise InvariantError(
            f"error {fed.error!r}, yet {len(consumed)} of {len(stream)} bytes re-framed"
        )
    return fed


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    """Run a target under libFuzzer, passing it the command line's libFuzzer flags."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
