"""The connection layer drives a stateful protocol through the WireProtocol seam, over sockets.

The protocol here is a toy, so that every duty of the seam shows in plain text lines:

- the client opens with ``KNOCK``; the receiver answers ``COME IN`` itself and hands the session
  its sender (`Opened`); anything else first gets ``GO AWAY`` and a protocol error;
- ``PING`` is answered ``PONG`` by the receiver, never seen by the session;
- ``BYE`` ends the conversation: the receiver answers ``BYE`` and is finished;
- the session's own close sends ``CLOSE <code> <reason>`` and waits for the peer's ``BYE``;
- ``BOOM`` makes the receiver raise, as a bug in a protocol (or in an HTTP handler it calls)
  would, after queueing ``OOPS``.
"""

from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING, Any

from _support import WAIT, raw_socket, read_until_closed, serving, wait_until

import actornet
import protocols

if TYPE_CHECKING:
    import socket

    import pytest


class KnockSender:
    """Sending half: one line per event; a CLOSE line that the peer answers with BYE."""

    def send(self, event: str) -> bytes:
        return f"{event}\n".encode()

    def close(self, code: int, reason: str) -> bytes:
        return f"CLOSE {code} {reason}\n".encode()

    @property
    def awaits_peer_close(self) -> bool:
        return True


class KnockReceiver:
    """Receiving half: the knock, then lines; answers PING and BYE itself."""

    def __init__(self) -> None:
        self._buffer = b""
        self._events: list[str] = []
        self._reply: list[bytes] = []
        self._opened: protocols.Opened[str] | None = None
        self._knocked = False
        self._error: protocols.RemoteProtocolError | None = None
        self.finished = False

    def receive_data(self, data: bytes) -> None:
        self._buffer += data
        while b"\n" in self._buffer and self._error is None and not self.finished:
            line, self._buffer = self._buffer.split(b"\n", 1)
            self._line(line.decode())

    def _line(self, line: str) -> None:
        if not self._knocked:
            if line != "KNOCK":
                self._reply.append(b"GO AWAY\n")
                self._error = protocols.RemoteProtocolError(f"expected KNOCK, got {line!r}")
                return
            self._knocked = True
            self._reply.append(b"COME IN\n")
            self._opened = protocols.Opened(sender=KnockSender(), details="knocked")
        elif line == "PING":
            self._reply.append(b"PONG\n")
        elif line == "BOOM":
            self._reply.append(b"OOPS\n")
            raise RuntimeError("the receiver raised on purpose")
        elif line == "BYE":
            self._reply.append(b"BYE\n")
            self.finished = True
        else:
            self._events.append(line)

    def events(self) -> list[str]:
        events, self._events = self._events, []
        if not events and self._error is not None:
            raise self._error
        return events

    def data_to_send(self) -> bytes:
        reply = b"".join(self._reply)
        self._reply.clear()
        return reply

    def opened(self) -> protocols.Opened[str] | None:
        opened, self._opened = self._opened, None
        return opened


class Knock:
    """The toy protocol: a `protocols.WireProtocol[str]` with a handshake."""

    def decoder(self) -> KnockReceiver:
        return KnockReceiver()

    def encoder(self) -> None:
        return None

    def encode(self, event: str) -> bytes:
        return f"{event}\n".encode()


class KnockSession(actornet.Session[str]):
    """Greets on connect, echoes lines, closes on "close", says goodbye on disconnect."""

    def __init__(self, journal: queue.Queue[tuple[str, Any]]) -> None:
        super().__init__()
        self.journal = journal

    def on_connect(self) -> None:
        self.journal.put(("connect", self.conn_handshake))
        self.send("welcome")

    def on_event(self, event: str) -> None:
        self.journal.put(("event", event))
        if event == "close":
            self.close(code=4000, reason="done")
        else:
            self.send(f"echo {event}")

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        self.journal.put(("disconnect", reason))
        self.send("farewell")  # must never follow the protocol's last bytes


def _read_line(sock: socket.socket) -> bytes:
    sock.settimeout(WAIT)
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return line
        line += chunk
    return line


def _seam_checks(wire: protocols.WireProtocol[str]) -> None:
    """Let mypy check the toy against the seam's Protocols."""
    assert wire.encoder() is None


_seam_checks(Knock())


def test_the_handshake_reply_precedes_everything_the_session_sends() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    with serving(KnockSession, wire=Knock(), session_args=(journal,)) as (server, _):
        sock = raw_socket(server)
        sock.sendall(b"KNOCK\nhello\n")
        assert _read_line(sock) == b"COME IN\n"
        assert _read_line(sock) == b"welcome\n"
        assert _read_line(sock) == b"echo hello\n"
        assert journal.get(timeout=WAIT) == ("connect", "knocked")
        assert journal.get(timeout=WAIT) == ("event", "hello")
        sock.close()


def test_on_connect_waits_for_the_handshake() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    with serving(KnockSession, wire=Knock(), session_args=(journal,)) as (server, _):
        sock = raw_socket(server)
        sock.sendall(b"KNO")
        assert wait_until(lambda: server.connection_count() == 1)
        assert journal.empty()
        sock.sendall(b"CK\n")
        assert _read_line(sock) == b"COME IN\n"
        assert journal.get(timeout=WAIT) == ("connect", "knocked")
        sock.close()


