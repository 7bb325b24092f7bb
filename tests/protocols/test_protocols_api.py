"""The public API of `protocols` is exactly what the connection layer imports."""

from __future__ import annotations

import protocols


def test_public_names_are_pinned() -> None:
    assert sorted(protocols.__all__) == sorted(
        [
            "DEFAULT_MAX_FRAME_SIZE",
            "Codec",
            "Decoder",
            "Delimited",
            "Encoder",
            "FrameTooLarge",
            "Framing",
            "LengthPrefixed",
            "LocalProtocolError",
            "ProtocolError",
            "RawCodec",
            "RemoteProtocolError",
            "TaggedUnion",
            "Wire",
        ]
    )


def test_every_public_name_exists() -> None:
    for name in protocols.__all__:
        assert getattr(protocols, name) is not None


def test_default_frame_limit_is_64_kib() -> None:
    assert protocols.DEFAULT_MAX_FRAME_SIZE == 65536
