"""TaggedUnion: messages declared with construct behind an Enum tag; hostile bytes, bad messages."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import construct  # type: ignore[import-untyped]
import pytest
from construct import Const, Int8ub, Int16ub, Int32ub, PascalString, Struct, VarInt
from hypothesis import given
from hypothesis import strategies as st

from protocols import LocalProtocolError, RemoteProtocolError, TaggedUnion
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

# tag 2, u8 5 "lobby", u8 2 "hi", u32 42
POST_BYTES = b"\x02\x05lobby\x02hi\x00\x00\x00\x2a"
POST = SamplePost(room="lobby", text="hi", seq=42)

short_text = st.text(max_size=63)  # at most 4 UTF-8 bytes a character: fits a u8 prefix
messages = st.one_of(
    st.builds(SampleHello, name=short_text),
    st.builds(SamplePost, room=short_text, text=short_text, seq=st.integers(0, 2**32 - 1)),
)


@pytest.fixture(params=["fast", "plain"])
def codec(request: pytest.FixtureRequest) -> TaggedUnion[SampleMessage]:
    return SAMPLE_CODEC if request.param == "fast" else PLAIN_CODEC


def test_sample_layout_matches_its_table(codec: TaggedUnion[SampleMessage]) -> None:
    assert codec.encode(POST) == POST_BYTES
    assert codec.decode(POST_BYTES) == POST
    assert codec.encode(SampleHello(name="é")) == b"\x01\x02\xc3\xa9"


def test_sample_is_wholly_on_the_fast_path() -> None:
    assert SAMPLE_CODEC.fast_path == frozenset(SampleTag)
    assert PLAIN_CODEC.fast_path == frozenset()


def test_repr_names_the_tags() -> None:
    assert repr(SAMPLE_CODEC) == "TaggedUnion(SampleTag: HELLO, POST)"


@given(message=messages)
def test_every_message_round_trips(message: SampleMessage) -> None:
    for codec in (SAMPLE_CODEC, PLAIN_CODEC):
        assert codec.decode(codec.encode(message)) == message


def outcome(codec: TaggedUnion[SampleMessage], payload: bytes) -> SampleMessage | type[Exception]:
    """The message a payload decodes to, or the class of the error that refused it."""
    try:
        return codec.decode(payload)
    except Exception as exc:
        return type(exc)


@st.composite
def hostile_payloads(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes (mostly an unknown tag), a known tag then anything, or one byte changed."""
    how = draw(st.sampled_from(["random", "known tag", "one byte changed"]))
    if how == "random":
        return draw(st.binary(max_size=40))
    if how == "known tag":
        return bytes([draw(st.sampled_from(SampleTag)).value]) + draw(st.binary(max_size=40))
    payload = bytearray(SAMPLE_CODEC.encode(draw(messages)))
    payload[draw(st.integers(0, len(payload) - 1))] = draw(st.integers(0, 255))
    return bytes(payload)


@given(payload=hostile_payloads())
def test_hostile_payloads_decode_alike_on_both_paths_or_raise_remote_protocol_error(
    payload: bytes,
) -> None:
    fast, plain = outcome(SAMPLE_CODEC, payload), outcome(PLAIN_CODEC, payload)
    assert fast == plain
    if isinstance(fast, type):
        assert fast is RemoteProtocolError
    else:
        assert SAMPLE_CODEC.encode(fast) == payload  # the one encoding of that message


@pytest.mark.parametrize(
    ("payload", "fragments"),
    [
        (b"", ["payload of 0 bytes is shorter than the 1-byte SampleTag tag"]),
        (b"\x07", ["unknown SampleTag tag 7; this side knows HELLO=1, POST=2", "another version"]),
        (b"\x02", ["SamplePost.room: needs a 1-byte length prefix at offset 1", "truncated"]),
        (b"\x02\x05lob", ["SamplePost.room: length prefix declares 5 bytes", "has 3 left"]),
        (POST_BYTES[:-1], ["SamplePost.seq: needs 4 bytes at offset 10", "has 3 left"]),
        (
            POST_BYTES + b"xyz",
            ["SamplePost: 3 trailing bytes after the message", "byte 14 of the 17"],
        ),
        (b"\x01\x02\xc3\x28", ["SampleHello.name: invalid utf-8 at byte 0", "must send utf-8"]),
        (b"\x01\x03\xed\xa0\x80", ["SampleHello.name: invalid utf-8"]),  # a UTF-16 surrogate
    ],
)
def test_bad_payloads_say_which_field_and_why(payload: bytes, fragments: list[str]) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        SAMPLE_CODEC.decode(payload)
    for fragment in fragments:
        assert fragment in str(caught.value)
    with pytest.raises(RemoteProtocolError):
        PLAIN_CODEC.decode(payload)


