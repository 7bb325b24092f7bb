"""The opening handshake: the server's accept/reject matrix, HTTP beside it, the client's checks."""

from __future__ import annotations

import h11
import pytest
from _ws import ACCEPT, KEY, chunkings, seeded, upgrade_request

from protocols.http import Request, Response
from protocols.websocket import (
    ConnectionState,
    Handshake,
    HandshakeError,
    WebSocketClient,
    WebSocketServer,
)


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def header_of(response: bytes, name: bytes) -> bytes | None:
    for line in response.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def test_rfc_6455_sample_handshake_is_accepted_however_it_is_cut() -> None:
    request = upgrade_request()
    for chunks in chunkings(request):
        receiver = WebSocketServer(compression=False).decoder()
        for chunk in chunks:
            receiver.receive_data(chunk)
            assert receiver.events() == []
        response = receiver.data_to_send()
        assert status_of(response) == 101
        assert header_of(response, b"sec-websocket-accept") == ACCEPT.encode()
        assert header_of(response, b"upgrade") == b"websocket"
        assert header_of(response, b"sec-websocket-extensions") is None
        opened = receiver.opened()
        assert opened is not None
        assert receiver.opened() is None  # exactly once
        assert isinstance(opened.details, Handshake)
        assert opened.details.path == "/ws"
        assert receiver.state is ConnectionState.OPEN


REJECTS = [
    ("no version", ("Sec-WebSocket-Version",), (), 426),
    ("version 8", ("Sec-WebSocket-Version",), ("Sec-WebSocket-Version: 8",), 426),
    ("no key", ("Sec-WebSocket-Key",), (), 400),
    ("short key", ("Sec-WebSocket-Key",), ("Sec-WebSocket-Key: c2hvcnQ=",), 400),
    ("not base64", ("Sec-WebSocket-Key",), ("Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!!!",), 400),
    ("two keys", (), (f"Sec-WebSocket-Key: {KEY}",), 400),
    ("no connection upgrade", ("Connection",), ("Connection: keep-alive",), 400),
]


@pytest.mark.parametrize(("name", "drop", "add", "status"), REJECTS, ids=[r[0] for r in REJECTS])
def test_bad_upgrades_are_refused_with_their_status(
    name: str, drop: tuple[str, ...], add: tuple[str, ...], status: int
) -> None:
    lines = [
        line
        for line in upgrade_request().decode().split("\r\n")
        if not any(line.startswith(d + ":") for d in drop)
    ]
    request = "\r\n".join(lines[:-2] + list(add) + ["", ""]).encode()
    receiver = WebSocketServer().decoder()
    receiver.receive_data(request)
    response = receiver.data_to_send()
    assert status_of(response) == status
    assert header_of(response, b"connection") == b"close"
    if status == 426:
        assert header_of(response, b"sec-websocket-version") == b"13"
    with pytest.raises(HandshakeError) as caught:
        receiver.events()
    assert caught.value.status_code == status
    assert caught.value.close_code is None
    assert receiver.opened() is None
    assert receiver.state is ConnectionState.FAILED


def test_non_get_upgrade_is_405_and_http_1_0_is_400() -> None:
    receiver = WebSocketServer().decoder()
    receiver.receive_data(upgrade_request().replace(b"GET", b"PUT", 1))
    assert status_of(receiver.data_to_send()) == 405
    receiver = WebSocketServer().decoder()
    receiver.receive_data(upgrade_request().replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    assert status_of(receiver.data_to_send()) == 400


@pytest.mark.parametrize(
    ("origin", "allowed", "status"),
    [
        ("https://good.example", {"https://good.example"}, 101),
        ("https://evil.example", {"https://good.example"}, 403),
        (None, {"https://good.example"}, 403),
        (None, {"https://good.example", None}, 101),
        ("https://any.example", None, 101),
    ],
)
def test_origin_allow_list(
    origin: str | None, allowed: set[str | None] | None, status: int
) -> None:
    receiver = WebSocketServer(allowed_origins=allowed).decoder()
    extra = () if origin is None else (f"Origin: {origin}",)
    receiver.receive_data(upgrade_request(*extra))
    assert status_of(receiver.data_to_send()) == status
    opened = receiver.opened()
    if status == 101:
        assert opened is not None
        assert isinstance(opened.details, Handshake)
        assert opened.details.origin == origin


@pytest.mark.parametrize(
    ("ours", "theirs", "chosen"),
    [
        (("chat.v2", "chat.v1"), "chat.v1, chat.v2", "chat.v2"),  # the server's preference
        (("chat.v1",), "chat.v1", "chat.v1"),
        (("chat.v1",), "other", None),
        ((), "chat.v1", None),
        (("Chat",), "chat", None),  # subprotocols are case-sensitive
    ],
)
def test_subprotocol_is_the_servers_first_choice_the_client_offers(
    ours: tuple[str, ...], theirs: str, chosen: str | None
) -> None:
    receiver = WebSocketServer(subprotocols=ours).decoder()
    receiver.receive_data(upgrade_request(f"Sec-WebSocket-Protocol: {theirs}"))
    response = receiver.data_to_send()
    assert status_of(response) == 101
    value = header_of(response, b"sec-websocket-protocol")
    assert value == (None if chosen is None else chosen.encode())


def pages(request: Request) -> Response:
    if request.path == "/":
        return Response(200, (("content-type", "text/html"),), b"<h1>hi</h1>")
    return Response.text(404, "no such page")


def test_a_handler_that_raises_is_answered_500_and_its_exception_reaches_the_caller() -> None:
    def broken(request: Request) -> Response:
        raise KeyError(request.path)

    receiver = WebSocketServer(http_handler=broken).decoder()
    with pytest.raises(KeyError):  # the handler's bug reaches the shell, to be logged
        receiver.receive_data(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(HandshakeError, match="raised KeyError") as caught:
        receiver.events()
    assert isinstance(caught.value.__cause__, KeyError)
    response = receiver.data_to_send()
    assert status_of(response) == 500
    assert b"connection: close" in response.lower()


def test_plain_requests_go_to_the_handler_with_keep_alive_then_upgrade() -> None:
    receiver = WebSocketServer(http_handler=pages, websocket_paths={"/ws"}).decoder()
    receiver.receive_data(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    out = receiver.data_to_send()
    first, second = out.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 OK")
    assert first.endswith(b"<h1>hi</h1>")
    assert b"content-length: 11" in first
    assert second.startswith(b"404 ")
    assert not receiver.finished
    receiver.receive_data(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = receiver.data_to_send()
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-length: 11" in head
    assert head.endswith(b"\r\n\r\n")  # no body for HEAD
    receiver.receive_data(upgrade_request(path="/ws"))
    assert status_of(receiver.data_to_send()) == 101
    assert receiver.opened() is not None


def test_an_upgrade_on_another_path_goes_to_the_handler() -> None:
    receiver = WebSocketServer(websocket_paths={"/ws"}).decoder()
    receiver.receive_data(upgrade_request(path="/other"))
    assert status_of(receiver.data_to_send()) == 404
    assert receiver.opened() is None
    assert receiver.state is ConnectionState.CONNECTING


def test_connection_close_request_finishes_after_the_response() -> None:
    receiver = WebSocketServer().decoder()
    receiver.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(receiver.data_to_send()) == 404
    assert receiver.finished
    assert receiver.events() == []


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 413),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000, 431),
    ],
)
def test_bad_http_is_answered_and_fails(request_bytes: bytes, status: int) -> None:
    receiver = WebSocketServer().decoder()
    receiver.receive_data(request_bytes)
    response = receiver.data_to_send()
    assert status_of(response) == status
    assert header_of(response, b"connection") == b"close"
    with pytest.raises(HandshakeError) as caught:
        receiver.events()
    assert caught.value.status_code == status


