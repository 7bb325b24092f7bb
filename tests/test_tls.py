"""TLS in the connection layer, over real sockets: handshakes, data both ways, close_notify,
what the session learns (`conn_tls`), and peers that get TLS wrong."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from _support import RAW_WIRE, WAIT, frame, read_frame, read_until_closed, track
from _wss import WssClient

import actornet
from actornet._tls import TlsChannel

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["echo/1", "h2"])
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class TlsEcho(actornet.Session[bytes]):
    """Echoes each frame; records what TLS told it when it connected."""

    seen: list[Any]

    def __init__(self, seen: list[Any]) -> None:
        super().__init__()
        self.seen = seen

    def on_connect(self) -> None:
        self.seen.append(self.conn_tls)

    def on_event(self, event: bytes) -> None:
        if event == b"bye":
            self.close()
        else:
            self.send(event)


@contextmanager
def tls_server(context: ssl.SSLContext, **limits: Any) -> Iterator[tuple[int, list[Any]]]:
    seen: list[Any] = []
    server = actornet.serve_tcp(
        TlsEcho,
        RAW_WIRE,
        ssl=context,
        limits=actornet.Limits(idle_timeout=None, **limits),
        session_args=(seen,),
    )
    try:
        yield server.port, seen
    finally:
        server.shutdown(timeout=WAIT)


def connect(port: int, context: ssl.SSLContext, name: str = "localhost") -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    track(raw)
    return context.wrap_socket(raw, server_hostname=name)


def test_the_ssl_module_talks_to_a_tls_server_and_the_session_sees_alpn_and_sni(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    client_context.set_alpn_protocols(["echo/1"])
    with tls_server(server_context) as (port, seen), connect(port, client_context) as sock:
        for size in (0, 1, 100, 16_384, 60_000):  # one record, several, and more than one read
            payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
            sock.sendall(frame(payload))
            assert read_frame(sock) == payload
        info = seen[0]
        assert isinstance(info, actornet.TlsInfo)
        assert info.version in {"TLSv1.2", "TLSv1.3"}
        assert info.cipher
        assert info.alpn_protocol == "echo/1"
        assert info.server_name == "localhost"
        assert info.peer_certificate is None  # none was asked for
        assert sock.version() == info.version


def test_a_server_that_requires_client_certificates_shows_the_session_the_peers(
    ca: trustme.CA, client_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    requiring = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(requiring)
    requiring.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(requiring)
    ca.issue_cert("alice@example.test").configure_cert(client_context)
    caplog.set_level(logging.INFO, logger="actornet")
    with tls_server(requiring) as (port, seen):
        with connect(port, client_context) as sock:
            sock.sendall(frame(b"with a certificate"))
            assert read_frame(sock) == b"with a certificate"
        info = seen[0]
        assert isinstance(info, actornet.TlsInfo)
        assert info.peer_certificate is not None
        assert info.peer_certificate["subjectAltName"] == (("email", "alice@example.test"),)
        anonymous = ssl.create_default_context()
        ca.configure_trust(anonymous)
        with connect(port, anonymous) as sock:  # TLS 1.3: the refusal comes after the handshake
            sock.sendall(frame(b"without one"))
            with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
                sock.recv(100)
        assert len(seen) == 1
    failures = [r for r in caplog.records if "TLS failed" in r.getMessage()]
    assert len(failures) == 1
    assert "CERTIFICATE" in failures[0].getMessage().upper()


def test_pipelined_frames_from_many_clients_all_come_back(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    def client(port: int, n: int, errors: list[BaseException]) -> None:
        try:
            with connect(port, client_context) as sock:
                payloads = [f"{n}:{i}".encode() * 50 for i in range(200)]
                sock.sendall(b"".join(frame(p) for p in payloads))
                assert [read_frame(sock) for _ in payloads] == payloads
        except BaseException as exc:
            errors.append(exc)

    errors: list[BaseException] = []
    with tls_server(server_context) as (port, _):
        threads = [threading.Thread(target=client, args=(port, n, errors)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    assert errors == []


def test_a_session_that_closes_sends_close_notify_then_a_fin(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    with tls_server(server_context) as (port, _), connect(port, client_context) as sock:
        sock.sendall(frame(b"hello") + frame(b"bye"))
        assert read_frame(sock) == b"hello"
        assert sock.recv(1) == b""  # SSLSocket: b"" means close_notify came (else SSLEOFError)


def test_connect_tcp_speaks_tls_and_verifies_the_server(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    answers: list[Any] = []
    done = threading.Event()

    class Client(actornet.Session[bytes]):
        def on_connect(self) -> None:
            answers.append(self.conn_tls)
            self.send(b"ping")

        def on_event(self, event: bytes) -> None:
            answers.append(event)
            self.close()

        def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
            answers.append((reason, type(self.conn_disconnect_error)))
            done.set()

    with tls_server(server_context) as (port, _):
        actornet.connect_tcp(
            Client, RAW_WIRE, "127.0.0.1", port, ssl=client_context, server_hostname="localhost"
        )
        assert done.wait(WAIT)
        info, echoed, (reason, _) = answers
        assert isinstance(info, actornet.TlsInfo)
        assert info.server_name == "localhost"
        assert echoed == b"ping"
        assert reason is actornet.DisconnectReason.CLOSED_BY_SESSION

        # A name the certificate does not carry fails in connect_tcp(), as a refusal does.
        answers.clear()
        with pytest.raises(ssl.SSLCertVerificationError, match=r"wrong\.example"):
            actornet.connect_tcp(
                Client,
                RAW_WIRE,
                "127.0.0.1",
                port,
                ssl=client_context,
                server_hostname="wrong.example",
            )
        assert answers == []


def test_plain_text_on_a_tls_port_is_closed_with_one_log_line_and_others_carry_on(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="actornet")
    with tls_server(server_context) as (port, seen), connect(port, client_context) as calm:
        plain = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        track(plain)
        plain.sendall(frame(b"not tls") * 10)
        read_until_closed(plain)  # an alert, then the close
        plain.close()
        calm.sendall(frame(b"still here"))
        assert read_frame(calm) == b"still here"
        assert len(seen) == 1  # the plain client never reached on_connect()
    failures = [r for r in caplog.records if "TLS failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.INFO
    assert failures[0].exc_info is None


def test_a_handshake_that_stops_after_the_client_hello_is_closed_after_handshake_timeout(
    server_context: ssl.SSLContext,
) -> None:
    with tls_server(server_context, handshake_timeout=0.3) as (port, seen):
        stuck = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        track(stuck)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        hello = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="x")
        with pytest.raises(ssl.SSLWantReadError):
            hello.do_handshake()
        stuck.sendall(outgoing.read())  # ClientHello, and then nothing
        read_until_closed(stuck)  # the server's flight, then the close
        assert seen == []


def test_an_expired_server_certificate_fails_connect_tcp(
    ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    import datetime as dt  # noqa: PLC0415 - only this test makes dates

    expired = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    ca.issue_cert(
        "localhost", not_before=past - dt.timedelta(days=1), not_after=past
    ).configure_cert(expired)
    with tls_server(expired) as (port, seen):
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            actornet.connect_tcp(
                TlsEcho,
                RAW_WIRE,
                "127.0.0.1",
                port,
                ssl=client_context,
                server_hostname="localhost",
                session_args=([],),
            )
        assert seen == []


def test_websockets_over_wss_reaches_a_websocket_echo_over_tls(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    from examples.wsecho.__main__ import WIRE, WebSocketEchoSession  # noqa: PLC0415

    server = actornet.serve_tcp(WebSocketEchoSession, WIRE, ssl=server_context)
    try:
        with WssClient(
            f"wss://localhost:{server.port}/", ssl=client_context, proxy=None, timeout=WAIT
        ) as ws:
            for message in ("hello", b"\x00\x01" * 40_000, "ünïcode"):
                ws.send(message)
                assert ws.recv(timeout=WAIT) == message
    finally:
        server.shutdown(timeout=WAIT)


def test_connect_ws_opens_a_wss_url_and_checks_the_certificate(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    from examples.wsecho.__main__ import WIRE, WebSocketEchoSession  # noqa: PLC0415

    got: list[Any] = []
    done = threading.Event()

    class Client(actornet.Session[str | bytes]):
        def on_connect(self) -> None:
            got.append(self.conn_tls)
            self.send("over wss")

        def on_event(self, event: str | bytes) -> None:
            got.append(event)
            done.set()

    server = actornet.serve_tcp(WebSocketEchoSession, WIRE, ssl=server_context)
    try:
        ref = actornet.connect_ws(Client, f"wss://localhost:{server.port}/", ssl=client_context)
        assert done.wait(WAIT)
        assert isinstance(got[0], actornet.TlsInfo)
        assert got[1] == "over wss"
        ref.stop()
        with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs know no trustme CA
            actornet.connect_ws(Client, f"wss://localhost:{server.port}/")
    finally:
        server.shutdown(timeout=WAIT)


def _shake_hands_in_memory(server: TlsChannel, client_context: ssl.SSLContext) -> None:
    """Complete `server`'s handshake with a client SSLObject over memory BIOs."""
    to_client, to_server = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, to_server, server_hostname="localhost")
    for _ in range(10):
        try:
            client.do_handshake()
        except ssl.SSLWantReadError:
            pass
        else:
            break
        server.receive(to_server.read())
        to_client.write(server.encrypt([]))
    server.receive(to_server.read())  # the client's Finished
    assert server.established


def test_a_wake_up_after_the_peer_ended_without_close_notify_does_not_fail_tls(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    # The reader wakes the writer with b"" for what TLS owes the peer; after an
    # end without close_notify, OpenSSL refuses every write, so writing that
    # b"" failed the connection a second time, as broken.
    server = TlsChannel(server_context, server_side=True)
    _shake_hands_in_memory(server, client_context)
    assert server.receive(b"") == b""

    server.encrypt([b""])
    server.encrypt([])
    with pytest.raises(ssl.SSLError):
        server.encrypt([b"data"])


def test_a_wake_up_held_during_the_handshake_is_not_written_as_a_record(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    server = TlsChannel(server_context, server_side=True)
    server.encrypt([b""])  # before the ClientHello: held, as plaintext would be
    _shake_hands_in_memory(server, client_context)
    assert server.receive(b"") == b""  # the client ends without close_notify

    server.encrypt([])  # the held b"" goes nowhere: no write, no failure
