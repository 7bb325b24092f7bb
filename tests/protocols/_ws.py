"""Helpers for the WebSocket tests: byte fixtures, a seeded randomness, a connected pair."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from protocols._websocket._frames import build_frame
from protocols.websocket import (
    WebSocketClient,
    WebSocketReceiver,
    WebSocketSender,
    WebSocketServer,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

M = TypeVar("M")

#: The masking key of RFC 6455 §5.7's examples.
MASK = b"\x37\xfa\x21\x3d"

#: RFC 6455 §1.2's sample handshake key and its accept value.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def upgrade_request(*extra: str, path: str = "/ws", key: str = KEY) -> bytes:
    """A browser-like upgrade request, with extra header lines."""
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def seeded(seed: int = 0) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    rng = random.Random(seed)
    return rng.randbytes


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Yield `data` whole, byte by byte, and split in two at every offset (h11, wsproto)."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for offset in range(1, len(data)):
        yield [data[:offset], data[offset:]]


def client_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """A frame as a client sends it: masked with `MASK`."""
    return build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask_key=MASK)


def open_server(
    server: WebSocketServer[Any] | None = None, *extra: str
) -> tuple[WebSocketReceiver[Any], WebSocketSender[Any]]:
    """A server receiver past the handshake (its 101 taken), and its sender."""
    receiver = (server or WebSocketServer(compression=False)).decoder()
    receiver.receive_data(upgrade_request(*extra))
    assert receiver.data_to_send().startswith(b"HTTP/1.1 101 ")
    opened = receiver.opened()
    assert opened is not None
    sender = opened.sender
    assert isinstance(sender, WebSocketSender)
    return receiver, sender


def feed(receiver: WebSocketReceiver[M], chunks: list[bytes]) -> list[M]:
    """Feed chunks one at a time and collect the events after each, as a reader would."""
    events: list[M] = []
    for chunk in chunks:
        receiver.receive_data(chunk)
        events.extend(receiver.events())
    return events


class WebSocketPair(Generic[M]):
    """A client and a server connected in memory, handshake done (h11's ConnectionPair)."""

    def __init__(self, server: WebSocketServer[M], client: WebSocketClient[M]) -> None:
        self.server = server.decoder()
        self.client = client.decoder()
        self.server.receive_data(self.client.data_to_send())
        self.client.receive_data(self.server.data_to_send())
        server_opened, client_opened = self.server.opened(), self.client.opened()
        assert server_opened is not None, self.server.events()
        assert client_opened is not None, self.client.events()
        assert isinstance(server_opened.sender, WebSocketSender)
        assert isinstance(client_opened.sender, WebSocketSender)
        self.server_sender: WebSocketSender[M] = server_opened.sender
        self.client_sender: WebSocketSender[M] = client_opened.sender
        self.server_details = server_opened.details
        self.client_details = client_opened.details

    def to_server(self, data: bytes) -> list[M]:
        """Deliver client bytes to the server; deliver what the server owes back; server events."""
        self.server.receive_data(data)
        owed = self.server.data_to_send()
        if owed:
            self.client.receive_data(owed)
        return self.server.events()

    def to_client(self, data: bytes) -> list[M]:
        """Deliver server bytes to the client; deliver what the client owes back; client events."""
        self.client.receive_data(data)
        owed = self.client.data_to_send()
        if owed:
            self.server.receive_data(owed)
        return self.client.events()
