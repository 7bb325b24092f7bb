"""The chat protocol: the spec's examples, round trips cut anywhere, hostile bytes, bad messages."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from construct import Int8ub, Int16ub, Int32ub, Int64ub  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from protocols import FrameTooLarge, LocalProtocolError, RemoteProtocolError, chat

if TYPE_CHECKING:
    from collections.abc import Iterable

    from protocols import Decoder, Encoder

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "chat-protocol.md"
SPEC = SPEC_PATH.read_text(encoding="utf-8")

# "Example: <expression>", a blank line, then a ```hex block of the whole frame.
EXAMPLE = re.compile(r"^Example: (?P<expression>.+)\n\n```hex\n(?P<hex>[^`]*?)\n```$", re.MULTILINE)
EXAMPLES = [(match["expression"], match["hex"]) for match in EXAMPLE.finditer(SPEC)]

# "| `0x01` | `Hello` | client → server | `version` u8, `nick` Str8 | meaning |"
TABLE_ROW = re.compile(
    r"^\| `0x(?P<tag>[0-9a-f]{2})` \| `(?P<name>\w+)` \| (?P<direction>[^|]+?) \| "
    r"(?P<fields>[^|]+?) \| [^|]+ \|$",
    re.MULTILINE,
)

CLASSES: dict[chat.Tag, type[Any]] = {
    chat.Tag.HELLO: chat.Hello,
    chat.Tag.SET_NICK: chat.SetNick,
    chat.Tag.JOIN: chat.Join,
    chat.Tag.LEAVE: chat.Leave,
    chat.Tag.SAY: chat.Say,
    chat.Tag.WHISPER: chat.Whisper,
    chat.Tag.LIST_ROOMS: chat.ListRooms,
    chat.Tag.LIST_NAMES: chat.ListNames,
    chat.Tag.SET_TOPIC: chat.SetTopic,
    chat.Tag.PING: chat.Ping,
    chat.Tag.PONG: chat.Pong,
    chat.Tag.QUIT: chat.Quit,
    chat.Tag.WELCOME: chat.Welcome,
    chat.Tag.NICK_CHANGED: chat.NickChanged,
    chat.Tag.JOINED: chat.Joined,
    chat.Tag.LEFT: chat.Left,
    chat.Tag.SAID: chat.Said,
    chat.Tag.WHISPERED: chat.Whispered,
    chat.Tag.ROOM_INFO: chat.RoomInfo,
    chat.Tag.ROOM_LIST_END: chat.RoomListEnd,
    chat.Tag.NAMES: chat.Names,
    chat.Tag.TOPIC: chat.Topic,
    chat.Tag.HISTORY: chat.History,
    chat.Tag.SERVER_PING: chat.ServerPing,
    chat.Tag.SERVER_PONG: chat.ServerPong,
    chat.Tag.QUITTED: chat.Quitted,
    chat.Tag.ERROR: chat.Error,
    chat.Tag.NOTICE: chat.Notice,
    chat.Tag.NAMES_END: chat.NamesEnd,
}

# The wire types the spec names, by the construct object that defines them.
WIRE_TYPES: list[tuple[str, Any, int]] = [
    ("u8", Int8ub, 8),
    ("u16", Int16ub, 16),
    ("u32", Int32ub, 32),
    ("u64", Int64ub, 64),
    ("Str8", chat.Str8, 8),
    ("Str16", chat.Str16, 16),
]


def wire_type(subcon: Any) -> tuple[str, int]:
    """Name and prefix or integer width, in bits, of a field's construct definition."""
    for name, definition, bits in WIRE_TYPES:
        if subcon is definition:
            return name, bits
    raise AssertionError(f"{subcon!r} is not a type the spec names; add it to WIRE_TYPES")


def fields(tag: chat.Tag) -> list[tuple[str, str, int]]:
    """(field, wire type, bits) of the message `tag` names, in wire order, from its Struct."""
    body = chat.CODEC.format.subcons[1].subcon.cases[tag.name]
    return [(sub.name, *wire_type(sub.subcon)) for sub in body.subcons]


