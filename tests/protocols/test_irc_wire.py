"""IRC lines on the wire: LF or CRLF cut anywhere, empty lines, the size limits, NUL, CR, UTF-8."""

from __future__ import annotations

import pytest
from _irc import chunkings, decode_stream, parse

from protocols import FrameTooLarge, LocalProtocolError, RemoteProtocolError
from protocols.irc import (
    CODEC,
    EMPTY_LINE,
    MAX_LINE_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_TAGS_BYTES,
    WIRE,
    IrcFraming,
    LineTooLong,
    Message,
    encode,
)

RECV_CHUNK = 64 * 1024

STREAM = (
    b"CAP LS 302\r\n"
    b"NICK dan\n"  # a bare LF ends a line too
    b"\r\n"  # an empty line, ignored
    b"USER d 0 * :Dan \xc3\xa9\r\n"
    b"@+typing=active TAGMSG #c\r\n"
)
EVENTS = [
    Message(command="CAP", params=("LS", "302")),
    Message(command="NICK", params=("dan",)),
    EMPTY_LINE,
    Message(command="USER", params=("d", "0", "*", "Dan \u00e9")),
    Message(command="TAGMSG", params=("#c",), tags={"+typing": "active"}),
]


def test_a_stream_decodes_the_same_however_it_is_cut() -> None:
    for chunks in chunkings(STREAM):
        assert decode_stream(chunks) == EVENTS, chunks


def test_crlf_split_between_chunks_ends_the_line_once() -> None:
    decoder = WIRE.decoder()
    decoder.receive_data(b"PING a\r")
    assert decoder.events() == []
    decoder.receive_data(b"\nPING b\r")
    assert decoder.events() == [Message(command="PING", params=("a",))]
    decoder.receive_data(b"\n")
    assert decoder.events() == [Message(command="PING", params=("b",))]


def test_empty_lines_in_any_number_are_empty_line_events() -> None:
    events = decode_stream([b"\r\n\n\r\n   \r\nPING\r\n\n"])
    assert events == [EMPTY_LINE] * 4 + [Message(command="PING"), EMPTY_LINE]


def test_the_encoder_writes_crlf() -> None:
    sender = WIRE.encoder()
    assert sender.send(Message(command="PONG", params=("x",))) == b"PONG x\r\n"
    assert WIRE.encode(EMPTY_LINE) == b"\r\n"
    assert encode(Message(command="PING")) == b"PING\r\n"


def test_eof_inside_a_line_says_how_much_arrived() -> None:
    decoder = WIRE.decoder()
    decoder.receive_data(b"PING a\r\nPRIVMSG #c :unfinis")
    decoder.receive_data(b"")
    assert decoder.events() == [Message(command="PING", params=("a",))]
    with pytest.raises(
        RemoteProtocolError, match="inside frame 2: received 19 bytes without a line"
    ):
        decoder.events()


# -- NUL, CR and UTF-8 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"PRIVMSG #c :a\x00b", "NUL at byte 13"),
        (b"\x00", "NUL at byte 0"),
        (b"@k=\x00 PING", "NUL at byte 3"),
        (b"PRIVMSG #c :a\rb", "bare CR at byte 13"),
        (b"PING\r\r", "bare CR at byte 4"),
        (b"\rPING", "bare CR at byte 0"),
    ],
)
def test_nul_and_a_bare_cr_inside_a_line_are_refused(line: bytes, fragment: str) -> None:
    with pytest.raises(RemoteProtocolError, match=fragment):
        CODEC.decode(line)


def test_nul_through_the_decoder_ends_the_stream_after_the_good_lines() -> None:
    decoder = WIRE.decoder()
    decoder.receive_data(b"PING a\r\nPING \x00\r\nPING b\r\n")
    assert decoder.events() == [Message(command="PING", params=("a",))]
    with pytest.raises(RemoteProtocolError, match="NUL") as caught:
        decoder.events()
    assert caught.value.__notes__ == ["in frame 2 of the stream, counting from 1"]


@pytest.mark.parametrize(
    ("line", "text"),
    [
        (b"PRIVMSG #c :caf\xe9", "caf\ufffd"),  # Latin-1
        (b"PRIVMSG #c :\xff\xfe", "\ufffd\ufffd"),
        (b"PRIVMSG #c :\xe2\x82", "\ufffd"),  # a truncated three-byte character
        (b"PRIVMSG #c :\xed\xa0\x80", "\ufffd\ufffd\ufffd"),  # an encoded surrogate
        (b"PRIVMSG #c :\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80", "\u00e9\u2603\U0001f600"),
    ],
)
def test_invalid_utf8_is_replaced_and_valid_utf8_kept(line: bytes, text: str) -> None:
    assert parse(line).params[1] == text


def test_invalid_utf8_in_tags_and_source_is_replaced_too() -> None:
    message = parse(b"@k=\xff :n\xff!u@h PING")
    assert message.tags == {"k": "\ufffd"}
    assert message.source == "n\ufffd!u@h"


# -- limits ------------------------------------------------------------------------------------


def privmsg_of(size: int) -> bytes:
    """A PRIVMSG line of exactly `size` bytes without its CRLF."""
    head = b"PRIVMSG #c :"
    return head + b"x" * (size - len(head))


