"""The WebSocket door over real sockets, against an independent implementation: `websockets`.

Three directions, all on 127.0.0.1 and ephemeral ports:

- a `websockets` client against `examples.wsecho` (served in-process): message sizes around
  every length encoding and the 1 MiB limit, fragments, pings, closing handshakes both ways,
  permessage-deflate on and off, order, concurrency;
- `actornet.connect_ws` against a `websockets` server: the same messages the other way round,
  subprotocols, close codes, and what `conn_handshake` holds;
- the chat's browser door: a `websockets` client with the chat's subprotocol talks with a client
  of the binary door, and the door's HTTP pages answer `http.client`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import queue
import random
import string
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import websockets.sync.server
from _support import WAIT, raw_socket, serving, track, wait_until
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.sync.client import ClientConnection, connect

import actornet
import actornet.testing
from examples.chat import metrics
from examples.chat.binary import BinaryChatSession
from examples.chat.browser import CHAT_PATH, SUBPROTOCOL, BrowserChatSession, browser_wire
from examples.chat.directory import ChatStatistics, Directory
from examples.chat.pages import Pages
from examples.wsecho.__main__ import WIRE as ECHO_WIRE
from examples.wsecho.__main__ import WebSocketEchoSession
from protocols import chat, websocket

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator

    from websockets.sync.server import ServerConnection

Reason = actornet.DisconnectReason
Message = str | bytes

MIB = 1024 * 1024

#: Sizes around each payload length encoding (7-bit, 16-bit, 64-bit) and up to the limit.
SIZES = [0, 1, 125, 126, 65535, 65536, MIB]

#: What `compression=` takes in `websockets`: its default (permessage-deflate) or none.
COMPRESSIONS = ["deflate", None]


def payload(size: int, *, text: bool, seed: int = 0) -> Message:
    """Return `size` bytes of seeded random binary, or `size` bytes of ASCII text.

    Random bytes do not compress, so with permessage-deflate on every byte still travels.
    """
    rng = random.Random(size * 2 + seed)
    if text:
        return "".join(rng.choices(string.ascii_letters + string.digits + " ", k=size))
    return rng.randbytes(size)


def ws_connect(url: str, **kwargs: Any) -> ClientConnection:
    """Open a `websockets` client: no proxy, no keepalive pings, every wait bounded."""
    ws: ClientConnection = connect(
        url, proxy=None, open_timeout=WAIT, close_timeout=WAIT, ping_interval=None, **kwargs
    )
    return ws


def extensions(ws: ClientConnection) -> str | None:
    """Return the `Sec-WebSocket-Extensions` the server answered, if any."""
    assert ws.response is not None
    return ws.response.headers.get("Sec-WebSocket-Extensions")


# -- a websockets client against examples.wsecho ------------------------------


@dataclass
class EchoJournal:
    """What the echo sessions of one test were told, across threads."""

    disconnects: queue.Queue[Reason]


class JournaledEcho(WebSocketEchoSession):
    """The example's echo, recording how each connection ended; "close me" closes with 4001."""

    def __init__(self, journal: EchoJournal) -> None:
        super().__init__()
        self.journal = journal

    def on_event(self, event: Message) -> None:
        if event == "close me":
            self.close(code=4001, reason="bye")
            return
        super().on_event(event)

    def on_disconnect(self, reason: Reason) -> None:
        self.journal.disconnects.put(reason)


