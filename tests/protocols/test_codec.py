"""RawCodec: payloads are the messages."""

from __future__ import annotations

import pytest

from protocols import Codec, LocalProtocolError, RawCodec


def test_raw_codec_decodes_to_immutable_bytes() -> None:
    decoded = RawCodec().decode(bytearray(b"abc"))  # type: ignore[arg-type]
    assert decoded == b"abc"
    assert type(decoded) is bytes


@pytest.mark.parametrize("message", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_raw_codec_encodes_bytes_like_messages(message: bytes | bytearray | memoryview) -> None:
    assert RawCodec().encode(message) == b"abc"


def test_raw_codec_refuses_text_with_a_hint() -> None:
    with pytest.raises(LocalProtocolError, match="RawCodec sends bytes, not str; encode"):
        RawCodec().encode("abc")


def test_raw_codec_is_a_bytes_codec() -> None:
    codec: Codec[bytes] = RawCodec()
    assert codec.decode(codec.encode(b"x")) == b"x"