def test_a_message_of_exactly_512_bytes_with_crlf_is_accepted() -> None:
    line = privmsg_of(MAX_MESSAGE_BYTES - 2) + b"\r\n"
    assert len(line) == 512
    for chunks in ([line], [line[:300], line[300:]]):
        (message,) = decode_stream(chunks)
        assert isinstance(message, Message)
        assert len(message.params[1]) == 512 - 2 - len(b"PRIVMSG #c :")


def test_a_message_of_513_bytes_with_crlf_is_refused() -> None:
    with pytest.raises(LineTooLong) as caught:
        CODEC.decode(privmsg_of(511) + b"\r")
    error = caught.value
    assert (error.part, error.size, error.limit, error.reply_hint) == ("message", 513, 512, None)
    assert str(error) == (
        "IRC message without its tags, with CRLF of 513 bytes exceeds MAX_MESSAGE_BYTES=512; "
        "servers answer ERR_INPUTTOOLONG (417)"
    )
    assert isinstance(error, FrameTooLarge)


def test_a_bare_lf_line_has_the_same_512_byte_budget() -> None:
    assert isinstance(CODEC.decode(privmsg_of(510)), Message)
    with pytest.raises(LineTooLong, match="of 513 bytes"):
        CODEC.decode(privmsg_of(511))


def tags_of(size: int) -> bytes:
    """A tags section of exactly `size` bytes, its '@' and trailing space included."""
    return b"@k=" + b"v" * (size - len(b"@k= ")) + b" "


def test_tags_of_exactly_8191_bytes_with_a_full_message_are_accepted() -> None:
    line = tags_of(MAX_TAGS_BYTES) + privmsg_of(510) + b"\r\n"
    assert len(line) == MAX_LINE_BYTES == 8703
    (message,) = decode_stream([line])
    assert isinstance(message, Message)
    assert len(message.tags["k"]) == 8191 - 4


def test_tags_of_8192_bytes_are_refused() -> None:
    with pytest.raises(LineTooLong) as caught:
        CODEC.decode(tags_of(MAX_TAGS_BYTES + 1) + b"PING")
    assert (caught.value.part, caught.value.size, caught.value.limit) == ("tags", 8192, 8191)
    assert "MAX_TAGS_BYTES=8191" in str(caught.value)


def test_a_line_over_8703_bytes_is_refused_before_its_end_arrives() -> None:
    decoder = WIRE.decoder()
    decoder.receive_data(b"@k=" + b"v" * (MAX_LINE_BYTES - 1 - 3))
    assert decoder.buffered == MAX_LINE_BYTES - 1  # could still be a whole line with its LF
    assert decoder.events() == []
    decoder.receive_data(b"v")
    assert decoder.buffered == 0
    with pytest.raises(LineTooLong) as caught:
        decoder.events()
    error = caught.value
    assert (error.part, error.size, error.limit) == ("line", 8704, 8703)
    assert str(error).startswith("IRC line with its line ending of at least 8704 bytes exceeds")


def test_a_flood_without_line_endings_is_never_buffered_past_the_limit() -> None:
    decoder = WIRE.decoder()
    decoder.receive_data(b"x" * RECV_CHUNK)
    assert decoder.buffered == 0
    decoder.receive_data(b"x" * RECV_CHUNK)  # dropped: the stream already failed
    assert decoder.buffered == 0
    with pytest.raises(LineTooLong):
        decoder.events()


def test_line_too_long_builds_the_err_inputtoolong_reply() -> None:
    reply = LineTooLong(600, "message").reply(server="irc.test", nick="dan")
    assert encode(reply) == b":irc.test 417 dan :Input line was too long\r\n"


def test_building_a_message_over_512_bytes_is_a_local_error() -> None:
    head = "PRIVMSG #c : "  # the space makes the text a trailing parameter
    assert (
        len(encode(Message(command="PRIVMSG", params=("#c", " " + "x" * (510 - len(head)))))) == 512
    )
    with pytest.raises(
        LocalProtocolError,
        match=r"PRIVMSG message of 513 bytes with CRLF exceeds MAX_MESSAGE_BYTES=512; cut the text",
    ):
        encode(Message(command="PRIVMSG", params=("#c", " " + "x" * (511 - len(head)))))


def test_building_tags_over_8191_bytes_is_a_local_error() -> None:
    at_limit = Message(command="PING", tags={"k": "v" * (MAX_TAGS_BYTES - 4)})
    assert len(encode(at_limit)) == MAX_TAGS_BYTES + len(b"PING\r\n")
    with pytest.raises(LocalProtocolError, match="tags of 8192 bytes"):
        encode(Message(command="PING", tags={"k": "v" * (MAX_TAGS_BYTES - 3)}))


def test_the_framing_refuses_to_write_cr_lf_or_an_overlong_line() -> None:
    framing = IrcFraming()
    assert framing.max_frame_size == MAX_LINE_BYTES - 1
    assert repr(framing) == "IrcFraming()"
    with pytest.raises(LocalProtocolError, match="holds CR or LF"):
        framing.frame(b"PING\nQUIT")
    with pytest.raises(LocalProtocolError, match="8704 bytes with CRLF exceeds MAX_LINE_BYTES"):
        framing.frame(b"x" * (MAX_LINE_BYTES - 1))
