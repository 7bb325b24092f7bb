"""Server.statistics() and Session.conn_statistics(): frozen snapshots of real traffic."""

from __future__ import annotations

import dataclasses
import queue
from typing import Any

import pytest
from _support import WAIT, connect, frame, raw_socket, read_until_closed, serving, wait_until

import actornet


class CountingSession(actornet.Session[bytes]):
    """Echoes, and answers b"stats" with its own connection's counters."""

    def __init__(self, snapshots: queue.Queue[actornet.ConnectionStatistics]) -> None:
        super().__init__()
        self.snapshots = snapshots

    def on_event(self, event: bytes) -> None:
        if event == b"stats":
            self.snapshots.put(self.conn_statistics())
            return
        self.send(event)


def test_a_connection_counts_the_bytes_and_frames_it_received_and_sent() -> None:
    snapshots: queue.Queue[actornet.ConnectionStatistics] = queue.Queue()
    with (
        serving(CountingSession, session_args=(snapshots,)) as (server, _),
        connect(server) as client,
    ):
        for payload in (b"a", b"bb", b"ccc"):
            client.send(payload)
            assert client.receive() == payload
        client.send(b"stats")
        stats = snapshots.get(timeout=WAIT)

    # Three echoed frames and the request itself, each with a 4-byte header.
    assert stats.received_frames == 4
    assert stats.received_bytes == sum(len(frame(p)) for p in (b"a", b"bb", b"ccc", b"stats"))
    assert stats.sent_bytes == sum(len(frame(p)) for p in (b"a", b"bb", b"ccc"))
    assert stats.queued_bytes == 0
    assert stats.dropped_frames == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.sent_bytes = 0  # type: ignore[misc]


def test_a_server_counts_accepted_refused_and_closed_connections_and_their_bytes() -> None:
    limits = actornet.Limits(max_connections=1, idle_timeout=None)
    with serving(limits=limits) as (server, _):
        with connect(server) as client:
            client.send(b"hello")
            assert client.receive() == b"hello"
            refused = raw_socket(server)
            assert read_until_closed(refused) == b""
            refused.close()
            assert wait_until(lambda: server.statistics().refused == 1)
            during = server.statistics()
        assert wait_until(lambda: server.statistics().closed == 1)
        after = server.statistics()

    assert (during.open_connections, during.accepted, during.closed) == (1, 1, 0)
    assert during.received_bytes == during.sent_bytes == len(frame(b"hello"))
    assert (after.open_connections, after.accepted, after.refused, after.closed) == (0, 1, 1, 1)
    assert after.received_bytes == after.sent_bytes == len(frame(b"hello"))
    assert after.received_frames == after.sent_frames == 1
    assert dict(after.disconnects) == {"peer_closed": 1}


def test_a_server_counts_its_disconnects_by_reason() -> None:
    limits = actornet.Limits(idle_timeout=None)
    with serving(limits=limits) as (server, _):
        with connect(server) as client:
            client.send(b"x")
            assert client.receive() == b"x"
        bad = raw_socket(server)
        bad.sendall(b"\xff\xff\xff\xff")  # declares a 4 GiB frame: a protocol error
        assert read_until_closed(bad) == b""
        bad.close()
        assert wait_until(lambda: server.statistics().closed == 2)
        stats = server.statistics()

    assert dict(stats.disconnects) == {"peer_closed": 1, "protocol_error": 1}
    with pytest.raises(TypeError):
        stats.disconnects["peer_closed"] = 0  # type: ignore[index]


def test_conn_statistics_before_the_connection_is_wired_says_when_it_can_be_called() -> None:
    errors: queue.Queue[BaseException] = queue.Queue()

    class EarlySession(actornet.Session[Any]):
        def __init__(self) -> None:
            super().__init__()
            try:
                self.conn_statistics()
            except actornet.ClosedConnectionError as exc:
                errors.put(exc)

    ref = EarlySession.start()
    ref.stop()
    assert "on_connect()" in str(errors.get(timeout=WAIT))