@contextlib.contextmanager
def echo_server(
    limits: actornet.Limits | None = None,
) -> Iterator[tuple[actornet.Server[Message], str, EchoJournal]]:
    """Serve the echo example in-process; yield the server, its URL and its journal."""
    journal = EchoJournal(queue.Queue())
    with serving(JournaledEcho, wire=ECHO_WIRE, limits=limits, session_args=(journal,)) as (
        server,
        _,
    ):
        yield server, f"ws://127.0.0.1:{server.port}/echo", journal


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_text_and_binary_messages_of_every_length_encoding_echo_unchanged(
    compression: str | None,
) -> None:
    with (
        echo_server() as (_, url, _),
        ws_connect(url, compression=compression, max_size=MIB) as ws,
    ):
        assert (extensions(ws) is not None) == (compression is not None)
        for size in SIZES:
            for text in (False, True):
                message = payload(size, text=text)
                ws.send(message)
                echoed = ws.recv(timeout=WAIT)
                assert type(echoed) is type(message), (size, text)
                assert echoed == message, (size, text)
        ws.send("naïve 😀 €")  # multi-byte UTF-8 too
        assert ws.recv(timeout=WAIT) == "naïve 😀 €"


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_a_message_one_byte_over_the_default_limit_is_closed_with_1009(
    compression: str | None, text: bool
) -> None:
    with echo_server() as (server, url, journal), ws_connect(url, compression=compression) as ws:
        ws.send(payload(MIB + 1, text=text))
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == websocket.CloseCode.MESSAGE_TOO_BIG
        assert str(MIB) in closed.value.rcvd.reason
        assert journal.disconnects.get(timeout=WAIT) is Reason.PROTOCOL_ERROR
        assert wait_until(lambda: server.connection_count() == 0)


def test_an_incompressible_message_of_the_limit_reaches_a_websockets_client_with_that_limit() -> (
    None
):
    message = payload(MIB, text=False)
    with echo_server() as (_, url, _), ws_connect(url, max_size=MIB) as ws:
        ws.send(message)
        assert ws.recv(timeout=WAIT) == message


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_fragmented_messages_from_the_client_are_reassembled(compression: str | None) -> None:
    with (
        echo_server() as (_, url, _),
        ws_connect(url, compression=compression, max_size=MIB) as ws,
    ):
        # Fragment boundaries inside multi-byte characters: "€" is e2 82 ac, "😀" f0 9f 98 80.
        ws.send(["ab", "€", "", "😀" * 100, "cd"])
        assert ws.recv(timeout=WAIT) == "ab€" + "😀" * 100 + "cd"
        ws.send([b"\x00" * 10, b"", b"\xff" * 70_000, b"end"])
        assert ws.recv(timeout=WAIT) == b"\x00" * 10 + b"\xff" * 70_000 + b"end"
        # A fragmented message of exactly the limit is still one message.
        parts = [payload(MIB // 4, text=False, seed=n) for n in range(4)]
        assert isinstance(parts[0], bytes)
        ws.send(parts)
        assert ws.recv(timeout=WAIT) == b"".join(p for p in parts if isinstance(p, bytes))
        # Small fragments, many of them.
        ws.send([f"{n}," for n in range(500)])
        assert ws.recv(timeout=WAIT) == "".join(f"{n}," for n in range(500))


def test_pings_are_answered_with_pongs_carrying_their_payload() -> None:
    with echo_server() as (_, url, _), ws_connect(url) as ws:
        for data in (b"", b"x", b"token-1", bytes(range(125))):
            assert ws.ping(data).wait(WAIT), data
        # A ping between the fragments of a message is answered, and the message survives.
        ws.send(["first ", "second"])
        assert ws.ping(b"between").wait(WAIT)
        assert ws.recv(timeout=WAIT) == "first second"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1000, ""), (1001, "going away"), (3000, "app code"), (4999, "tschüss ✓ 👋")],
)
def test_a_close_from_the_client_is_answered_with_its_code(code: int, reason: str) -> None:
    with echo_server() as (server, url, journal):
        with ws_connect(url) as ws:
            ws.send("last words")
            assert ws.recv(timeout=WAIT) == "last words"
            ws.close(code, reason)
            assert ws.protocol.close_sent is not None
            assert (ws.protocol.close_sent.code, ws.protocol.close_sent.reason) == (code, reason)
            # The server echoes the code (RFC 6455 §5.5.1); its reason is its own (empty).
            assert ws.protocol.close_rcvd is not None
            assert ws.protocol.close_rcvd.code == code
            assert ws.protocol.close_rcvd.reason == ""
            assert not ws.protocol.close_exc.rcvd_then_sent
        assert journal.disconnects.get(timeout=WAIT) is Reason.PEER_CLOSED
        assert wait_until(lambda: server.connection_count() == 0)


