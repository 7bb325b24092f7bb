"""The fast path derived from construct agrees with plain construct, on good and hostile input."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from construct import (  # type: ignore[import-untyped]
    Bytes,
    Const,
    CString,
    Flag,
    Float64b,
    FormatField,
    GreedyBytes,
    Int8sb,
    Int8ub,
    Int16ub,
    Int16ul,
    Int64ub,
    PascalString,
    Prefixed,
    Struct,
    VarInt,
    this,
)
from hypothesis import given
from hypothesis import strategies as st

from protocols import ProtocolError, TaggedUnion
from protocols._fastpath import derive, derive_tag
from protocols._sample import (
    SAMPLE_CODEC,
    SAMPLE_HELLO,
    SAMPLE_POST,
    SampleHello,
    SampleMessage,
    SamplePost,
    SampleTag,
)

if TYPE_CHECKING:
    from collections.abc import Callable


class Shape(enum.Enum):
    EVERYTHING = 1
    NOTHING = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Everything:
    """One field of every kind the fast path handles, in byte-order runs that must split."""

    small: int
    wide: int
    blob: bytes
    big: int
    ratio: float
    data: bytes
    label: str
    flag: bool
    word: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Nothing:
    """A message with no fields: the tag alone."""


EVERYTHING = Struct(
    "small" / Int8sb,
    "wide" / Int16ul,
    "blob" / Bytes(3),
    "big" / Int64ub,
    "ratio" / Float64b,
    "data" / Prefixed(Int16ub, GreedyBytes),
    "label" / PascalString(Int8sb, "ascii"),
    "flag" / FormatField(">", "?"),
    "word" / PascalString(Int16ul, "utf8"),
)
SHAPES: dict[Shape, tuple[type[Everything | Nothing], Any]] = {
    Shape.EVERYTHING: (Everything, EVERYTHING),
    Shape.NOTHING: (Nothing, Struct()),
}
FAST_SHAPES = TaggedUnion[Everything | Nothing](Int16ub, SHAPES)
PLAIN_SHAPES = TaggedUnion[Everything | Nothing](Int16ub, SHAPES, fast=False)
SAMPLE_CASES: dict[SampleTag, tuple[type[SampleMessage], Any]] = {
    SampleTag.HELLO: (SampleHello, SAMPLE_HELLO),
    SampleTag.POST: (SamplePost, SAMPLE_POST),
}
PLAIN_SAMPLE = TaggedUnion[SampleMessage](Int8ub, SAMPLE_CASES, fast=False)

PAIRS: list[tuple[TaggedUnion[Any], TaggedUnion[Any]]] = [
    (SAMPLE_CODEC, PLAIN_SAMPLE),
    (FAST_SHAPES, PLAIN_SHAPES),
]

everything = st.builds(
    Everything,
    small=st.integers(-128, 127),
    wide=st.integers(0, 2**16 - 1),
    blob=st.binary(min_size=3, max_size=3),
    big=st.integers(0, 2**64 - 1),
    ratio=st.floats(allow_nan=False),
    data=st.binary(max_size=40),
    label=st.text(st.characters(max_codepoint=127), max_size=127),
    flag=st.booleans(),
    word=st.text(max_size=40),
)
short_text = st.text(max_size=63)
valid_messages = st.one_of(
    st.builds(SampleHello, name=short_text),
    st.builds(SamplePost, room=short_text, text=short_text, seq=st.integers(0, 2**32 - 1)),
    everything,
    st.just(Nothing()),
)


def outcome(call: Callable[[], object]) -> tuple[str, str]:
    """Return ("ok", repr of the result) or ("error", class name); let any other exception out."""
    try:
        value = call()
    except ProtocolError as exc:
        return "error", type(exc).__name__
    return "ok", repr(value)  # repr, so that a NaN parsed from hostile bytes equals itself


def pair_for(message: object) -> tuple[TaggedUnion[Any], TaggedUnion[Any]]:
    return PAIRS[1] if isinstance(message, Everything | Nothing) else PAIRS[0]


def test_every_kind_of_field_is_on_the_fast_path() -> None:
    assert FAST_SHAPES.fast_path == frozenset(Shape)
    assert SAMPLE_CODEC.fast_path == frozenset(SampleTag)


@given(message=valid_messages)
def test_fast_and_plain_build_the_same_bytes_and_parse_them_back(message: object) -> None:
    fast, plain = pair_for(message)
    payload = fast.encode(message)
    assert payload == plain.encode(message)
    assert fast.decode(payload) == plain.decode(payload) == message


@st.composite
def hostile_payloads(draw: st.DrawFn) -> tuple[int, bytes]:
    """Draw (pair index, bytes): random bytes, or a valid payload cut, grown or bit-flipped."""
    message = draw(valid_messages)
    index = 1 if isinstance(message, Everything | Nothing) else 0
    payload = bytearray(PAIRS[index][0].encode(message))
    how = draw(st.sampled_from(["random", "truncate", "append", "flip", "insert"]))
    if how == "random":
        payload = bytearray(draw(st.binary(max_size=80)))
    elif how == "truncate":
        del payload[draw(st.integers(0, len(payload))) :]
    elif how == "append":
        payload += draw(st.binary(min_size=1, max_size=8))
    elif how == "flip":
        at = draw(st.integers(0, len(payload) - 1))
        payload[at] ^= draw(st.integers(1, 255))
    else:
        payload.insert(draw(st.integers(0, len(payload))), draw(st.integers(0, 255)))
    return index, bytes(payload)


@given(case=hostile_payloads())
def test_fast_and_plain_agree_on_hostile_payloads(case: tuple[int, bytes]) -> None:
    index, payload = case
    fast, plain = PAIRS[index]
    assert outcome(lambda: fast.decode(payload)) == outcome(lambda: plain.decode(payload))


def anything(*valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Return valid values mixed with wrong types, out-of-range numbers and unencodable text."""
    return st.one_of(
        *valid,
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.floats(),
        st.text(max_size=300),
        st.binary(max_size=5),
        st.builds(bytearray, st.binary(max_size=4)),
        st.none(),
    )


