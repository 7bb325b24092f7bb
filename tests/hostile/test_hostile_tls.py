"""Hostile and broken TLS peers against a TLS echo server, while a calm TLS client keeps
echoing: each gets a clean close and a log line, never a traceback, and afterwards the
process holds what it held before."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from _hostile import Background, Usage, assert_back_to, errors_logged
from _support import RAW_WIRE, WAIT, frame, read_frame, read_until_closed, reset, wait_until

import actornet

if TYPE_CHECKING:
    from collections.abc import Iterator

CYCLES = 2_000


class Echo(actornet.Session[bytes]):
    def on_event(self, event: bytes) -> None:
        self.send(event)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def tls_client(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return context.wrap_socket(raw, server_hostname="localhost")


@contextmanager
def scenario(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, **limits: Any
) -> Iterator[actornet.Server[bytes]]:
    """A TLS echo server with a calm client echoing in the background; checked on the way out."""
    server = actornet.serve_tcp(
        Echo, RAW_WIRE, ssl=server_context, limits=actornet.Limits(idle_timeout=None, **limits)
    )
    baseline = Usage.now()  # with the runtime and the listener up: they stay until the end
    calm = tls_client(server.port, client_context)

    def one_round(n: int) -> list[float]:
        payload = f"calm {n}".encode() * 20
        calm.sendall(frame(payload))
        assert read_frame(calm) == payload
        return []

    background = Background(one_round, "calm TLS client")
    background.start()
    try:
        background.wait_rounds(3)
        yield server
        background.wait_rounds(3)  # still served after the attack
    finally:
        background.stop()
        calm.close()
        server.shutdown(timeout=WAIT)
    assert_back_to(baseline)


def handshake_bytes() -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO, bytes]:
    """A client TLS object that has written its ClientHello; return it, its BIOs and the hello."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    obj = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return obj, incoming, outgoing, outgoing.read()


def handshaken(port: int) -> tuple[socket.socket, ssl.SSLObject, ssl.MemoryBIO]:
    """Complete a handshake by hand; return the socket, the TLS object and its outgoing BIO.

    The client's Finished is still in the BIO: the caller sends it with what follows.
    """
    obj, incoming, outgoing, hello = handshake_bytes()
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(hello)
    while True:
        incoming.write(sock.recv(65536))
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            continue
        return sock, obj, outgoing


def tls_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if "TLS failed" in r.getMessage() or "TLS handshake cut off" in r.getMessage()
    ]


def test_plain_text_half_hellos_resets_and_garbage_records_each_close_with_one_line(
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="actornet")
    with scenario(server_context, client_context) as server:
        port = server.port
        # Plain text on the TLS port.
        plain = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_until_closed(plain)
        plain.close()
        # Half a ClientHello, then a reset.
        _, _, _, hello = handshake_bytes()
        half = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        half.sendall(hello[: len(hello) // 2])
        reset(half)
        # A completed handshake, then records of random bytes.
        garbage, _, outgoing = handshaken(port)
        garbage.sendall(outgoing.read())  # the client's Finished
        garbage.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(64))  # an application record
        read_until_closed(garbage)
        garbage.close()
        # A completed handshake, then half a record and a reset.
        cut, obj, outgoing = handshaken(port)
        obj.write(frame(b"never finished"))
        records = outgoing.read()  # the Finished, then the record
        cut.sendall(records[: len(records) - 10])
        reset(cut)
        assert wait_until(lambda: len(tls_failures(caplog)) >= 3), tls_failures(caplog)
        assert wait_until(
            lambda: server.statistics().disconnects.get("connection_broken", 0) >= 2
        ), server.statistics()
    failures = tls_failures(caplog)
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in failures)
    assert errors_logged(caplog) == []
    reasons = sorted(r.getMessage().rpartition(": ")[2] for r in failures)
    assert len(reasons) == 3, reasons  # plain text, half a hello, garbage; not the cut record
    assert server.statistics().disconnects.get("protocol_error", 0) == 2


def test_a_client_that_never_reads_is_dropped_as_a_slow_consumer_over_tls(
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with scenario(server_context, client_context, write_queue_bytes=256 * 1024) as server:
        reader_less = tls_client(server.port, client_context)
        reader_less.setblocking(False)  # noqa: FBT003 - socket API
        flood = frame(b"x" * 60_000) * 400  # 24 MB of echoes to be written back
        sent = 0
        with pytest.raises((ssl.SSLError, OSError)):
            while sent < len(flood):  # until the server stops reading and then drops us
                try:
                    sent += reader_less.send(flood[sent : sent + 65536])
                except (ssl.SSLWantWriteError, BlockingIOError):
                    if server.statistics().disconnects.get("slow_consumer", 0):
                        raise ConnectionResetError("dropped") from None
                    wait_until(lambda: False, timeout=0.01)
        assert wait_until(lambda: server.statistics().disconnects.get("slow_consumer", 0) == 1)
        reader_less.close()
    assert [r for r in caplog.records if "slow consumer" in r.getMessage()]
    assert errors_logged(caplog) == []


def test_two_thousand_handshakes_leak_nothing(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    with scenario(server_context, client_context) as server:
        for n in range(CYCLES):
            with tls_client(server.port, client_context) as sock:
                if n % 100 == 0:  # some carry data, and close with close_notify
                    sock.sendall(frame(b"cycle"))
                    assert read_frame(sock) == b"cycle"
                    sock.unwrap()
        assert wait_until(lambda: server.connection_count() == 1)  # the calm client