def test_a_close_from_the_server_reaches_the_client_and_the_tcp_connection_then_ends() -> None:
    with echo_server() as (server, url, journal):
        with ws_connect(url) as ws:
            ws.send("close me")
            with pytest.raises(ConnectionClosedError) as closed:
                ws.recv(timeout=WAIT)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")
            # The client answered within the closing handshake, then saw the server close TCP.
            assert closed.value.sent is not None
            assert closed.value.sent.code == 4001
            assert closed.value.rcvd_then_sent
        assert journal.disconnects.get(timeout=WAIT) is Reason.CLOSED_BY_SESSION
        assert wait_until(lambda: server.connection_count() == 0)
        assert dict(server.statistics().disconnects) == {"closed_by_session": 1}


def test_a_close_from_the_server_lingers_until_the_client_answers_then_ends_with_a_fin() -> None:
    # The same, byte by byte on a raw socket, to see what a library hides: after its Close the
    # server keeps the connection open for the answer, then closes it with a FIN, not a reset.
    limits = actornet.Limits(idle_timeout=None, close_timeout=WAIT)
    with echo_server(limits) as (server, _, _):
        sock = raw_socket(server)
        raw_upgrade(sock)
        sock.sendall(masked_frame(0x1, b"close me"))
        opcode, data = read_server_frame(sock)
        assert (opcode, data) == (0x8, (4001).to_bytes(2, "big") + b"bye")
        assert server.connection_count() == 1, "closed before the client could answer"
        sock.sendall(masked_frame(0x8, (4001).to_bytes(2, "big")))
        sock.settimeout(WAIT)
        assert sock.recv(1) == b"", "expected EOF (a FIN) after the closing handshake"
        assert wait_until(lambda: server.connection_count() == 0)
        sock.close()


def raw_upgrade(sock: socket.socket, path: str = "/echo") -> None:
    """Send a minimal upgrade request by hand and read the 101 (the key of RFC 6455 §1.2)."""
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    sock.settimeout(WAIT)
    head = b""
    for _ in range(4096):
        if b"\r\n\r\n" in head:
            break
        head += sock.recv(1)  # byte by byte: no frame is read past the head
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head


def masked_frame(opcode: int, data: bytes) -> bytes:
    """Build a short (under 126 bytes) final masked frame by hand, with a fixed key."""
    assert len(data) < 126
    key = b"\x37\xfa\x21\x3d"
    return (
        bytes((0x80 | opcode, 0x80 | len(data)))
        + key
        + bytes(byte ^ key[n % 4] for n, byte in enumerate(data))
    )


def read_server_frame(sock: socket.socket) -> tuple[int, bytes]:
    """Read one short unmasked frame from the server; return its opcode and payload."""
    sock.settimeout(WAIT)
    first, second = recv_exactly(sock, 2)
    assert second < 126, f"unexpected length byte {second:#x}"
    return first & 0x0F, recv_exactly(sock, second)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    for _ in range(size + 1):
        if len(data) == size:
            return data
        chunk = sock.recv(size - len(data))
        assert chunk, f"EOF after {data!r}; wanted {size} bytes"
        data += chunk
    raise AssertionError("unreachable: each recv returns at least one byte")


def test_permessage_deflate_is_negotiated_and_compresses_both_directions() -> None:
    message = "the quick brown fox jumps over the lazy dog. " * 20_000  # ~900 KB
    with echo_server() as (server, url, _):
        with ws_connect(url) as ws:
            negotiated = extensions(ws)
            assert negotiated is not None
            assert negotiated.startswith("permessage-deflate"), negotiated
            for _ in range(3):
                ws.send(message)
                assert ws.recv(timeout=WAIT) == message
            ws.send(message.encode())
            assert ws.recv(timeout=WAIT) == message.encode()
        assert wait_until(lambda: server.connection_count() == 0)
        stats = server.statistics()
        # Four messages of ~900 KB each way: compressed, both directions carried a few KB.
        assert stats.received_bytes < 4 * len(message) // 20, stats
        assert stats.sent_bytes < 4 * len(message) // 20, stats


def test_without_compression_nothing_is_negotiated_and_every_byte_travels() -> None:
    message = "the quick brown fox jumps over the lazy dog. " * 5_000
    with echo_server() as (server, url, _):
        with ws_connect(url, compression=None) as ws:
            assert extensions(ws) is None
            ws.send(message)
            assert ws.recv(timeout=WAIT) == message
        assert wait_until(lambda: server.connection_count() == 0)
        stats = server.statistics()
        assert stats.received_bytes > len(message), stats
        assert stats.sent_bytes > len(message), stats


