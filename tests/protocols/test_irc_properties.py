"""IRC properties: whatever is built parses back, and no byte string breaks the parser."""

from __future__ import annotations

from _irc import chunkings
from _irc_strategies import messages
from hypothesis import example, given
from hypothesis import strategies as st

from protocols import LocalProtocolError, RemoteProtocolError
from protocols.irc import CODEC, MAX_LINE_BYTES, WIRE, EmptyLine, Message, encode


@given(message=messages())
def test_a_built_message_parses_back_to_itself(message: Message) -> None:
    line = encode(message)
    assert line.endswith(b"\r\n")
    assert line.count(b"\n") == 1
    assert b"\x00" not in line
    decoder = WIRE.decoder()
    decoder.receive_data(line)
    assert decoder.events() == [message]


@given(batch=st.lists(messages(), min_size=1, max_size=4), data=st.data())
def test_a_stream_of_built_messages_decodes_however_it_is_cut(
    batch: list[Message], data: st.DataObject
) -> None:
    stream = b"".join(map(encode, batch))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    decoder = WIRE.decoder()
    events = []
    for chunk in chunks:
        if chunk:
            decoder.receive_data(chunk)
        events.extend(decoder.events())
    assert events == batch


IRCISH = st.lists(st.sampled_from(b" :@!;=\\+/aZ09#\r\n\x00\xff\xc3\xa9x"), max_size=60).map(bytes)


@given(line=st.one_of(st.binary(max_size=200), IRCISH))
@example(line=b"@")
@example(line=b":")
@example(line=b"@ :")
@example(line=b"\\")
def test_parsing_any_bytes_gives_an_event_or_a_remote_error(line: bytes) -> None:
    try:
        event = CODEC.decode(line)
    except RemoteProtocolError:
        return
    assert isinstance(event, Message | EmptyLine)


@given(line=IRCISH)
def test_a_parsed_line_builds_into_a_line_that_parses_the_same(line: bytes) -> None:
    try:
        event = CODEC.decode(line.replace(b"\n", b""))
    except RemoteProtocolError:
        return
    if isinstance(event, EmptyLine):
        return
    try:
        rebuilt = encode(event)
    except LocalProtocolError:
        return  # parsing is lenient where building is strict (tag keys, sizes)
    assert CODEC.decode(rebuilt.removesuffix(b"\r\n")) == event


@given(chunks=st.lists(st.one_of(st.binary(max_size=300), IRCISH).filter(bool), max_size=8))
def test_a_garbage_stream_yields_events_or_remote_errors_and_stays_bounded(
    chunks: list[bytes],
) -> None:
    decoder = WIRE.decoder()
    try:
        for chunk in [*chunks, b""]:
            decoder.receive_data(chunk)
            assert decoder.buffered <= MAX_LINE_BYTES + len(chunk)
            decoder.events()
    except RemoteProtocolError:
        pass


def test_a_long_tagged_line_decodes_however_it_is_cut() -> None:
    line = encode(
        Message(
            command="PRIVMSG",
            params=("#c", "caf\u00e9 \U0001f600"),
            source="n!u@h",
            tags={"+draft/reply": "a b;c", "time": "2026-01-01T00:00:00.000Z"},
        )
    )
    for chunks in chunkings(line):
        decoder = WIRE.decoder()
        for chunk in chunks:
            decoder.receive_data(chunk)
        assert decoder.events() == [CODEC.decode(line[:-2])], chunks
