"""Frames: the construct declaration and the fast path agree; masking is its own inverse."""

from __future__ import annotations

from typing import TYPE_CHECKING

import construct  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols._websocket._frames import (
    FRAME_HEADER,
    Opcode,
    apply_mask,
    apply_mask_python,
    build_frame,
    parse_header,
)

if TYPE_CHECKING:
    from collections.abc import Callable

lengths = st.one_of(st.integers(0, 125), st.integers(126, 65535), st.integers(65536, 2**63 - 1))


def naive_mask(data: bytes, key: bytes) -> bytes:
    return bytes(byte ^ key[i % 4] for i, byte in enumerate(data))


@given(
    fin=st.booleans(),
    rsv=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    opcode=st.integers(0, 15),
    length=lengths,
    key=st.none() | st.binary(min_size=4, max_size=4),
    tail=st.binary(max_size=8),
)
def test_fast_parse_agrees_with_construct(  # noqa: PLR0917 - one per hypothesis strategy
    fin: bool,
    rsv: tuple[bool, bool, bool],
    opcode: int,
    length: int,
    key: bytes | None,
    tail: bytes,
) -> None:
    length7 = length if length < 126 else (126 if length < 65536 else 127)
    header = FRAME_HEADER.build(
        {
            "bits": {
                "fin": fin,
                "rsv1": rsv[0],
                "rsv2": rsv[1],
                "rsv3": rsv[2],
                "opcode": opcode,
                "masked": key is not None,
                "length7": length7,
            },
            "length": length,
            "mask_key": key,
        }
    )
    parsed = parse_header(header + tail, 0)
    assert parsed is not None
    first, start, parsed_length, parsed_key = parsed
    assert first == (fin << 7) | (rsv[0] << 6) | (rsv[1] << 5) | (rsv[2] << 4) | opcode
    assert (start, parsed_length, parsed_key) == (len(header), length, key)
    # Any shorter prefix of the header means "need more", never a wrong answer.
    for cut in range(len(header)):
        assert parse_header(header[:cut], 0) is None


@given(
    opcode=st.sampled_from(list(Opcode)),
    payload=st.binary(max_size=300) | st.integers(65530, 70000).map(lambda n: b"x" * n),
    fin=st.booleans(),
    rsv1=st.booleans(),
    key=st.none() | st.binary(min_size=4, max_size=4),
)
def test_built_frames_parse_with_construct(
    opcode: Opcode, payload: bytes, fin: bool, rsv1: bool, key: bytes | None
) -> None:
    frame = build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask_key=key)
    parsed = FRAME_HEADER.parse(frame)
    bits = parsed.bits
    assert (bits.fin, bits.rsv1, bits.rsv2, bits.rsv3) == (fin, rsv1, False, False)
    assert (bits.opcode, bits.masked, parsed.length) == (opcode, key is not None, len(payload))
    start = len(frame) - len(payload)
    body = frame[start:]
    assert (apply_mask(body, key) if key is not None else body) == payload
    # Shortest length encoding, as RFC 6455 §5.2 requires.
    assert bits.length7 == min(len(payload), 126 if len(payload) < 65536 else 127)


def test_construct_rejects_a_length_with_the_most_significant_bit_set() -> None:
    with pytest.raises(construct.CheckError):
        FRAME_HEADER.parse(b"\x82\x7f" + (2**63).to_bytes(8, "big"))
    assert parse_header(b"\x82\x7f" + (2**63).to_bytes(8, "big"), 0) == (0x82, 10, 2**63, None)


@pytest.mark.parametrize("mask", [apply_mask, apply_mask_python], ids=["in-use", "pure-python"])
@given(data=st.binary(max_size=2000), key=st.binary(min_size=4, max_size=4))
def test_mask_matches_the_rfc_definition_and_is_its_own_inverse(
    mask: Callable[[bytes | bytearray, bytes | bytearray], bytes], data: bytes, key: bytes
) -> None:
    masked = mask(data, key)
    assert masked == naive_mask(data, key)
    assert mask(masked, key) == data
    # The receiver unmasks slices of its bytearray buffer, with a key cut from it.
    assert mask(bytearray(masked), bytearray(key)) == data


def test_rfc_6455_section_5_7_examples() -> None:
    hello = bytes.fromhex("818537fa213d7f9f4d5158")
    assert build_frame(Opcode.TEXT, b"Hello", mask_key=b"\x37\xfa\x21\x3d") == hello
    assert build_frame(Opcode.TEXT, b"Hello") == bytes.fromhex("810548656c6c6f")
    assert build_frame(Opcode.TEXT, b"Hel", fin=False) == bytes.fromhex("010348656c")
    assert build_frame(Opcode.CONTINUATION, b"lo") == bytes.fromhex("80026c6f")
    assert build_frame(Opcode.BINARY, b"\0" * 256)[:4] == bytes.fromhex("827e0100")
    assert build_frame(Opcode.BINARY, b"\0" * 65536)[:10] == bytes.fromhex("827f0000000000010000")
