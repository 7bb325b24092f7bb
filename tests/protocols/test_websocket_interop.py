"""Interop with the websockets library's sans-IO protocols, both directions, deflate on and off."""

from __future__ import annotations

from typing import Any

import pytest
from _ws import seeded
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Close, Frame
from websockets.frames import Opcode as TheirOpcode
from websockets.http11 import Request as TheirRequest
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from protocols.websocket import (
    CloseInfo,
    Handshake,
    WebSocketClient,
    WebSocketReceiver,
    WebSocketSender,
    WebSocketServer,
)

MESSAGES: list[str | bytes] = [
    "hello",
    b"\x00\x01\x02",
    "",
    b"",
    "é€𝄞" * 1000,
    bytes(range(256)) * 400,
    "repeat me " * 5000,
]


def their_messages(events: list[Any]) -> list[str | bytes]:
    out: list[str | bytes] = []
    for event in events:
        if isinstance(event, Frame) and event.opcode is TheirOpcode.TEXT:
            out.append(bytes(event.data).decode())
        elif isinstance(event, Frame) and event.opcode is TheirOpcode.BINARY:
            out.append(bytes(event.data))
    return out


def our_opened(receiver: WebSocketReceiver[Any]) -> tuple[WebSocketSender[Any], Handshake]:
    opened = receiver.opened()
    assert opened is not None, receiver.events()
    assert isinstance(opened.sender, WebSocketSender)
    assert isinstance(opened.details, Handshake)
    return opened.sender, opened.details


@pytest.mark.parametrize("compression", [True, False])
def test_their_client_talks_to_our_server(compression: bool) -> None:
    theirs = ClientProtocol(
        parse_uri("ws://example.com/ws"),
        extensions=[ClientPerMessageDeflateFactory()] if compression else None,
    )
    theirs.send_request(theirs.connect())
    ours = WebSocketServer(compression=compression).decoder()
    for chunk in theirs.data_to_send():
        ours.receive_data(chunk)
    theirs.receive_data(ours.data_to_send())
    sender, details = our_opened(ours)
    assert (details.extensions is not None) is compression
    assert theirs.handshake_exc is None
    assert (len(theirs.extensions) == 1) is compression
    for message in MESSAGES:
        if isinstance(message, str):
            theirs.send_text(message.encode())
        else:
            theirs.send_binary(message)
        for chunk in theirs.data_to_send():
            ours.receive_data(chunk)
        assert ours.events() == [message]
        theirs.receive_data(sender.send(message))
        assert their_messages(theirs.events_received()) == [message]
    theirs.send_ping(b"ping!")
    for chunk in theirs.data_to_send():
        ours.receive_data(chunk)
    theirs.receive_data(ours.data_to_send())
    pong = theirs.events_received()
    assert [(frame.opcode, frame.data) for frame in pong if isinstance(frame, Frame)] == [
        (TheirOpcode.PONG, b"ping!")
    ]
    theirs.send_close(4001, "done")
    for chunk in theirs.data_to_send():
        ours.receive_data(chunk)
    assert ours.finished
    assert ours.close_received == CloseInfo(code=4001, reason="done")
    theirs.receive_data(ours.data_to_send())
    assert theirs.close_rcvd == Close(4001, "")


@pytest.mark.parametrize("compression", [True, False])
def test_our_client_talks_to_their_server(compression: bool) -> None:
    ours = WebSocketClient(
        host="example.com", path="/ws", compression=compression, urandom=seeded()
    ).decoder()
    theirs = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()] if compression else None)
    theirs.receive_data(ours.data_to_send())
    [request] = theirs.events_received()
    assert isinstance(request, TheirRequest)
    theirs.send_response(theirs.accept(request))
    for chunk in theirs.data_to_send():
        ours.receive_data(chunk)
    sender, details = our_opened(ours)
    assert (details.extensions is not None) is compression
    for message in MESSAGES:
        theirs.receive_data(sender.send(message))
        assert their_messages(theirs.events_received()) == [message]
        assert theirs.parser_exc is None
        if isinstance(message, str):
            theirs.send_text(message.encode())
        else:
            theirs.send_binary(message)
        for chunk in theirs.data_to_send():
            ours.receive_data(chunk)
        assert ours.events() == [message]
    theirs.receive_data(sender.close(1001, "bye"))
    assert theirs.close_rcvd == Close(1001, "bye")
    for chunk in theirs.data_to_send():
        if chunk:
            ours.receive_data(chunk)
    assert ours.finished
    assert ours.close_received == CloseInfo(code=1001, reason="bye")


def test_their_fragmented_messages_reach_us() -> None:
    theirs = ClientProtocol(
        parse_uri("ws://example.com/ws"), extensions=[ClientPerMessageDeflateFactory()]
    )
    theirs.send_request(theirs.connect())
    ours = WebSocketServer().decoder()
    for chunk in theirs.data_to_send():
        ours.receive_data(chunk)
    theirs.receive_data(ours.data_to_send())
    our_opened(ours)
    theirs.send_text(b"frag" * 100, fin=False)
    theirs.send_ping(b"between")
    theirs.send_continuation(b"ment" * 100, fin=False)
    theirs.send_continuation("€".encode(), fin=True)
    for chunk in theirs.data_to_send():
        ours.receive_data(chunk)
    assert ours.events() == ["frag" * 100 + "ment" * 100 + "€"]
