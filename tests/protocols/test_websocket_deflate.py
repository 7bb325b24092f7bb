"""permessage-deflate: negotiation as browsers and websockets offer it, round trips, bombs."""

from __future__ import annotations

import random
import zlib

import pytest
from _ws import WebSocketPair, client_frame, open_server, seeded

from protocols._websocket._deflate import KEEP_UNCOMPRESSED_FROM
from protocols._websocket._extension import PerMessageDeflate, accept_response, negotiate
from protocols._websocket._frames import Opcode
from protocols.websocket import (
    MessageTooBig,
    WebSocketClient,
    WebSocketProtocolError,
    WebSocketServer,
)

DEFAULTS = PerMessageDeflate()


@pytest.mark.parametrize(
    ("offer", "response"),
    [
        # Chromium and websockets: the server may pick the client's window.
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=12",
        ),
        # Firefox: no client_max_window_bits, so the server must not send one.
        ("permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
        ),
        (
            "permessage-deflate; server_max_window_bits=15",
            "permessage-deflate; server_max_window_bits=12",
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            'permessage-deflate; client_max_window_bits="10"',
            "permessage-deflate; client_max_window_bits=10",
        ),
        # Declined offers fall through to the next; none acceptable means no compression.
        ("permessage-deflate; server_max_window_bits=8, permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; unknown_param", None),
        ("permessage-deflate; server_max_window_bits=16", None),
        ("permessage-deflate; server_max_window_bits", None),
        ("permessage-deflate; client_max_window_bits=7", None),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
        ("permessage-deflate; server_max_window_bits=010", None),
        ("x-webkit-deflate-frame", None),
    ],
)
def test_server_negotiation(offer: str, response: str | None) -> None:
    params = negotiate([offer], DEFAULTS)
    assert (None if params is None else params.header) == response


def test_server_may_require_no_context_takeover() -> None:
    config = PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True)
    params = negotiate(["permessage-deflate"], config)
    assert params is not None
    assert params.header == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    )


@pytest.mark.parametrize(
    ("response", "error"),
    [
        ("permessage-deflate; server_max_window_bits=12", None),
        ("permessage-deflate; server_max_window_bits=9; client_max_window_bits=10", None),
        ("permessage-deflate", "did not honour server_max_window_bits=12"),
        ("permessage-deflate; server_max_window_bits=13", "did not honour"),
        ("permessage-deflate; server_max_window_bits=12; bogus", "malformed"),
        ("permessage-deflate; server_max_window_bits=12, permessage-deflate", "2 extensions"),
    ],
)
def test_client_checks_the_servers_answer(response: str, error: str | None) -> None:
    if error is None:
        assert accept_response([response], DEFAULTS) is not None
    else:
        with pytest.raises(ValueError, match=error):
            accept_response([response], DEFAULTS)


MESSAGES: list[str | bytes] = [
    "",
    "short",
    "a longer text message that is worth compressing " * 20,
    b"\x00" * 5000,
    bytes(range(256)) * 40,
    "é" * 3000,
]


@pytest.mark.parametrize("bits", range(9, 16))
@pytest.mark.parametrize("takeover", [True, False])
def test_round_trips_with_each_window_and_context_mode(bits: int, takeover: bool) -> None:
    config = PerMessageDeflate(
        server_max_window_bits=bits,
        client_max_window_bits=bits,
        server_no_context_takeover=not takeover,
        client_no_context_takeover=not takeover,
        min_size=0,
    )
    pair = WebSocketPair(
        WebSocketServer(compression=config),
        WebSocketClient(host="x", compression=config, urandom=seeded()),
    )
    assert pair.server_details.extensions is not None  # type: ignore[attr-defined]
    for _ in range(3):  # repeated: with context takeover the second time is tiny
        for message in MESSAGES:
            frame = pair.client_sender.send(message)
            raw = message.encode() if isinstance(message, str) else message
            # RSV1: compressed, unless deflate would enlarge a big message (at small windows).
            assert frame[0] & 0x40 or len(raw) >= KEEP_UNCOMPRESSED_FROM
            assert pair.to_server(frame) == [message]
            assert pair.to_client(pair.server_sender.send(message)) == [message]