bad_messages = st.one_of(
    st.builds(SampleHello, name=anything()),
    st.builds(SamplePost, room=anything(), text=anything(), seq=anything()),
    st.builds(
        Everything,
        small=anything(),
        wide=anything(),
        blob=anything(st.binary(min_size=3, max_size=3)),
        big=anything(),
        ratio=anything(),
        data=anything(),
        label=anything(),
        flag=anything(),
        word=anything(),
    ),
)


@given(message=bad_messages)
def test_fast_and_plain_agree_on_bad_messages(message: object) -> None:
    fast, plain = pair_for(message)
    assert outcome(lambda: fast.encode(message)) == outcome(lambda: plain.encode(message))


@pytest.mark.parametrize(
    "definition",
    [
        Struct("n" / VarInt),
        Struct("magic" / Const(b"AB")),
        Struct("s" / CString("utf8")),
        Struct("s" / PascalString(Int8ub, "utf16")),
        Struct("s" / PascalString(VarInt, "utf8")),
        Struct("n" / Int8ub, "b" / Bytes(this.n)),
        Struct("inner" / Struct("n" / Int8ub)),
        Struct("f" / Flag),
        Struct(Int8ub),
        Struct("n" / Int8ub * (lambda obj, ctx: None)),
    ],
)
def test_constructs_it_does_not_know_get_no_fast_path(definition: object) -> None:
    assert derive("X", definition) is None


@pytest.mark.parametrize("tag", [Int8ub, Int16ub, Int16ul, Int64ub, Int8sb])
def test_integer_tags_are_read_with_struct(tag: object) -> None:
    assert derive_tag(tag) is not None


@pytest.mark.parametrize("tag", [VarInt, Float64b, Flag, Bytes(1)])
def test_other_tags_are_left_to_construct(tag: object) -> None:
    assert derive_tag(tag) is None
