# ruff: noqa: INP001 - fuzz/ holds scripts run by path, not a package
"""Fuzz the sample TaggedUnion, fast path against plain construct: `python fuzz/fuzz_sample.py`.

Input: one mode byte, then the layout of `_harness.split`: chunk sizes, then the bytes. Bit 0 of
the mode byte: 0 sends the bytes as they are, 1 frames them as one payload first. Bits 1-2 pick
the framing. Each payload is decoded by the derived fast path and by plain construct: both must
give an equal message or both a RemoteProtocolError, and both must build the same bytes.
"""

from __future__ import annotations

from typing import Any

import atheris  # type: ignore[import-untyped]

# Coverage is measured in these; the plain path runs in construct, so it counts too.
INSTRUMENTED = ("protocols", "construct", "_harness")

with atheris.instrument_imports(include=INSTRUMENTED):
    from _harness import InvariantError, check_decoding, cut, fuzz, split
    from construct import Int8ub  # type: ignore[import-untyped]

    from protocols import Delimited, Framing, LengthPrefixed, ProtocolError, TaggedUnion
    from protocols._sample import (
        SAMPLE_CODEC,
        SAMPLE_HELLO,
        SAMPLE_POST,
        SampleHello,
        SampleMessage,
        SamplePost,
        SampleTag,
    )

PLAIN_CODEC = TaggedUnion[SampleMessage](
    Int8ub,
    {SampleTag.HELLO: (SampleHello, SAMPLE_HELLO), SampleTag.POST: (SamplePost, SAMPLE_POST)},
    fast=False,
)
FRAMINGS: list[Framing] = [
    LengthPrefixed(),
    LengthPrefixed(width=2, byteorder="little", max_frame_size=300),
    LengthPrefixed(width=1, max_frame_size=20),
    Delimited(b"\n"),
]


def _outcome(codec: TaggedUnion[SampleMessage], payload: bytes) -> tuple[str, Any]:
    try:
        return "message", codec.decode(payload)
    except ProtocolError as exc:
        return "error", type(exc)


class FastAgreesWithPlain:
    """Sample codec that decodes and encodes both ways and insists they agree."""

    def decode(self, payload: bytes) -> SampleMessage:
        """Decode with both; return the message, or raise the fast path's error."""
        fast, plain = _outcome(SAMPLE_CODEC, payload), _outcome(PLAIN_CODEC, payload)
        if fast != plain:
            raise InvariantError(f"{payload!r}: fast path gives {fast}, plain construct {plain}")
        return SAMPLE_CODEC.decode(payload)

    def encode(self, message: SampleMessage) -> bytes:
        """Encode with both; return the bytes, which must be the same."""
        fast, plain = SAMPLE_CODEC.encode(message), PLAIN_CODEC.encode(message)
        if fast != plain:
            raise InvariantError(f"{message!r}: fast builds {fast!r}, plain construct {plain!r}")
        return fast


CODEC = FastAgreesWithPlain()


def test_one_input(data: bytes) -> None:
    """Decode the bytes the input describes with the framing its first byte picks."""
    if not data:
        return
    framing = FRAMINGS[(data[0] >> 1) % len(FRAMINGS)]
    sizes, stream = split(data[1:])
    if data[0] & 1:
        try:
            stream = framing.frame(stream)
        except ProtocolError:
            return  # too large, or holds the delimiter: not one frame
    check_decoding(framing, CODEC, stream, cut(stream, sizes))


if __name__ == "__main__":
    fuzz(test_one_input)
