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
            "Opened",
            "ProtocolError",
            "RawCodec",
            "Receiver",
            "RemoteProtocolError",
            "Sender",
            "TaggedUnion",
            "Wire",
            "WireProtocol",
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


def test_wire_is_the_easy_case_of_the_wire_protocol_seam() -> None:
    wire = protocols.Wire(protocols.LengthPrefixed(), protocols.RawCodec())
    # mypy checks these assignments against the Protocols; the asserts check behaviour.
    seam: protocols.WireProtocol[bytes] = wire
    receiver: protocols.Receiver[bytes] = seam.decoder()
    sender = seam.encoder()
    assert sender is not None
    receiver.receive_data(sender.send(b"hi"))
    assert receiver.events() == [b"hi"]
    assert receiver.data_to_send() == b""
    assert receiver.opened() is None
    assert not receiver.finished
    assert sender.close(1000, "bye") == b""
    assert not sender.awaits_peer_close