def values(type_name: str, bits: int) -> st.SearchStrategy[Any]:
    if type_name == "Str8":
        return st.text(max_size=40)  # at most 4 UTF-8 bytes a character: 160 < 255 bytes
    if type_name == "Str16":
        return st.text(max_size=120)  # at most 480 bytes: four of them stay under 8192
    return st.integers(0, (1 << bits) - 1)


MESSAGES: dict[chat.Tag, st.SearchStrategy[Any]] = {
    tag: st.builds(cls, **{name: values(kind, bits) for name, kind, bits in fields(tag)})
    for tag, cls in CLASSES.items()
}
ANY_MESSAGE = st.one_of(*MESSAGES.values())

STRING_FIELDS = [
    (tag, name, kind) for tag in chat.Tag for name, kind, _ in fields(tag) if kind.startswith("Str")
]
INTEGER_FIELDS = [
    (tag, name, bits) for tag in chat.Tag for name, kind, bits in fields(tag) if kind[0] == "u"
]


def sample(tag: chat.Tag, **overrides: object) -> Any:
    """A message of `tag` with every string non-empty (so a cut can land inside each)."""
    defaults: dict[str, object] = {
        name: "aé" if kind.startswith("Str") else 1 for name, kind, _ in fields(tag)
    }
    return CLASSES[tag](**(defaults | overrides))


def frame(payload: bytes) -> bytes:
    """Frame a payload by hand, as the spec describes: u32 big-endian length, then payload."""
    return len(payload).to_bytes(4, "big") + payload


def feed(chunks: Iterable[bytes]) -> list[chat.ChatMessage]:
    """Feed chunks to a fresh decoder, then end the stream; return every message decoded."""
    decoder = chat.WIRE.decoder()
    events: list[chat.ChatMessage] = []
    for chunk in chunks:
        if chunk:  # b"" would mean end of stream
            decoder.receive_data(chunk)
            events += decoder.events()
    decoder.receive_data(b"")
    events += decoder.events()  # raises if the stream ended inside a frame
    return events


def refusal(data: bytes) -> RemoteProtocolError:
    """Feed hostile bytes whole and byte by byte; return the error, which must be the same."""
    errors: list[RemoteProtocolError] = []
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))]):
        with pytest.raises(RemoteProtocolError) as caught:
            feed(chunks)
        errors.append(caught.value)
    whole, byte_by_byte = errors
    assert type(whole) is type(byte_by_byte)
    assert str(whole) == str(byte_by_byte)
    return whole


@dataclasses.dataclass
class ChatPair:
    """An Encoder wired to a Decoder, as the two ends of one chat connection."""

    encoder: Encoder[chat.ChatMessage] = dataclasses.field(default_factory=chat.WIRE.encoder)
    decoder: Decoder[chat.ChatMessage] = dataclasses.field(default_factory=chat.WIRE.decoder)

    def send(self, *messages: chat.ChatMessage) -> bytes:
        return b"".join(self.encoder.send(message) for message in messages)

    def receive(self, data: bytes) -> list[chat.ChatMessage]:
        self.decoder.receive_data(data)
        return self.decoder.events()


# --- the spec's examples ---------------------------------------------------------------------


def evaluate(expression: str) -> chat.ChatMessage:
    """Build a documented message in the namespace of protocols.chat, and nothing else."""
    message: chat.ChatMessage = eval(expression, {**vars(chat), "__builtins__": {}})
    assert type(message) in CLASSES.values(), f"{expression} does not build a chat message"
    return message


def test_every_example_line_has_one_hex_block_and_every_hex_block_an_example() -> None:
    assert len(EXAMPLES) >= len(chat.Tag)
    assert len(re.findall(r"^Example: ", SPEC, re.MULTILINE)) == len(EXAMPLES)
    assert len(re.findall(r"^```hex$", SPEC, re.MULTILINE)) == len(EXAMPLES)


@pytest.mark.parametrize(("expression", "documented"), EXAMPLES, ids=[e for e, _ in EXAMPLES])
def test_each_spec_example_is_what_the_codec_encodes_and_decodes(
    expression: str, documented: str
) -> None:
    message = evaluate(expression)
    lines = documented.split("\n")
    assert all(re.fullmatch(r"[0-9a-f]{2}( [0-9a-f]{2}){0,15}", line) for line in lines), lines
    documented_hex = " ".join(lines)
    assert chat.WIRE.encode(message).hex(" ") == documented_hex
    assert feed([bytes.fromhex(documented_hex)]) == [message]


