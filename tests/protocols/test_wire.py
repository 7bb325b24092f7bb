"""Wire and Encoder: what a connection speaks, and the round trip from Encoder to Decoder."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import Delimited, LengthPrefixed, LocalProtocolError, RawCodec, Wire
from protocols._sample import SAMPLE_CODEC, SampleHello, SampleMessage, SamplePost

short_text = st.text(max_size=63)
messages = st.one_of(
    st.builds(SampleHello, name=short_text),
    st.builds(SamplePost, room=short_text, text=short_text, seq=st.integers(0, 2**32 - 1)),
)


def test_wire_encode_frames_the_payload() -> None:
    wire = Wire(LengthPrefixed(width=2), SAMPLE_CODEC)
    assert wire.encode(SampleHello(name="ab")) == b"\x00\x04\x01\x02ab"


def test_encoder_sends_what_wire_encodes() -> None:
    wire = Wire(Delimited(), RawCodec())
    assert wire.encoder().send(b"hello") == wire.encode(b"hello") == b"hello\n"


def test_each_connection_gets_its_own_decoder_and_encoder() -> None:
    wire = Wire(LengthPrefixed(), RawCodec())
    assert wire.decoder() is not wire.decoder()
    assert wire.encoder() is not wire.encoder()


def test_repr_shows_framing_and_codec() -> None:
    assert (
        repr(Wire(Delimited(), RawCodec()))
        == "Wire(Delimited(b'\\n', max_frame_size=65536), RawCodec())"
    )


def test_encoding_a_payload_over_the_limit_is_a_local_error() -> None:
    wire = Wire(LengthPrefixed(max_frame_size=4), SAMPLE_CODEC)
    with pytest.raises(LocalProtocolError, match="payload of 6 bytes exceeds max_frame_size=4"):
        wire.encoder().send(SampleHello(name="abcd"))


def test_a_line_holding_the_delimiter_cannot_be_sent() -> None:
    with pytest.raises(LocalProtocolError, match="contains the delimiter"):
        Wire(Delimited(), RawCodec()).encode(b"two\nlines")


@given(
    batch=st.lists(messages, max_size=20),
    cuts=st.lists(st.integers(0, 2000), max_size=6),
)
def test_encoder_to_decoder_round_trips_messages_cut_anywhere(
    batch: list[SampleMessage], cuts: list[int]
) -> None:
    wire = Wire(LengthPrefixed(), SAMPLE_CODEC)
    encoder, decoder = wire.encoder(), wire.decoder()
    stream = b"".join(encoder.send(message) for message in batch)
    offsets = sorted({0, len(stream), *(cut for cut in cuts if cut < len(stream))})
    received: list[SampleMessage] = []
    for start, end in itertools.pairwise(offsets):
        decoder.receive_data(stream[start:end])
        received.extend(decoder.events())
    decoder.receive_data(b"")
    received.extend(decoder.events())
    assert received == batch
