"""The public API of `protocols` is exactly what the connection layer imports."""

from __future__ import annotations

import types

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


def test_all_lists_every_public_name_the_package_defines() -> None:
    defined = {
        name
        for name, value in vars(protocols).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert defined == set(protocols.__all__)


def test_a_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from protocols import *", namespace)  # raises if __all__ names something missing
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(protocols.__all__)


def test_default_frame_limit_is_64_kib() -> None:
    assert protocols.DEFAULT_MAX_FRAME_SIZE == 65536