def test_the_receiver_answers_pings_without_the_session() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    with serving(KnockSession, wire=Knock(), session_args=(journal,)) as (server, _):
        sock = raw_socket(server)
        sock.sendall(b"KNOCK\nPING\nPING\nline\n")
        replies = [_read_line(sock) for _ in range(5)]
        assert replies[0] == b"COME IN\n"
        assert sorted(replies[1:]) == sorted([b"PONG\n", b"PONG\n", b"welcome\n", b"echo line\n"])
        assert journal.get(timeout=WAIT)[0] == "connect"
        assert journal.get(timeout=WAIT) == ("event", "line")
        sock.close()


def test_the_peers_close_is_answered_and_nothing_follows_the_answer() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    with serving(KnockSession, wire=Knock(), session_args=(journal,)) as (server, _):
        sock = raw_socket(server)
        sock.sendall(b"KNOCK\n")
        assert _read_line(sock) == b"COME IN\n"
        assert _read_line(sock) == b"welcome\n"
        sock.sendall(b"BYE\n")
        # The session's "farewell" from on_disconnect comes after the seal: dropped.
        assert read_until_closed(sock) == b"BYE\n"
        assert journal.get(timeout=WAIT)[0] == "connect"
        assert journal.get(timeout=WAIT) == ("disconnect", actornet.DisconnectReason.PEER_CLOSED)
        sock.close()


def test_a_close_from_this_side_waits_for_the_peers_answer() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    limits = actornet.Limits(idle_timeout=None, close_timeout=WAIT)
    with serving(KnockSession, wire=Knock(), limits=limits, session_args=(journal,)) as (
        server,
        _,
    ):
        sock = raw_socket(server)
        sock.sendall(b"KNOCK\nclose\n")
        assert _read_line(sock) == b"COME IN\n"
        assert _read_line(sock) == b"welcome\n"
        # on_disconnect's farewell is sent before the close; nothing after it.
        assert _read_line(sock) == b"farewell\n"
        assert _read_line(sock) == b"CLOSE 4000 done\n"
        # The writer keeps the socket open for the answer: the peer can still send it.
        assert server.connection_count() == 1
        sock.sendall(b"BYE\n")
        assert read_until_closed(sock) == b""
        assert wait_until(lambda: server.connection_count() == 0)
        sock.close()


def test_a_peer_that_never_answers_the_close_is_closed_after_close_timeout() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    limits = actornet.Limits(idle_timeout=None, close_timeout=0.3)
    with serving(KnockSession, wire=Knock(), limits=limits, session_args=(journal,)) as (
        server,
        _,
    ):
        sock = raw_socket(server)
        sock.sendall(b"KNOCK\nclose\n")
        started = time.monotonic()
        assert read_until_closed(sock) == b"COME IN\nwelcome\nfarewell\nCLOSE 4000 done\n"
        assert time.monotonic() - started >= 0.3
        assert wait_until(lambda: server.connection_count() == 0)
        sock.close()


def test_a_handshake_that_never_finishes_is_closed_and_runs_no_hook() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    limits = actornet.Limits(idle_timeout=None, handshake_timeout=0.3)
    with serving(KnockSession, wire=Knock(), limits=limits, session_args=(journal,)) as (
        server,
        _,
    ):
        sock = raw_socket(server)
        sock.sendall(b"KNO")  # a byte now and then must not keep it open
        assert read_until_closed(sock) == b""
        assert wait_until(lambda: server.statistics().closed == 1)
        assert dict(server.statistics().disconnects) == {"idle_timeout": 1}
        assert journal.empty()
        sock.close()


def test_a_failed_handshake_gets_the_protocols_answer_and_a_close() -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    with serving(KnockSession, wire=Knock(), session_args=(journal,)) as (server, _):
        sock = raw_socket(server)
        sock.sendall(b"LET ME IN\n")
        assert read_until_closed(sock) == b"GO AWAY\n"
        assert wait_until(lambda: server.statistics().closed == 1)
        assert dict(server.statistics().disconnects) == {"protocol_error": 1}
        assert journal.empty()
        sock.close()


def test_a_receiver_that_raises_closes_only_its_connection_with_an_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: queue.Queue[tuple[str, Any]] = queue.Queue()
    with serving(KnockSession, wire=Knock(), session_args=(journal,)) as (server, _):
        calm = raw_socket(server)
        calm.sendall(b"KNOCK\n")
        assert _read_line(calm) == b"COME IN\n"
        assert _read_line(calm) == b"welcome\n"
        sock = raw_socket(server)
        sock.sendall(b"KNOCK\n")
        assert _read_line(sock) == b"COME IN\n"
        assert _read_line(sock) == b"welcome\n"
        sock.sendall(b"BOOM\n")
        # What the receiver queued before raising is the connection's last word: the
        # session's farewell from on_disconnect comes after the seal and is dropped.
        assert read_until_closed(sock) == b"OOPS\n"
        assert wait_until(lambda: server.statistics().closed == 1)
        assert dict(server.statistics().disconnects) == {"session_failed": 1}
        calm.sendall(b"still here\n")
        assert _read_line(calm) == b"echo still here\n"
        sock.close()
        calm.close()
    failures = [r for r in caplog.records if "receiver raised" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelname == "ERROR"
    assert failures[0].exc_info is not None