def test_every_tag_has_an_example_in_the_spec() -> None:
    documented = {chat.Tag(bytes.fromhex(hex_bytes)[4]) for _, hex_bytes in EXAMPLES}
    assert sorted(set(chat.Tag) - documented, key=lambda tag: tag.value) == []


def test_every_error_code_is_in_the_spec_table() -> None:
    for code in chat.ErrorCode:
        row = rf"^\| {code.value} +\| `{code.name}` +\| (yes|no) +\| .+\|$"
        assert re.search(row, SPEC, re.MULTILINE), f"no row for {code!r} in {SPEC_PATH}"


def test_the_spec_message_table_matches_the_construct_definitions() -> None:
    documented = {
        int(row["tag"], 16): (row["name"], row["direction"], row["fields"])
        for row in TABLE_ROW.finditer(SPEC)
    }
    expected = {
        tag.value: (
            cls.__name__,
            "client → server" if tag.value < 0x80 else "server → client",
            ", ".join(f"`{name}` {kind}" for name, kind, _ in fields(tag)) or "(none)",
        )
        for tag, cls in CLASSES.items()
    }
    assert documented == expected


def test_the_spec_states_the_frame_limit_and_version_of_the_code() -> None:
    assert f"**`MAX_FRAME_SIZE` = {chat.MAX_FRAME_SIZE} bytes**" in SPEC
    assert f"protocol version `{chat.PROTOCOL_VERSION}`" in SPEC


# --- round trips -------------------------------------------------------------------------------


def test_the_class_table_covers_every_tag_and_each_class_encodes_its_tag() -> None:
    assert set(CLASSES) == set(chat.Tag)
    for tag in chat.Tag:
        assert chat.WIRE.encode(sample(tag))[4] == tag.value


def test_every_message_takes_the_fast_path() -> None:
    assert chat.CODEC.fast_path == frozenset(chat.Tag)


def test_every_message_class_is_exported() -> None:
    assert {cls.__name__ for cls in CLASSES.values()} <= set(chat.__all__)


@pytest.mark.parametrize("tag", list(chat.Tag), ids=lambda tag: tag.name)
@given(data=st.data())
def test_every_message_round_trips_fed_whole_byte_by_byte_and_split_at_every_offset(
    tag: chat.Tag, data: st.DataObject
) -> None:
    message = data.draw(MESSAGES[tag])
    framed = chat.WIRE.encode(message)
    assert int.from_bytes(framed[:4], "big") == len(framed) - 4
    assert framed[4] == tag.value
    assert feed([framed]) == [message]
    assert feed([framed[i : i + 1] for i in range(len(framed))]) == [message]
    for cut in range(len(framed) + 1):
        assert feed([framed[:cut], framed[cut:]]) == [message]


@pytest.mark.parametrize("tag", list(chat.Tag), ids=lambda tag: tag.name)
@given(data=st.data())
def test_every_message_is_laid_out_as_its_construct_definition_says(
    tag: chat.Tag, data: st.DataObject
) -> None:
    # The fast path must agree with plain construct, which is the spec.
    message = data.draw(MESSAGES[tag])
    payload = chat.CODEC.encode(message)
    as_fields = {name: getattr(message, name) for name, _, _ in fields(tag)}
    assert chat.CODEC.format.build({"tag": tag.name, "body": as_fields}) == payload
    parsed = chat.CODEC.format.parse(payload)
    assert str(parsed.tag) == tag.name
    assert {name: parsed.body[name] for name in as_fields} == as_fields


@given(batch=st.lists(ANY_MESSAGE, max_size=12), cuts=st.lists(st.integers(0, 6000), max_size=8))
def test_a_stream_of_mixed_messages_round_trips_cut_anywhere(
    batch: list[chat.ChatMessage], cuts: list[int]
) -> None:
    pair = ChatPair()
    data = pair.send(*batch)
    assert data == b"".join(chat.WIRE.encode(message) for message in batch)
    bounds = [0, *sorted(cut for cut in cuts if cut < len(data)), len(data)]
    received: list[chat.ChatMessage] = []
    for start, end in itertools.pairwise(bounds):
        if end > start:
            received += pair.receive(data[start:end])
    assert received == batch
    assert pair.decoder.buffered == 0