def test_invalid_utf8_is_chained_to_the_decode_error() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        SAMPLE_CODEC.decode(b"\x01\x01\xff")
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"\x02\x05lob", "cannot parse 5-byte payload as SampleTag: Error in path (parsing)"),
        (b"\x01\x01\xff", "cannot use encoding 'utf8'"),
        (POST_BYTES + b"x", "expected end of stream"),
    ],
)
def test_plain_construct_errors_are_chained_and_kept_on_one_line(
    payload: bytes, fragment: str
) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        PLAIN_CODEC.decode(payload)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value.__cause__, construct.ConstructError)


def test_plain_construct_reports_an_unknown_tag_by_value() -> None:
    with pytest.raises(RemoteProtocolError, match="unknown SampleTag tag 9"):
        PLAIN_CODEC.decode(b"\x09abc")


@pytest.mark.parametrize(
    ("message", "fragments"),
    [
        (
            SamplePost(room="x" * 256, text="", seq=0),
            ["SamplePost.room: 256 bytes of utf-8 exceed the 255-byte limit", ">B length prefix"],
        ),
        (
            SamplePost(room="", text="é" * 128, seq=0),
            ["SamplePost.text: 256 bytes of utf-8 exceed"],
        ),
        (
            SamplePost(room="", text="", seq=-1),
            ["SamplePost.seq=-1 does not fit >L (0..4294967295)"],
        ),
        (SamplePost(room="", text="", seq=2**32), ["SamplePost.seq=4294967296"]),
        (SamplePost(room="", text="", seq="1"), ["SamplePost.seq='1'"]),  # type: ignore[arg-type]
        (SampleHello(name="\ud800"), ["SampleHello.name: character '\\ud800' at index 0"]),
    ],
)
def test_messages_that_do_not_fit_are_local_errors(
    message: SampleMessage, fragments: list[str]
) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        SAMPLE_CODEC.encode(message)
    for fragment in fragments:
        assert fragment in str(caught.value)
    with pytest.raises(LocalProtocolError):
        PLAIN_CODEC.encode(message)


def test_a_wrongly_typed_string_field_falls_back_to_construct_and_fails(
    codec: TaggedUnion[SampleMessage],
) -> None:
    with pytest.raises(LocalProtocolError, match=r"cannot encode SampleHello: .* expected unicode"):
        codec.encode(SampleHello(name=b"bytes"))  # type: ignore[arg-type]


def test_encoding_a_foreign_object_names_the_known_messages(
    codec: TaggedUnion[SampleMessage],
) -> None:
    with pytest.raises(LocalProtocolError, match="cannot encode str: SampleTag messages are"):
        codec.encode("hello")  # type: ignore[arg-type]


class Kind(enum.Enum):
    A = 1
    B = 2


class OtherKind(enum.Enum):
    C = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Counted:
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Named:
    name: str


def test_structs_the_fast_path_does_not_know_use_plain_construct() -> None:
    codec = TaggedUnion[Counted | Named](
        Int8ub,
        {
            Kind.A: (Counted, Struct("magic" / Const(b"CT"), "count" / VarInt)),
            Kind.B: (Named, Struct("name" / PascalString(Int16ub, "utf8"))),
        },
    )
    assert codec.fast_path == frozenset({Kind.B})
    assert codec.encode(Counted(count=300)) == b"\x01CT\xac\x02"
    assert codec.decode(b"\x01CT\xac\x02") == Counted(count=300)
    with pytest.raises(RemoteProtocolError, match="parsing"):
        codec.decode(b"\x01XX\x01")


def test_a_tag_construct_the_fast_path_does_not_know_means_plain_construct() -> None:
    codec = TaggedUnion[Counted](VarInt, {Kind.A: (Counted, Struct("count" / Int32ub))})
    assert codec.fast_path == frozenset()
    assert codec.decode(codec.encode(Counted(count=7))) == Counted(count=7)


@pytest.mark.parametrize(
    ("cases", "fragment"),
    [
        ({}, "cases is empty"),
        (
            {Kind.A: (Counted, Struct("count" / Int8ub)), OtherKind.C: (Named, Struct())},
            "cases mix Enum classes Kind, OtherKind",
        ),
        ({Kind.A: (Counted, Struct("total" / Int8ub))}, "Counted fields ['count'] are not named"),
        (
            {Kind.A: (Counted, Struct("count" / Int8ub, "extra" / Int8ub))},
            "needs values for ['extra']",
        ),
        ({Kind.A: (int, Struct())}, "is not a dataclass"),
        (
            {
                Kind.A: (Counted, Struct("count" / Int8ub)),
                Kind.B: (Counted, Struct("count" / Int8ub)),
            },
            "Counted is mapped to two tags",
        ),
    ],
)
def test_definitions_that_cannot_work_are_refused(
    cases: dict[enum.Enum, tuple[type[object], object]], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        TaggedUnion[object](Int8ub, cases)


def test_tags_must_be_ints() -> None:
    class Letter(enum.Enum):
        A = "a"

    with pytest.raises(ValueError, match="has value 'a'; tags must be ints"):
        TaggedUnion[Counted](Int8ub, {Letter.A: (Counted, Struct("count" / Int8ub))})
