"""Framings alone: what frame() writes, where frame_bounds() says a frame ends, and the limits."""

from __future__ import annotations

from typing import Literal

import pytest

from protocols import (
    DEFAULT_MAX_FRAME_SIZE,
    Delimited,
    FrameTooLarge,
    Framing,
    LengthPrefixed,
    LocalProtocolError,
)


@pytest.mark.parametrize(
    ("width", "byteorder", "header"),
    [
        (4, "big", b"\x00\x00\x00\x03"),
        (4, "little", b"\x03\x00\x00\x00"),
        (2, "big", b"\x00\x03"),
        (2, "little", b"\x03\x00"),
        (1, "big", b"\x03"),
    ],
)
def test_length_prefix_counts_the_payload_only(
    width: Literal[1, 2, 4], byteorder: Literal["big", "little"], header: bytes
) -> None:
    framing = LengthPrefixed(width=width, byteorder=byteorder)
    assert framing.frame(b"abc") == header + b"abc"
    buffer = bytearray(header + b"abc")
    assert framing.frame_bounds(buffer, 0, 0) == (width, width + 3, width + 3)


def test_length_prefixed_defaults_to_four_byte_big_endian_and_64_kib() -> None:
    framing = LengthPrefixed()
    assert (framing.width, framing.byteorder) == (4, "big")
    assert framing.max_frame_size == DEFAULT_MAX_FRAME_SIZE
    assert repr(framing) == "LengthPrefixed(width=4, byteorder='big', max_frame_size=65536)"


@pytest.mark.parametrize(("width", "cap"), [(1, 255), (2, 65535), (4, DEFAULT_MAX_FRAME_SIZE)])
def test_frame_limit_is_capped_at_what_the_header_can_hold(
    width: Literal[1, 2, 4], cap: int
) -> None:
    assert LengthPrefixed(width=width).max_frame_size == cap


def test_sending_a_payload_over_the_limit_is_a_local_error() -> None:
    with pytest.raises(
        LocalProtocolError, match=r"payload of 11 bytes exceeds max_frame_size=10; split"
    ):
        LengthPrefixed(max_frame_size=10).frame(b"x" * 11)


def test_payload_at_the_limit_is_framed() -> None:
    assert LengthPrefixed(max_frame_size=10).frame(b"x" * 10) == b"\x00\x00\x00\x0a" + b"x" * 10


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"width": 3}, "width=3 is not a header size; use 1, 2 or 4"),
        ({"byteorder": "middle"}, "byteorder='middle' is not 'big' or 'little'"),
        ({"max_frame_size": -1}, "max_frame_size=-1 is negative"),
    ],
)
def test_length_prefixed_refuses_bad_settings(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        LengthPrefixed(**kwargs)  # type: ignore[arg-type]


def test_incomplete_header_or_body_needs_more() -> None:
    framing = LengthPrefixed()
    assert framing.frame_bounds(bytearray(b"\x00\x00\x00"), 0, 0) is None
    assert framing.frame_bounds(bytearray(b"\x00\x00\x00\x05abcd"), 0, 0) is None


def test_declared_length_over_limit_is_rejected_from_the_header_alone() -> None:
    with pytest.raises(FrameTooLarge) as caught:
        LengthPrefixed().frame_bounds(bytearray(b"\xff\xff\xff\xff"), 0, 0)
    assert (caught.value.size, caught.value.limit) == (4294967295, 65536)
    assert str(caught.value) == "frame of 4294967295 bytes exceeds max_frame_size=65536"


def test_frame_bounds_reads_the_frame_at_the_given_offset() -> None:
    buffer = bytearray(b"\x00\x00\x00\x01a\x00\x00\x00\x02bc")
    assert LengthPrefixed().frame_bounds(buffer, 5, 0) == (9, 11, 11)


def test_length_prefixed_describes_a_partial_header_and_a_partial_body() -> None:
    framing = LengthPrefixed()
    assert framing.describe_partial(bytearray(b"\x00\x00"), 0) == "2 of 4 length-header bytes"
    partial = bytearray(b"\x00\x00\x00\x0aabc")
    assert framing.describe_partial(partial, 0) == "3 of 10 payload bytes declared by its header"


def test_line_framing_appends_the_delimiter() -> None:
    assert Delimited().frame(b"hello") == b"hello\n"
    assert Delimited(b"\r\n").frame(b"hello") == b"hello\r\n"
    assert repr(Delimited(b"\r\n", max_frame_size=80)) == "Delimited(b'\\r\\n', max_frame_size=80)"


def test_line_framing_finds_the_payload_without_the_delimiter() -> None:
    buffer = bytearray(b"ab\r\ncd")
    assert Delimited(b"\r\n").frame_bounds(buffer, 0, 0) == (0, 2, 4)
    assert Delimited(b"\r\n").frame_bounds(buffer, 4, 4) is None


def test_sending_the_delimiter_inside_a_line_is_a_local_error() -> None:
    with pytest.raises(
        LocalProtocolError, match=r"contains the delimiter b'\\n' at offset 2; escape"
    ):
        Delimited().frame(b"ab\ncd")


def test_payload_ending_in_part_of_the_delimiter_is_refused() -> None:
    # b"xa" + b"aa" reads back as b"x": the delimiter straddles the payload's end.
    with pytest.raises(LocalProtocolError, match="at offset 1"):
        Delimited(b"aa").frame(b"xa")


def test_empty_delimiter_is_refused() -> None:
    with pytest.raises(ValueError, match="delimiter is empty"):
        Delimited(b"")


def test_line_over_the_limit_is_rejected_before_its_delimiter_arrives() -> None:
    framing = Delimited(max_frame_size=8)
    assert framing.frame_bounds(bytearray(b"x" * 8), 0, 0) is None
    with pytest.raises(FrameTooLarge) as caught:
        framing.frame_bounds(bytearray(b"x" * 9), 0, 0)
    assert str(caught.value) == "frame of at least 9 bytes exceeds max_frame_size=8"


def test_line_at_the_limit_is_accepted_and_one_more_byte_is_not() -> None:
    framing = Delimited(b"\r\n", max_frame_size=4)
    assert framing.frame_bounds(bytearray(b"abcd\r\n"), 0, 0) == (0, 4, 6)
    assert framing.frame_bounds(bytearray(b"abcd\r"), 0, 0) is None
    with pytest.raises(FrameTooLarge, match="at least 5 bytes"):
        framing.frame_bounds(bytearray(b"abcde\r"), 0, 0)


def test_line_search_resumes_where_it_stopped() -> None:
    framing = Delimited(b"\r\n")
    buffer = bytearray(b"abc\r")
    resume = framing.resume_offset(buffer, 0)
    assert resume == 3  # a delimiter may still begin at the trailing b"\r"
    buffer += b"\n"
    assert framing.frame_bounds(buffer, 0, resume) == (0, 3, 5)
    # Bytes before `scanned` are trusted to hold no delimiter: they are not searched again.
    assert framing.frame_bounds(bytearray(b"a\nbc"), 0, 2) is None


def test_delimited_describes_an_unterminated_line() -> None:
    description = Delimited().describe_partial(bytearray(b"abc"), 1)
    assert description == "2 bytes without the b'\\n' delimiter"


def test_both_framings_are_framings() -> None:
    framings: list[Framing] = [LengthPrefixed(), Delimited()]
    assert [f.max_frame_size for f in framings] == [65536, 65536]