def test_a_payload_of_exactly_the_frame_limit_is_accepted() -> None:
    text = "x" * (chat.MAX_FRAME_SIZE - 3)  # tag + u16 prefix + text
    framed = chat.WIRE.encode(chat.Notice(text=text))
    assert len(framed) == 4 + chat.MAX_FRAME_SIZE
    assert feed([framed]) == [chat.Notice(text=text)]


def test_error_codes_decode_as_their_numbers() -> None:
    message = chat.Error(code=chat.ErrorCode.NICK_IN_USE, subject="alice", detail="taken")
    (decoded,) = feed([chat.WIRE.encode(message)])
    assert isinstance(decoded, chat.Error)
    assert decoded == message
    assert chat.ErrorCode(decoded.code) is chat.ErrorCode.NICK_IN_USE


# --- hostile input -----------------------------------------------------------------------------

UNKNOWN_TAGS = sorted(set(range(256)) - {tag.value for tag in chat.Tag})

INVALID_UTF8 = [
    (b"\xff", 0, "invalid start byte"),
    (b"\x80", 0, "invalid start byte"),  # a continuation byte on its own
    (b"\xc0\xaf", 0, "invalid start byte"),  # an overlong "/"
    (b"\xed\xa0\x80", 0, "invalid continuation byte"),  # a UTF-16 surrogate
    (b"\xf4\x90\x80\x80", 0, "invalid continuation byte"),  # past U+10FFFF
    (b"\xe2\x82", 0, "unexpected end of data"),  # cut short by the length prefix
    (b"ok\xc3\x28", 2, "invalid continuation byte"),
]


@pytest.mark.parametrize("value", UNKNOWN_TAGS)
def test_an_unknown_tag_is_refused_naming_the_tag(value: int) -> None:
    error = refusal(frame(bytes([value]) + b"\x05hello"))
    assert type(error) is RemoteProtocolError
    assert f"unknown Tag tag {value}; this side knows HELLO=1, SET_NICK=2" in str(error)
    assert "is the peer speaking another version?" in str(error)


def test_an_empty_payload_is_refused() -> None:
    error = refusal(frame(b""))
    assert type(error) is RemoteProtocolError
    assert "payload of 0 bytes is shorter than the 1-byte Tag tag" in str(error)


@pytest.mark.parametrize("tag", list(chat.Tag), ids=lambda tag: tag.name)
def test_every_truncated_payload_is_refused_naming_the_field(tag: chat.Tag) -> None:
    payload = chat.CODEC.encode(sample(tag))
    names = "|".join(name for name, _, _ in fields(tag))
    cls = CLASSES[tag].__name__
    for size in range(1, len(payload)):
        error = refusal(frame(payload[:size]))
        assert type(error) is RemoteProtocolError
        assert re.match(rf"{cls}\.({names}): ", str(error)), (size, str(error))
        assert "truncated" in str(error) or "left after it" in str(error), (size, str(error))
        assert "in frame 1 of the stream, counting from 1" in error.__notes__


@pytest.mark.parametrize("tag", list(chat.Tag), ids=lambda tag: tag.name)
def test_a_stream_ending_inside_a_frame_is_refused(tag: chat.Tag) -> None:
    framed = chat.WIRE.encode(sample(tag))
    for size in range(1, len(framed)):
        error = refusal(framed[:size])
        assert type(error) is RemoteProtocolError
        assert str(error).startswith("peer closed the connection inside frame 1: received ")


@pytest.mark.parametrize("tag", list(chat.Tag), ids=lambda tag: tag.name)
@pytest.mark.parametrize("extra", [b"\x00", b"trailing"])
def test_trailing_bytes_after_a_message_are_refused(tag: chat.Tag, extra: bytes) -> None:
    payload = chat.CODEC.encode(sample(tag))
    error = refusal(frame(payload + extra))
    assert type(error) is RemoteProtocolError
    assert (
        f"{CLASSES[tag].__name__}: {len(extra)} trailing bytes after the message "
        f"(it ends at byte {len(payload)} of the {len(payload) + len(extra)}-byte payload)"
    ) in str(error)


