"""A client and a server of ours, connected in memory: messages, pings and closes both ways."""

from __future__ import annotations

import pytest
from _ws import WebSocketPair, seeded
from hypothesis import given
from hypothesis import strategies as st

from protocols import chat
from protocols._websocket._frames import Opcode, build_frame
from protocols.websocket import (
    CloseInfo,
    ConnectionState,
    Handshake,
    WebSocketClient,
    WebSocketServer,
)


def make_pair(*, compression: bool) -> WebSocketPair[str | bytes]:
    return WebSocketPair(
        WebSocketServer(compression=compression, subprotocols=["chat.v1"]),
        WebSocketClient(
            host="example.com",
            path="/room?name=lobby",
            subprotocols=["chat.v1"],
            compression=compression,
            urandom=seeded(),
        ),
    )


SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20]


@pytest.mark.parametrize("compression", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_text_and_binary_round_trip_both_ways(compression: bool, size: int) -> None:
    pair = make_pair(compression=compression)
    binary = bytes(range(256)) * (size // 256) + b"\x07" * (size % 256)
    text = ("aé€" * size).encode()[:size].decode("utf-8", "ignore")  # at most `size` bytes
    for message in (binary, text):
        assert pair.to_server(pair.client_sender.send(message)) == [message]
        assert pair.to_client(pair.server_sender.send(message)) == [message]


def test_handshake_details_on_both_sides() -> None:
    pair = make_pair(compression=True)
    for details in (pair.server_details, pair.client_details):
        assert isinstance(details, Handshake)
        assert details.path == "/room?name=lobby"
        assert details.subprotocol == "chat.v1"
        assert details.extensions == (
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        )


def test_fragmented_messages_from_the_server_reach_the_client() -> None:
    pair = make_pair(compression=False)
    frames = (
        build_frame(Opcode.BINARY, b"ab", fin=False)
        + build_frame(Opcode.PING, b"!")
        + build_frame(Opcode.CONTINUATION, b"cd", fin=False)
        + build_frame(Opcode.CONTINUATION, b"ef")
    )
    assert pair.to_client(frames) == [b"abcdef"]


def test_ping_is_answered_by_the_peer_receiver() -> None:
    pair = make_pair(compression=False)
    pair.server.receive_data(pair.client_sender.ping(b"token"))
    pong = pair.server.data_to_send()
    assert pong == build_frame(Opcode.PONG, b"token")
    pair.client.receive_data(pong)
    assert pair.client.events() == []
    pair.client.receive_data(pair.server_sender.ping(b"back"))
    pong = pair.client.data_to_send()
    assert pong[0] == 0x8A
    assert pong[1] & 0x80  # masked: the client's receiver masks its pongs


@pytest.mark.parametrize(("code", "reason"), [(1000, ""), (1001, "going away"), (4000, "app é")])
def test_close_handshake_started_by_the_client(code: int, reason: str) -> None:
    pair = make_pair(compression=True)
    pair.server.receive_data(pair.client_sender.close(code, reason))
    assert pair.server.finished
    assert pair.server.close_received == CloseInfo(code=code, reason=reason)
    echo = pair.server.data_to_send()
    pair.client.receive_data(echo)
    assert pair.client.finished
    assert pair.client.close_received == CloseInfo(code=code, reason="")
    assert pair.client.data_to_send()[0] == 0x88  # its own echo, which the shell drops
    assert pair.client_sender.awaits_peer_close


def test_close_handshake_started_by_the_server() -> None:
    pair = make_pair(compression=False)
    pair.client.receive_data(pair.server_sender.close(1001, "restart"))
    assert pair.client.close_received == CloseInfo(code=1001, reason="restart")
    pair.server.receive_data(pair.client.data_to_send())
    assert pair.server.finished
    assert pair.server.state is ConnectionState.CLOSED


def test_sending_after_close_is_a_local_error() -> None:
    from protocols import LocalProtocolError  # noqa: PLC0415

    pair = make_pair(compression=False)
    pair.server_sender.close(1000, "")
    with pytest.raises(LocalProtocolError, match="after close"):
        pair.server_sender.send(b"late")
    with pytest.raises(LocalProtocolError, match="twice"):
        pair.server_sender.close(1000, "")
    with pytest.raises(LocalProtocolError, match="may not be sent"):
        pair.client_sender.close(1006, "")
    with pytest.raises(LocalProtocolError, match=r"str \(text\) or bytes"):
        pair.client_sender.send(42)  # type: ignore[arg-type]


def test_broadcast_encoding_is_a_plain_server_frame() -> None:
    server = WebSocketServer()
    assert server.encoder() is None  # type: ignore[func-returns-value]
    assert server.encode("hi") == b"\x81\x02hi"
    assert server.encode(b"hi") == b"\x82\x02hi"
    pair = make_pair(compression=True)
    assert pair.to_client(server.encode("x" * 1000)) == ["x" * 1000]
    client_frame = WebSocketClient(host="x", urandom=seeded()).encode(b"hi")
    assert client_frame[1] & 0x80
    assert pair.to_server(client_frame) == [b"hi"]


def test_the_chat_codec_rides_binary_messages() -> None:
    pair = WebSocketPair(
        WebSocketServer(chat.CODEC), WebSocketClient(chat.CODEC, host="x", urandom=seeded())
    )
    say = chat.Say(room="lobby", text="hello " * 50)
    assert pair.to_server(pair.client_sender.send(say)) == [say]
    said = chat.Said(room="lobby", nick="ann", text="hi", time_ms=1)
    assert pair.to_client(pair.server_sender.send(said)) == [said]


@given(
    messages=st.lists(st.text(max_size=300) | st.binary(max_size=300), max_size=10),
    compression=st.booleans(),
    cut=st.integers(1, 50),
)
def test_any_messages_survive_any_cutting(
    messages: list[str | bytes], compression: bool, cut: int
) -> None:
    pair = make_pair(compression=compression)
    stream = b"".join(pair.client_sender.send(message) for message in messages)
    received: list[str | bytes] = []
    for i in range(0, len(stream), cut):
        pair.server.receive_data(stream[i : i + cut])
        received.extend(pair.server.events())
    assert received == messages