def test_eof_before_any_request_ends_quietly() -> None:
    receiver = WebSocketServer().decoder()
    receiver.receive_data(b"")
    assert receiver.events() == []
    assert receiver.state is ConnectionState.ENDED


def client_and_request(**options: object) -> tuple[object, h11.Request]:
    client = WebSocketClient(host="example.com", path="/chat", urandom=seeded(), **options)  # type: ignore[call-overload]
    receiver = client.decoder()
    request_bytes = receiver.data_to_send()
    server = h11.Connection(h11.SERVER)
    server.receive_data(request_bytes)
    request = server.next_event()
    assert isinstance(request, h11.Request)
    return receiver, request


def test_client_request_carries_host_key_origin_subprotocols_and_the_offer() -> None:
    _, request = client_and_request(
        origin="https://example.com", subprotocols=["chat.v2", "chat.v1"]
    )
    headers = dict(request.headers)
    assert request.method == b"GET"
    assert request.target == b"/chat"
    assert headers[b"host"] == b"example.com"
    assert headers[b"origin"] == b"https://example.com"
    assert headers[b"sec-websocket-protocol"] == b"chat.v2, chat.v1"
    assert headers[b"sec-websocket-version"] == b"13"
    assert len(headers[b"sec-websocket-key"]) == 24
    assert headers[b"sec-websocket-extensions"] == (
        b"permessage-deflate; server_max_window_bits=12; client_max_window_bits"
    )


def answer(receiver: object, response: bytes) -> HandshakeError:
    from protocols.websocket import WebSocketReceiver  # noqa: PLC0415

    assert isinstance(receiver, WebSocketReceiver)
    receiver.receive_data(response)
    with pytest.raises(HandshakeError) as caught:
        receiver.events()
    assert receiver.opened() is None
    return caught.value


def accept_for(request: h11.Request) -> str:
    from protocols._websocket._handshake import accept_key  # noqa: PLC0415

    return accept_key(dict(request.headers)[b"sec-websocket-key"].decode())


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ("upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: wrong", "Accept"),
        ("upgrade: h2c\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}", "Upgrade"),
        ("upgrade: websocket\r\nconnection: close\r\nsec-websocket-accept: {accept}", "Connection"),
        (
            (
                "upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n"
                "sec-websocket-protocol: other"
            ),
            "subprotocol",
        ),
        (
            (
                "upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n"
                "sec-websocket-extensions: x-webkit-deflate-frame"
            ),
            "did not offer",
        ),
        (
            (
                "upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n"
                "sec-websocket-extensions: permessage-deflate; server_max_window_bits=12; "
                "client_max_window_bits=8"
            ),
            "fewer than 9",
        ),
    ],
)
def test_client_rejects_a_bad_101(headers: str, match: str) -> None:
    receiver, request = client_and_request(subprotocols=["chat"])
    text = headers.format(accept=accept_for(request))
    error = answer(receiver, f"HTTP/1.1 101 Switching Protocols\r\n{text}\r\n\r\n".encode())
    assert match in str(error)
    assert error.status_code == 101


def test_client_rejects_a_non_101_and_garbage_and_eof() -> None:
    receiver, _ = client_and_request()
    error = answer(receiver, b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
    assert error.status_code == 403
    assert "403" in str(error)
    receiver, _ = client_and_request()
    assert answer(receiver, b"SSH-2.0-OpenSSH\r\n\r\n").status_code is None
    receiver, _ = client_and_request()
    assert "closed" in str(answer(receiver, b""))