@pytest.mark.parametrize(
    ("tag", "field"),
    [(tag, field) for tag, field, _ in STRING_FIELDS],
    ids=[f"{tag.name}.{field}" for tag, field, _ in STRING_FIELDS],
)
@pytest.mark.parametrize("invalid", INVALID_UTF8, ids=[repr(bad) for bad, _, _ in INVALID_UTF8])
def test_invalid_utf8_in_each_string_field_is_refused(
    tag: chat.Tag, field: str, invalid: tuple[bytes, int, str]
) -> None:
    bad, at, reason = invalid
    # Every other string is empty and every integer 0, so the marker occurs once.
    marker = b"Q" * len(bad)
    empty = {name: "" if kind.startswith("Str") else 0 for name, kind, _ in fields(tag)}
    payload = chat.CODEC.encode(CLASSES[tag](**(empty | {field: marker.decode()})))
    assert payload.count(marker) == 1
    error = refusal(frame(payload.replace(marker, bad)))
    assert type(error) is RemoteProtocolError
    assert (
        f"{CLASSES[tag].__name__}.{field}: invalid utf-8 at byte {at} of the {len(bad)}-byte "
        f"string ({reason}); the peer must send utf-8"
    ) in str(error)
    assert isinstance(error.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize("tag", list(chat.Tag), ids=lambda tag: tag.name)
@pytest.mark.parametrize("declared", [chat.MAX_FRAME_SIZE + 1, 0x10000, 0xFFFFFFFF])
def test_a_frame_declared_over_the_limit_is_refused_before_its_body(
    tag: chat.Tag, declared: int
) -> None:
    hostile = declared.to_bytes(4, "big") + chat.CODEC.encode(sample(tag))
    for data in (hostile, hostile[:4]):  # the header alone is enough to refuse it
        error = refusal(data)
        assert isinstance(error, FrameTooLarge)
        assert (error.size, error.limit) == (declared, chat.MAX_FRAME_SIZE)
        assert f"frame of {declared} bytes exceeds max_frame_size=8192" in str(error)


def test_messages_before_a_bad_frame_are_delivered_and_later_bytes_dropped() -> None:
    good = chat.WIRE.encode(chat.Ping(token=1))
    decoder = chat.WIRE.decoder()
    decoder.receive_data(good + (chat.MAX_FRAME_SIZE + 1).to_bytes(4, "big"))
    assert decoder.events() == [chat.Ping(token=1)]
    decoder.receive_data(good)
    assert decoder.buffered == 0
    for _ in range(2):  # raised again on every later call
        with pytest.raises(FrameTooLarge, match="frame of 8193 bytes exceeds max_frame_size=8192"):
            decoder.events()


def decode_all(stream: bytes) -> tuple[list[chat.ChatMessage], RemoteProtocolError | None]:
    """Decode a whole stream; return the messages before the first refusal, and the refusal."""
    decoder = chat.WIRE.decoder()
    decoder.receive_data(stream)
    decoder.receive_data(b"")
    messages: list[chat.ChatMessage] = []
    try:
        while events := decoder.events():
            messages += events
    except RemoteProtocolError as exc:
        return messages, exc
    return messages, None


@given(tag=st.sampled_from(list(chat.Tag)), body=st.binary(max_size=64))
def test_any_body_after_a_known_tag_decodes_to_that_message_or_says_what_is_wrong_with_it(
    tag: chat.Tag, body: bytes
) -> None:
    payload = bytes([tag.value]) + body
    messages, error = decode_all(frame(payload))
    if error is None:
        # One message of the class the tag names, and the only encoding of it.
        assert [type(m) for m in messages] == [CLASSES[tag]]
        assert chat.CODEC.encode(messages[0]) == payload
    else:
        assert messages == []
        assert type(error) is RemoteProtocolError
        assert str(error).startswith(CLASSES[tag].__name__), str(error)


# A frame's payload: arbitrary bytes, arbitrary bytes behind a known tag, or a valid message.
PAYLOADS = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda tag, body: bytes([tag.value]) + body,
        st.sampled_from(list(chat.Tag)),
        st.binary(max_size=64),
    ),
    ANY_MESSAGE.map(chat.CODEC.encode),
)