def test_context_takeover_makes_repeats_smaller() -> None:
    message = "the same sentence, again and again, for the dictionary " * 4
    sizes = {}
    for takeover in (True, False):
        config = PerMessageDeflate(server_no_context_takeover=not takeover)
        pair = WebSocketPair(
            WebSocketServer(compression=config), WebSocketClient(host="x", urandom=seeded())
        )
        pair.server_sender.send(message)
        sizes[takeover] = len(pair.server_sender.send(message))
    assert sizes[True] < sizes[False] / 3


def test_small_messages_go_uncompressed() -> None:
    pair = WebSocketPair(WebSocketServer(), WebSocketClient(host="x", urandom=seeded()))
    frame = pair.server_sender.send(b"x" * 127)
    assert not frame[0] & 0x40
    assert pair.to_client(frame) == [b"x" * 127]
    assert pair.server_sender.send(b"x" * 128)[0] & 0x40


def test_fragmented_compressed_message_inflates_across_frames() -> None:
    receiver, _ = open_server(WebSocketServer(), "Sec-WebSocket-Extensions: permessage-deflate")
    text = ("fragmented and compressed " * 100).encode()
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    data = data[:-4]
    third = len(data) // 3
    frames = (
        client_frame(Opcode.TEXT, data[:third], fin=False, rsv1=True)
        + client_frame(Opcode.PING, b"between")
        + client_frame(Opcode.CONTINUATION, data[third : 2 * third], fin=False)
        + client_frame(Opcode.CONTINUATION, data[2 * third :])
    )
    for size in (1, 5, len(frames)):
        receiver, _ = open_server(WebSocketServer(), "Sec-WebSocket-Extensions: permessage-deflate")
        for i in range(0, len(frames), size):
            receiver.receive_data(frames[i : i + size])
        assert receiver.events() == [text.decode()]


def bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\x00" * (1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    return b"".join(parts)[:-4]


def test_a_decompression_bomb_is_stopped_at_the_limit() -> None:
    data = bomb(100 << 20)  # 100 MiB of zeros in ~100 KiB
    assert len(data) < 200_000
    receiver, _ = open_server(WebSocketServer(), "Sec-WebSocket-Extensions: permessage-deflate")
    receiver.receive_data(client_frame(Opcode.BINARY, data, rsv1=True))
    with pytest.raises(MessageTooBig) as caught:
        receiver.events()
    assert caught.value.close_code == 1009
    assert "inflated message of at least" in str(caught.value)
    limit = 1 << 20
    assert receiver.inflated <= limit + 1  # never more than the limit plus one byte
    assert receiver.data_to_send()[2:4] == b"\x03\xf1"


def test_a_bomb_spread_over_fragments_is_stopped_too() -> None:
    data = bomb(8 << 20)
    receiver, _ = open_server(
        WebSocketServer(max_message_size=100_000), "Sec-WebSocket-Extensions: permessage-deflate"
    )
    step = len(data) // 4
    receiver.receive_data(client_frame(Opcode.BINARY, data[:step], fin=False, rsv1=True))
    for i in range(step, len(data), step):
        receiver.receive_data(client_frame(Opcode.CONTINUATION, data[i : i + step], fin=False))
    with pytest.raises(MessageTooBig):
        receiver.events()
    assert receiver.inflated <= 100_001


def test_corrupt_deflate_is_1007() -> None:
    receiver, _ = open_server(WebSocketServer(), "Sec-WebSocket-Extensions: permessage-deflate")
    receiver.receive_data(client_frame(Opcode.BINARY, b"\xff\xff\xff", rsv1=True))
    with pytest.raises(WebSocketProtocolError) as caught:
        receiver.events()
    assert caught.value.close_code == 1007


@pytest.mark.parametrize("takeover", [True, False])
def test_a_message_deflate_would_enlarge_goes_uncompressed_and_the_windows_stay_in_step(
    takeover: bool,
) -> None:
    config = PerMessageDeflate(
        server_no_context_takeover=not takeover, client_no_context_takeover=not takeover
    )
    pair = WebSocketPair(
        WebSocketServer(compression=config),
        WebSocketClient(host="x", compression=config, urandom=seeded()),
    )
    noise = random.Random(7).randbytes(60_000)  # random bytes: deflate makes them bigger
    text = "the same words again and again " * 100
    for message in (text, noise, text, noise, text):
        frame = pair.server_sender.send(message)
        assert bool(frame[0] & 0x40) is (message is text)
        if message is noise:
            assert len(frame) == 4 + len(noise)  # header with a 16-bit length, then as is
        assert pair.to_client(frame) == [message]
        assert pair.to_server(pair.client_sender.send(message)) == [message]
