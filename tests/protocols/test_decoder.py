"""Decoder: byte streams cut anywhere, coalesced, oversized, garbled, truncated or ended early."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import (
    Decoder,
    Delimited,
    FrameTooLarge,
    Framing,
    LengthPrefixed,
    LocalProtocolError,
    RawCodec,
    RemoteProtocolError,
    Wire,
)
from protocols._sample import SAMPLE_CODEC, SampleHello, SampleMessage, SamplePost

if TYPE_CHECKING:
    from collections.abc import Iterator

M = TypeVar("M")

RECV_CHUNK = 64 * 1024  # bytes one recv() may return; the buffer bound allows one of these

SAMPLE_WIRE = Wire(LengthPrefixed(), SAMPLE_CODEC)
LINES = Wire(Delimited(b"\r\n", max_frame_size=16), RawCodec())

# Three sample frames: a post, a hello with a two-byte character, an empty hello.
SAMPLE_STREAM = (
    b"\x00\x00\x00\x0e" + b"\x02\x05lobby\x02hi\x00\x00\x00\x2a"
    b"\x00\x00\x00\x04" + b"\x01\x02\xc3\xa9"
    b"\x00\x00\x00\x02" + b"\x01\x00"
)
SAMPLE_EVENTS: list[SampleMessage] = [
    SamplePost(room="lobby", text="hi", seq=42),
    SampleHello(name="é"),
    SampleHello(name=""),
]


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Yield `data` whole, byte by byte, and split in two at every offset (h11, wsproto)."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for offset in range(1, len(data)):
        yield [data[:offset], data[offset:]]


def feed(decoder: Decoder[M], chunks: list[bytes]) -> list[M]:
    """Feed chunks one at a time, as a reader would, and collect the events after each."""
    events: list[M] = []
    for chunk in chunks:
        decoder.receive_data(chunk)
        events.extend(decoder.events())
    return events


def test_sample_stream_decodes_however_it_is_cut() -> None:
    for chunks in chunkings(SAMPLE_STREAM):
        decoder = SAMPLE_WIRE.decoder()
        assert feed(decoder, [*chunks, b""]) == SAMPLE_EVENTS, chunks
        assert decoder.buffered == 0
        assert decoder.eof


def test_lines_decode_however_they_are_cut() -> None:
    stream = b"one\r\n\r\nthree\rstill\r\n"
    for chunks in chunkings(stream):
        assert feed(LINES.decoder(), [*chunks, b""]) == [b"one", b"", b"three\rstill"], chunks


def test_coalesced_frames_come_out_of_one_call_in_order() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(SAMPLE_STREAM * 3)
    assert decoder.events() == SAMPLE_EVENTS * 3
    assert decoder.events() == []


def test_events_are_kept_until_taken() -> None:
    decoder = SAMPLE_WIRE.decoder()
    for chunk in (SAMPLE_STREAM[:20], SAMPLE_STREAM[20:]):
        decoder.receive_data(chunk)
    assert decoder.events() == SAMPLE_EVENTS


def test_buffered_counts_the_partial_frame_only() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(SAMPLE_STREAM[:25])
    assert decoder.buffered == 25 - 18
    assert decoder.events() == [SAMPLE_EVENTS[0]]


def test_oversize_declared_length_is_rejected_before_buffering() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(b"\xff\xff\xff\xff")
    assert decoder.buffered == 0
    decoder.receive_data(b"x" * RECV_CHUNK)  # the announced body is not kept
    assert decoder.buffered == 0
    with pytest.raises(FrameTooLarge) as caught:
        decoder.events()
    assert (caught.value.size, caught.value.limit) == (4294967295, 65536)
    assert str(caught.value) == "frame of 4294967295 bytes exceeds max_frame_size=65536"
    assert "in frame 1 of the stream" in caught.value.__notes__[0]


def test_unterminated_line_over_the_limit_is_rejected_without_waiting() -> None:
    decoder = LINES.decoder()
    for _ in range(17):
        decoder.receive_data(b"x")
    assert decoder.buffered == 17  # the 17th byte could begin a b"\r\n" for all it knows
    decoder.receive_data(b"x")
    assert decoder.buffered == 0
    with pytest.raises(FrameTooLarge, match="frame of at least 17 bytes exceeds max_frame_size=16"):
        decoder.events()


def test_buffer_never_exceeds_one_frame_and_one_chunk() -> None:
    framing = LengthPrefixed(max_frame_size=1000)
    decoder = Wire(framing, RawCodec()).decoder()
    stream = framing.frame(b"y" * 1000) * 50
    for start in range(0, len(stream), 700):
        decoder.receive_data(stream[start : start + 700])
        assert decoder.buffered < 4 + 1000 + 700
    assert decoder.events() == [b"y" * 1000] * 50


def test_good_frames_before_a_bad_one_are_returned_first() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(SAMPLE_STREAM + b"\x00\x00\x00\x01\x07" + SAMPLE_STREAM)
    assert decoder.events() == SAMPLE_EVENTS
    with pytest.raises(RemoteProtocolError, match="unknown SampleTag tag 7") as caught:
        decoder.events()
    assert caught.value.__notes__ == ["in frame 4 of the stream, counting from 1"]
    with pytest.raises(RemoteProtocolError, match="unknown SampleTag tag 7"):
        decoder.events()  # and again: the stream cannot be trusted any more


def test_data_after_an_error_is_dropped() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(b"\x00\x00\x00\x01\x07")
    decoder.receive_data(SAMPLE_STREAM)
    assert decoder.buffered == 0
    with pytest.raises(RemoteProtocolError):
        decoder.events()


@pytest.mark.parametrize(
    ("stream", "fragment"),
    [
        (b"\x00\x00", "inside frame 4: received 2 of 4 length-header bytes"),
        (b"\x00\x00\x00\x0e\x02\x05lo", "inside frame 4: received 4 of 14 payload bytes declared"),
    ],
)
def test_eof_inside_a_frame_says_how_much_of_which_frame_arrived(
    stream: bytes, fragment: str
) -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(SAMPLE_STREAM + stream)
    decoder.receive_data(b"")
    assert decoder.events() == SAMPLE_EVENTS
    with pytest.raises(RemoteProtocolError, match="peer closed the connection " + fragment):
        decoder.events()


def test_eof_inside_a_line_says_how_many_bytes_arrived() -> None:
    decoder = LINES.decoder()
    decoder.receive_data(b"ok\r\npart\r")
    decoder.receive_data(b"")
    assert decoder.events() == [b"ok"]
    with pytest.raises(
        RemoteProtocolError, match=r"inside frame 2: received 5 bytes without the b'\\r\\n'"
    ):
        decoder.events()


def test_clean_eof_leaves_nothing_to_report() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(SAMPLE_STREAM)
    decoder.receive_data(b"")
    assert decoder.events() == SAMPLE_EVENTS
    assert decoder.events() == []
    assert decoder.eof


def test_data_after_eof_is_a_local_error_and_repeated_eof_is_not() -> None:
    decoder = SAMPLE_WIRE.decoder()
    decoder.receive_data(b"")
    decoder.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="received 3 bytes after end of stream"):
        decoder.receive_data(b"abc")


@given(garbage=st.lists(st.binary(min_size=1, max_size=300), max_size=8))
def test_garbage_yields_events_or_remote_errors_and_stays_bounded(garbage: list[bytes]) -> None:
    for wire in (Wire(LengthPrefixed(max_frame_size=100), SAMPLE_CODEC), LINES):
        decoder = wire.decoder()
        try:
            for chunk in garbage:
                decoder.receive_data(chunk)
                assert decoder.buffered <= 4 + wire.framing.max_frame_size + len(chunk)
                decoder.events()
            decoder.receive_data(b"")
            decoder.events()
        except RemoteProtocolError:
            pass


class ScanRecorder:
    """Framing that records the `scanned` offsets the decoder hands to a real Delimited."""

    def __init__(self) -> None:
        self.inner = Delimited()
        self.max_frame_size = self.inner.max_frame_size
        self.scans: list[int] = []

    def frame(self, payload: bytes) -> bytes:
        return self.inner.frame(payload)

    def frame_bounds(
        self, buffer: bytes | bytearray, start: int, scanned: int
    ) -> tuple[int, int, int] | None:
        self.scans.append(max(start, scanned))
        return self.inner.frame_bounds(buffer, start, scanned)

    def resume_offset(self, buffer: bytes | bytearray, start: int) -> int:
        return self.inner.resume_offset(buffer, start)

    def describe_partial(self, buffer: bytes | bytearray, start: int) -> str:
        return self.inner.describe_partial(buffer, start)


def test_a_slow_line_is_scanned_once_not_from_its_start_each_time() -> None:
    recorder = ScanRecorder()
    framing: Framing = recorder
    decoder = Decoder(framing, RawCodec())
    for _ in range(1000):
        decoder.receive_data(b"x")
    decoder.receive_data(b"\n")
    assert decoder.events() == [b"x" * 1000]
    # Each search starts at the newest byte; the last one looks for a next frame.
    assert recorder.scans == list(range(1002))