@given(payloads=st.lists(PAYLOADS, max_size=5))
def test_a_stream_of_frames_decodes_as_each_payload_does_on_its_own(
    payloads: list[bytes],
) -> None:
    expected: list[chat.ChatMessage] = []
    expected_error: RemoteProtocolError | None = None
    for payload in payloads:
        try:
            expected.append(chat.CODEC.decode(payload))
        except RemoteProtocolError as exc:
            expected_error = exc
            break
    messages, error = decode_all(b"".join(frame(p) for p in payloads))
    assert messages == expected
    assert str(error) == str(expected_error)


@given(data=st.binary(max_size=256))
def test_any_byte_stream_decodes_to_messages_that_reencode_to_it_or_is_refused(
    data: bytes,
) -> None:
    # Mostly refused by the framing: the first four bytes declare a length over the limit.
    messages, error = decode_all(data)
    consumed = b"".join(chat.WIRE.encode(m) for m in messages)
    assert data.startswith(consumed)
    if error is None:
        assert consumed == data
    else:
        assert isinstance(error, RemoteProtocolError)


@given(message=ANY_MESSAGE, position=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_a_valid_frame_with_one_byte_changed_decodes_to_its_bytes_or_is_refused(
    message: chat.ChatMessage, position: int, byte: int
) -> None:
    framed = bytearray(chat.WIRE.encode(message))
    framed[position % len(framed)] = byte
    messages, error = decode_all(bytes(framed))
    if error is None:
        assert b"".join(chat.WIRE.encode(m) for m in messages) == framed
        assert (messages == [message]) is (framed == chat.WIRE.encode(message))
    else:
        assert isinstance(error, RemoteProtocolError)


# --- messages this side may not send -----------------------------------------------------------

STR8_FIELDS = [(tag, name) for tag, name, kind in STRING_FIELDS if kind == "Str8"]


@pytest.mark.parametrize(
    ("tag", "field"), STR8_FIELDS, ids=[f"{tag.name}.{field}" for tag, field in STR8_FIELDS]
)
@pytest.mark.parametrize("value", ["x" * 256, "é" * 128, "x" * 1000], ids=["256", "256é", "1000"])
def test_a_str8_field_over_255_bytes_cannot_be_encoded(
    tag: chat.Tag, field: str, value: str
) -> None:
    message = sample(tag, **{field: value})
    size = len(value.encode())
    fragment = f"{CLASSES[tag].__name__}.{field}: {size} bytes of utf-8 exceed the 255-byte limit"
    for encode in (chat.WIRE.encode, chat.WIRE.encoder().send, chat.CODEC.encode):
        with pytest.raises(LocalProtocolError) as caught:
            encode(message)
        assert type(caught.value) is LocalProtocolError
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("tag", "field"), STR8_FIELDS, ids=[f"{tag.name}.{field}" for tag, field in STR8_FIELDS]
)
def test_a_str8_field_of_255_bytes_round_trips(tag: chat.Tag, field: str) -> None:
    message = sample(tag, **{field: "x" * 255})
    assert feed([chat.WIRE.encode(message)]) == [message]


def test_a_message_over_the_frame_limit_cannot_be_encoded() -> None:
    message = chat.Say(room="#lobby", text="x" * chat.MAX_FRAME_SIZE)
    with pytest.raises(
        LocalProtocolError, match="payload of 8202 bytes exceeds max_frame_size=8192"
    ):
        chat.WIRE.encode(message)


@pytest.mark.parametrize(
    ("tag", "field", "bits"),
    INTEGER_FIELDS,
    ids=[f"{tag.name}.{field}" for tag, field, _ in INTEGER_FIELDS],
)
def test_an_integer_field_out_of_range_cannot_be_encoded(
    tag: chat.Tag, field: str, bits: int
) -> None:
    for value in (-1, 1 << bits):
        with pytest.raises(LocalProtocolError, match=rf"\.{field}={value} does not fit"):
            chat.WIRE.encode(sample(tag, **{field: value}))


def test_an_object_that_is_not_a_chat_message_cannot_be_encoded() -> None:
    with pytest.raises(LocalProtocolError, match="cannot encode str: Tag messages are Hello"):
        chat.WIRE.encode("hello")  # type: ignore[arg-type]