def test_many_messages_on_one_connection_come_back_in_order() -> None:
    count = 3000
    with echo_server() as (_, url, _), ws_connect(url, max_queue=None) as ws:
        sent: list[Message] = []
        received: list[Message] = []
        # Pipelined: a window of messages in flight, so the reader and writer both batch.
        for n in range(count):
            message: Message = f"message {n}" if n % 2 else f"message {n}".encode()
            sent.append(message)
            ws.send(message)
            if n >= 100:
                received.append(ws.recv(timeout=WAIT))
        while len(received) < count:
            received.append(ws.recv(timeout=WAIT))
        assert received == sent


def test_fifty_concurrent_clients_each_get_only_their_own_messages() -> None:
    clients, rounds = 50, 20
    ready = threading.Barrier(clients, timeout=WAIT)

    def talk(index: int) -> list[Message]:
        compression = "deflate" if index % 2 else None
        with ws_connect(url, compression=compression) as ws:
            ready.wait()  # all connected at once before anyone talks
            got = []
            for n in range(rounds):
                ws.send(f"{index}:{n}:" + "z" * (index * 10))
                got.append(ws.recv(timeout=WAIT))
            return got

    with echo_server() as (server, url, _):
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(talk, range(clients), timeout=2 * WAIT))
        for index, got in enumerate(results):
            assert got == [f"{index}:{n}:" + "z" * (index * 10) for n in range(rounds)]
        assert wait_until(lambda: server.connection_count() == 0)
        stats = server.statistics()
        assert stats.accepted == clients
        assert dict(stats.disconnects) == {"peer_closed": clients}


