"""Example tagged union for tests and benchmarks: not a real protocol, and not exported.

| tag | message       | fields                                                        |
|-----|---------------|---------------------------------------------------------------|
| 1   | `SampleHello` | name: u8-length UTF-8                                         |
| 2   | `SamplePost`  | room: u8-length UTF-8, text: u8-length UTF-8, seq: u32 big-endian |
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from construct import Int8ub, Int32ub, PascalString, Struct  # type: ignore[import-untyped]

from protocols._tagged import TaggedUnion

__all__ = [
    "SAMPLE_CODEC",
    "SAMPLE_HELLO",
    "SAMPLE_POST",
    "SampleHello",
    "SampleMessage",
    "SamplePost",
    "SampleTag",
]


class SampleTag(enum.Enum):
    """Tags of the example union."""

    #: `SampleHello`
    HELLO = 1
    #: `SamplePost`
    POST = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleHello:
    """Greeting that names the sender."""

    name: str
    """Sender's name, at most 255 bytes of UTF-8."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SamplePost:
    """Text posted to a room, with a sequence number."""

    room: str
    """Room name, at most 255 bytes of UTF-8."""
    text: str
    """Text, at most 255 bytes of UTF-8."""
    seq: int
    """Sequence number, 0 to 2**32 - 1."""


SampleMessage = SampleHello | SamplePost

SAMPLE_HELLO = Struct("name" / PascalString(Int8ub, "utf8"))
SAMPLE_POST = Struct(
    "room" / PascalString(Int8ub, "utf8"),
    "text" / PascalString(Int8ub, "utf8"),
    "seq" / Int32ub,
)

SAMPLE_CODEC = TaggedUnion[SampleMessage](
    Int8ub,
    {
        SampleTag.HELLO: (SampleHello, SAMPLE_HELLO),
        SampleTag.POST: (SamplePost, SAMPLE_POST),
    },
)
"""The example union, with the derived fast path."""