# -- actornet.connect_ws against a websockets server ---------------------------


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Tell a `QueueSession` to send this message."""

    message: Message


@dataclass(frozen=True, slots=True)
class CloseWith:
    """Tell a `QueueSession` to close with this code and reason."""

    code: int
    reason: str


class QueueSession(actornet.Session[Message]):
    """Client session that puts all it hears on a queue and sends what it is told."""

    def __init__(self, heard: queue.Queue[tuple[str, Any]]) -> None:
        super().__init__()
        self.heard = heard

    def on_connect(self) -> None:
        self.heard.put(("connect", self.conn_handshake))

    def on_event(self, event: Message) -> None:
        self.heard.put(("message", event))

    def on_disconnect(self, reason: Reason) -> None:
        self.heard.put(("disconnect", reason))

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, SendMessage):
            self.send(message.message)
        elif isinstance(message, CloseWith):
            self.close(code=message.code, reason=message.reason)
        return None


@dataclass
class PeerServer:
    """A `websockets` server in a thread, and what its handler saw."""

    port: int
    #: The close frames the handler's connections received: (code, reason), or None.
    closes: queue.Queue[tuple[int, str] | None]


def echo_handler(closes: queue.Queue[tuple[int, str] | None]) -> Callable[[ServerConnection], None]:
    """Return a `websockets` handler that echoes, and closes with 4002 on "close, please"."""

    def handler(ws: ServerConnection) -> None:
        try:
            for message in ws:
                if message == "close, please":
                    ws.close(4002, "sérvér says bye")
                    break
                ws.send(message)
        except ConnectionClosed:
            pass
        received = ws.protocol.close_rcvd
        closes.put(None if received is None else (received.code, received.reason))

    return handler


@contextlib.contextmanager
def peer_server(**kwargs: Any) -> Iterator[PeerServer]:
    """Run a `websockets` echo server on an ephemeral port in a thread, stopped after."""
    closes: queue.Queue[tuple[int, str] | None] = queue.Queue()
    server = websockets.sync.server.serve(
        echo_handler(closes),
        "127.0.0.1",
        0,
        ping_interval=None,
        open_timeout=WAIT,
        close_timeout=WAIT,
        **kwargs,
    )
    thread = threading.Thread(target=server.serve_forever, name="websockets-server", daemon=True)
    thread.start()
    try:
        yield PeerServer(server.socket.getsockname()[1], closes)
    finally:
        server.shutdown()
        thread.join(WAIT)
        assert not thread.is_alive(), "the websockets server did not stop"


def open_client(
    peer: PeerServer, path: str = "/", **kwargs: Any
) -> tuple[Any, queue.Queue[tuple[str, Any]]]:
    """Connect a `QueueSession` with `connect_ws`; return its ref and its queue, past connect."""
    heard: queue.Queue[tuple[str, Any]] = queue.Queue()
    ref = actornet.connect_ws(
        QueueSession,
        f"ws://127.0.0.1:{peer.port}{path}",
        limits=actornet.Limits(idle_timeout=None, close_timeout=WAIT),
        session_args=(heard,),
        **kwargs,
    )
    kind, handshake = heard.get(timeout=WAIT)
    assert kind == "connect", (kind, handshake)
    return ref, heard


def next_message(heard: queue.Queue[tuple[str, Any]]) -> Any:
    kind, value = heard.get(timeout=WAIT)
    assert kind == "message", (kind, value)
    return value


@pytest.mark.parametrize("compression", [True, False], ids=["deflate", "no compression"])
def test_connect_ws_exchanges_messages_of_every_size_with_a_websockets_server(
    compression: bool,
) -> None:
    with peer_server(max_size=MIB) as peer:
        ref, heard = open_client(peer, compression=compression)
        for size in SIZES:
            for text in (False, True):
                message = payload(size, text=text)
                ref.tell(SendMessage(message))
                echoed = next_message(heard)
                assert type(echoed) is type(message), (size, text)
                assert echoed == message, (size, text)
        ref.tell(SendMessage("naïve 😀 €"))
        assert next_message(heard) == "naïve 😀 €"
        ref.tell(CloseWith(1000, ""))
        assert heard.get(timeout=WAIT) == ("disconnect", Reason.CLOSED_BY_SESSION)
        assert peer.closes.get(timeout=WAIT) == (1000, "")


def test_an_incompressible_message_of_the_limit_from_connect_ws_reaches_a_websockets_server() -> (
    None
):
    message = payload(MIB, text=False)
    with peer_server(max_size=MIB) as peer:
        ref, heard = open_client(peer)
        ref.tell(SendMessage(message))
        assert next_message(heard) == message


@pytest.mark.parametrize("compression", [True, False], ids=["deflate", "no compression"])
def test_conn_handshake_tells_the_path_subprotocol_extensions_and_headers(
    compression: bool,
) -> None:
    with peer_server(subprotocols=["chat.v2", "chat.v1"]) as peer:
        ref, _ = open_client(
            peer,
            path="/room/42?token=abc",
            subprotocols=["nonsense", "chat.v1"],
            origin="http://example.test",
            compression=compression,
        )
        handshake = ref.proxy().conn_handshake.get(timeout=WAIT)
        assert isinstance(handshake, websocket.Handshake)
        assert handshake.path == "/room/42?token=abc"
        assert handshake.subprotocol == "chat.v1"
        assert handshake.origin == "http://example.test"
        headers = dict(handshake.headers)
        assert headers["sec-websocket-protocol"] == "chat.v1"
        assert headers["upgrade"].lower() == "websocket"
        assert "websockets" in headers["server"]
        if compression:
            assert handshake.extensions is not None
            assert handshake.extensions.startswith("permessage-deflate")
            assert headers["sec-websocket-extensions"] == handshake.extensions
        else:
            assert handshake.extensions is None
            assert "sec-websocket-extensions" not in headers
        ref.tell(CloseWith(1000, ""))
        assert peer.closes.get(timeout=WAIT) == (1000, "")


def test_connect_ws_is_refused_or_gets_no_subprotocol_without_a_common_one() -> None:
    with peer_server(subprotocols=["chat.v2"]) as peer:
        # websockets refuses a client that offers subprotocols it has none of...
        heard: queue.Queue[tuple[str, Any]] = queue.Queue()
        actornet.connect_ws(
            QueueSession,
            f"ws://127.0.0.1:{peer.port}/",
            subprotocols=["chat.v1"],
            session_args=(heard,),
        )
        # ...with an HTTP error: no WebSocket opens, so no hook runs at all.
        assert wait_until(lambda: actornet.live_actor_count() == 0)
        assert heard.empty()
    with peer_server() as peer:
        # A server that speaks no subprotocol answers none, and the connection opens.
        ref, _ = open_client(peer, subprotocols=["chat.v1"])
        handshake = ref.proxy().conn_handshake.get(timeout=WAIT)
        assert isinstance(handshake, websocket.Handshake)
        assert handshake.subprotocol is None
        ref.tell(CloseWith(1000, ""))
        assert peer.closes.get(timeout=WAIT) == (1000, "")


@pytest.mark.parametrize(
    ("code", "reason"), [(1000, ""), (1001, "leaving"), (3000, "app"), (4999, "tschüss 👋")]
)
def test_a_close_from_connect_ws_reaches_the_websockets_server_with_code_and_reason(
    code: int, reason: str
) -> None:
    with peer_server() as peer:
        ref, heard = open_client(peer)
        ref.tell(SendMessage("before"))
        assert next_message(heard) == "before"
        ref.tell(CloseWith(code, reason))
        assert heard.get(timeout=WAIT) == ("disconnect", Reason.CLOSED_BY_SESSION)
        assert peer.closes.get(timeout=WAIT) == (code, reason)


def test_a_close_from_the_websockets_server_is_answered_by_connect_ws() -> None:
    with peer_server() as peer:
        ref, heard = open_client(peer)
        ref.tell(SendMessage("close, please"))
        assert heard.get(timeout=WAIT) == ("disconnect", Reason.PEER_CLOSED)
        # The handler's connection received our answer: the same code (RFC 6455 §5.5.1).
        closed = peer.closes.get(timeout=WAIT)
        assert closed is not None
        assert closed[0] == 4002
        assert wait_until(lambda: actornet.live_actor_count() == 0)


def test_a_message_over_connect_ws_max_message_size_is_closed_with_1009() -> None:
    with peer_server() as peer:
        ref, heard = open_client(peer, max_message_size=1000)
        ref.tell(SendMessage("x" * 1000))
        assert next_message(heard) == "x" * 1000
        ref.tell(SendMessage("x" * 1001))
        assert heard.get(timeout=WAIT) == ("disconnect", Reason.PROTOCOL_ERROR)
        closed = peer.closes.get(timeout=WAIT)
        assert closed is not None
        assert closed[0] == websocket.CloseCode.MESSAGE_TOO_BIG


# -- the chat's browser door ---------------------------------------------------


@dataclass
class ChatDoors:
    """The chat in-process, as `python -m examples.chat serve` runs it: both doors."""

    binary: actornet.Server[chat.ChatMessage]
    browser: actornet.Server[chat.ChatMessage]

    @property
    def chat_url(self) -> str:
        return f"ws://127.0.0.1:{self.browser.port}{CHAT_PATH}"


@pytest.fixture
def doors() -> Iterator[ChatDoors]:
    directory = Directory.start(stats=ChatStatistics())
    limits = actornet.Limits(idle_timeout=None)
    servers: dict[str, actornet.Server[Any]] = {}
    pages = Pages(
        metrics=(metrics.ChatMetrics(servers, ChatStatistics()).page, metrics.CONTENT_TYPE)
    )
    try:
        with contextlib.ExitStack() as stack:
            binary = stack.enter_context(
                actornet.serve_tcp(
                    BinaryChatSession, chat.WIRE, limits=limits, session_args=(directory, 0)
                )
            )
            browser = stack.enter_context(
                actornet.serve_tcp(
                    BrowserChatSession,
                    browser_wire(http_handler=pages),
                    limits=limits,
                    session_args=(directory, 0),
                )
            )
            servers.update(binary=binary, browser=browser)
            yield ChatDoors(binary, browser)
    finally:
        directory.stop()


def chat_send(ws: ClientConnection, message: chat.ChatMessage) -> None:
    ws.send(chat.CODEC.encode(message))


def chat_receive_until(ws: ClientConnection, want: Callable[[Any], bool]) -> list[Any]:
    seen = []
    for _ in range(1000):
        data = ws.recv(timeout=WAIT)
        assert isinstance(data, bytes), f"the chat sent text: {data!r}"
        message = chat.CODEC.decode(data)
        seen.append(message)
        if want(message):
            return seen
    raise AssertionError(f"no wanted message among 1000; last {seen[-3:]}")


def binary_receive_until(
    client: actornet.testing.BlockingClient[chat.ChatMessage], want: Callable[[Any], bool]
) -> list[Any]:
    seen = []
    for _ in range(1000):
        message = client.receive()
        seen.append(message)
        if want(message):
            return seen
    raise AssertionError(f"no wanted message among 1000; last {seen[-3:]}")


def said(room: str, nick: str, text: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, chat.Said) and (m.room, m.nick, m.text) == (room, nick, text)


def test_a_websockets_client_chats_with_a_binary_door_client_in_one_room(
    doors: ChatDoors,
) -> None:
    welcome = chat.Welcome(version=chat.PROTOCOL_VERSION, nick="webby", server="actornet-chat")
    with ws_connect(doors.chat_url, subprotocols=[SUBPROTOCOL]) as web:
        assert web.subprotocol == SUBPROTOCOL
        chat_send(web, chat.Hello(version=chat.PROTOCOL_VERSION, nick="webby"))
        assert chat_receive_until(web, lambda _: True) == [welcome]
        chat_send(web, chat.Join(room="#mixed"))
        chat_receive_until(web, lambda m: isinstance(m, chat.NamesEnd))
        with actornet.testing.BlockingClient(
            "127.0.0.1", doors.binary.port, chat.WIRE, timeout=WAIT
        ) as wire:
            track(wire.sock)
            wire.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="wired"))
            assert isinstance(wire.receive(), chat.Welcome)
            wire.send(chat.Join(room="#mixed"))
            binary_receive_until(wire, lambda m: isinstance(m, chat.NamesEnd))
            chat_receive_until(web, lambda m: m == chat.Joined(room="#mixed", nick="wired"))
            chat_send(web, chat.Say(room="#mixed", text="hello from a browser 👋"))
            binary_receive_until(wire, said("#mixed", "webby", "hello from a browser 👋"))
            wire.send(chat.Say(room="#mixed", text="hello from a socket"))
            chat_receive_until(web, said("#mixed", "wired", "hello from a socket"))
            chat_send(web, chat.Quit(reason="bye"))
            quitted = binary_receive_until(wire, lambda m: isinstance(m, chat.Quitted))[-1]
            assert (quitted.nick, quitted.reason) == ("webby", "bye")
            with pytest.raises(ConnectionClosedOK):
                web.recv(timeout=WAIT)


def test_the_chat_refuses_a_client_without_its_subprotocol_with_1008(doors: ChatDoors) -> None:
    with ws_connect(doors.chat_url) as web:
        assert web.subprotocol is None
        with pytest.raises(ConnectionClosedError) as closed:
            web.recv(timeout=WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == websocket.CloseCode.POLICY_VIOLATION
        assert SUBPROTOCOL in closed.value.rcvd.reason


def test_the_chat_closes_a_text_message_with_1003(doors: ChatDoors) -> None:
    with ws_connect(doors.chat_url, subprotocols=[SUBPROTOCOL]) as web:
        chat_send(web, chat.Hello(version=chat.PROTOCOL_VERSION, nick="texter"))
        assert isinstance(chat_receive_until(web, lambda _: True)[0], chat.Welcome)
        web.send("a text message")
        with pytest.raises(ConnectionClosedError) as closed:
            web.recv(timeout=WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == websocket.CloseCode.UNSUPPORTED_DATA


def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_the_browser_door_serves_the_page_metrics_and_404(doors: ChatDoors) -> None:
    status, headers, body = http_get(doors.browser.port, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"<html" in body.lower()
    assert wait_until(lambda: doors.browser.connection_count() == 0)
    with ws_connect(doors.chat_url, subprotocols=[SUBPROTOCOL]):
        # One browser connected, and the connection asking for the page.
        status, headers, body = http_get(doors.browser.port, "/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        assert 'actornet_connections_open{door="browser"} 2.0' in body.decode()
        assert 'actornet_connections_open{door="binary"} 0.0' in body.decode()
    status, _, body = http_get(doors.browser.port, "/no/such/page")
    assert status == 404
    assert b"/no/such/page" in body
