"""Server, reader, writer and session together, over real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
from _support import (
    RAW_WIRE,
    WAIT,
    EchoSession,
    Journal,
    connect,
    frame,
    open_fds,
    raw_socket,
    read_until_closed,
    reset,
    serving,
    thread_count,
    wait_until,
)

import actornet
from actornet._runtime._mailbox import Mailbox

Reason = actornet.DisconnectReason


def dropped_frames(server: actornet.Server[bytes]) -> int:
    """Return how many frames the writers of the server's open connections dropped."""
    return sum(connection.statistics().dropped_frames for connection in server._snapshot())


def test_a_frame_is_echoed() -> None:
    with serving() as (server, _), connect(server) as client:
        client.send(b"hello")
        assert client.receive() == b"hello"


def test_many_clients_each_get_their_own_frames_in_order() -> None:
    with serving() as (server, _):
        clients = [connect(server) for _ in range(50)]
        for round_ in range(20):
            for index, client in enumerate(clients):
                client.send(f"{index}:{round_}".encode())
        for index, client in enumerate(clients):
            assert [client.receive() for _ in range(20)] == [
                f"{index}:{round_}".encode() for round_ in range(20)
            ]
            client.close()


@pytest.mark.parametrize("payload", [b"", b"a", b"split me at every byte"])
def test_a_frame_split_at_every_offset_is_reassembled(payload: bytes) -> None:
    data = frame(payload)
    with serving() as (server, _), connect(server) as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for offset in range(len(data) + 1):
            client.send_bytes(data[:offset])
            time.sleep(0.002)  # let the first part arrive as its own segment
            client.send_bytes(data[offset:])
            assert client.receive() == payload


def test_a_frame_dribbled_byte_by_byte_is_reassembled() -> None:
    payload = b"slow but steady"
    with serving() as (server, _), connect(server) as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in frame(payload):
            client.send_bytes(bytes([byte]))
        assert client.receive() == payload


def test_frames_coalesced_in_one_segment_are_all_answered_in_order() -> None:
    payloads = [f"frame {n}".encode() for n in range(500)]
    with serving() as (server, _), connect(server) as client:
        client.send_bytes(b"".join(frame(p) for p in payloads))
        assert [client.receive() for _ in payloads] == payloads


def test_a_declared_length_over_the_limit_closes_only_that_connection() -> None:
    with serving() as (server, journal), connect(server) as bystander:
        attacker = raw_socket(server)
        attacker.sendall(struct.pack(">I", 0xFFFF_FFFF) + b"xx")
        assert read_until_closed(attacker) == b""
        attacker.close()
        assert journal.next_disconnect() is Reason.PROTOCOL_ERROR
        bystander.send(b"still here")
        assert bystander.receive() == b"still here"


def test_an_abrupt_reset_mid_frame_closes_only_that_connection() -> None:
    with serving() as (server, journal), connect(server) as bystander:
        victim = raw_socket(server)
        victim.sendall(struct.pack(">I", 100) + b"only part")
        time.sleep(0.05)
        reset(victim)
        assert journal.next_disconnect() in (Reason.CONNECTION_BROKEN, Reason.PEER_CLOSED)
        bystander.send(b"fine")
        assert bystander.receive() == b"fine"


def test_a_session_that_raises_closes_only_its_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with serving() as (server, journal), connect(server) as bystander, connect(server) as client:
        client.send(b"raise")
        assert client.receive_until_closed() == []
        assert journal.next_disconnect() is Reason.SESSION_FAILED
        assert "on_event raised on purpose" in caplog.text
        bystander.send(b"unaffected")
        assert bystander.receive() == b"unaffected"


def test_a_blocking_session_does_not_stall_other_connections() -> None:
    with serving() as (server, journal), connect(server) as sleeper, connect(server) as other:
        sleeper.send(b"sleep 3")
        assert journal.sleeping.wait(WAIT)  # the sleeper's handler runs first
        started = time.monotonic()
        other.send(b"quick")
        assert other.receive() == b"quick"
        assert time.monotonic() - started < 2.0  # well before the sleeper wakes
        assert sleeper.receive() == b"sleep 3"


def test_the_session_closing_flushes_what_it_sent_first() -> None:
    with serving() as (server, journal), connect(server) as client:
        client.send(b"before")
        client.send(b"close")
        assert client.receive_until_closed() == [b"before"]
        assert journal.next_disconnect() is Reason.CLOSED_BY_SESSION


def test_peer_half_close_with_writes_pending_flushes_then_closes() -> None:
    payloads = [bytes([n]) * 1000 for n in range(200)]
    with serving() as (server, journal), connect(server) as client:
        client.send_bytes(b"".join(frame(p) for p in payloads))
        client.sock.shutdown(socket.SHUT_WR)
        assert client.receive_until_closed() == payloads
        assert journal.next_disconnect() is Reason.PEER_CLOSED


def test_a_client_that_never_reads_is_cut_off_as_a_slow_consumer() -> None:
    limits = actornet.Limits(idle_timeout=None, write_queue_bytes=256 * 1024)
    with serving(limits=limits) as (server, journal), connect(server) as bystander:
        hog = raw_socket(server)
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.sendall(frame(b"flood 60000 200"))  # 12 MB it will never read
        assert journal.next_disconnect() is Reason.SLOW_CONSUMER
        bystander.send(b"room still flows")
        assert bystander.receive() == b"room still flows"
        hog.close()


def test_the_drop_policy_keeps_a_slow_consumer_connected() -> None:
    limits = actornet.Limits(
        idle_timeout=None, write_queue_bytes=256 * 1024, on_slow_consumer="drop"
    )
    with serving(limits=limits) as (server, journal), connect(server) as client:
        # 12 MB in one go: more than the queue and both socket buffers hold.
        client.send(b"flood 60000 200")
        client.send(b"marker")
        # Not reading until the writer has had to drop: then some frames were dropped.
        assert wait_until(lambda: dropped_frames(server) > 0)
        received = []
        while (event := client.receive()) != b"marker":
            received.append(event)
        assert 0 < len(received) < 200
        assert journal.disconnects.empty()


def test_a_silent_connection_is_closed_after_the_idle_timeout() -> None:
    limits = actornet.Limits(idle_timeout=0.3)
    with serving(limits=limits) as (server, journal), connect(server) as client:
        started = time.monotonic()
        assert client.receive_until_closed() == []
        # The server's clock starts at accept, a moment before ours could.
        assert time.monotonic() - started >= 0.25
        assert journal.next_disconnect() is Reason.IDLE_TIMEOUT


def test_input_keeps_a_connection_from_idling_out() -> None:
    limits = actornet.Limits(idle_timeout=0.5)
    with serving(limits=limits) as (server, journal), connect(server) as client:
        for _ in range(8):
            client.send(b"ping")
            assert client.receive() == b"ping"
            time.sleep(0.15)
        assert journal.disconnects.empty()


def test_connections_beyond_the_limit_are_closed_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = actornet.Limits(idle_timeout=None, max_connections=2)
    with serving(limits=limits) as (server, _):
        first, second = connect(server), connect(server)
        first.send(b"1")
        assert first.receive() == b"1"
        second.send(b"2")
        assert second.receive() == b"2"
        extra = raw_socket(server)
        assert read_until_closed(extra) == b""
        assert "max_connections=2" in caplog.text
        first.close()
        assert wait_until(lambda: server.connection_count() == 1)
        with connect(server) as third:
            third.send(b"3")
            assert third.receive() == b"3"
        second.close()
        extra.close()


def test_shutdown_tells_sessions_flushes_their_farewell_and_closes() -> None:
    journal = Journal()
    with serving(journal=journal) as (server, _):
        clients = [connect(server) for _ in range(5)]
        for client in clients:
            client.send(b"hi")
            assert client.receive() == b"hi"
        server.shutdown()
        for client in clients:
            assert client.receive_until_closed() == [b"goodbye"]
            client.close()
        assert [journal.next_disconnect() for _ in clients] == [Reason.SHUTDOWN] * 5
        assert server.connection_count() == 0
        with pytest.raises(OSError):
            raw_socket(server)


def test_on_disconnect_runs_exactly_once_per_connection() -> None:
    with serving() as (server, journal):
        actors = actornet.live_actor_count()
        for _ in range(20):
            client = connect(server)
            client.send(b"close")
            client.sock.shutdown(socket.SHUT_WR)
            client.receive_until_closed()
            client.close()
        # Once every session has stopped, none can call on_disconnect again.
        assert wait_until(lambda: actornet.live_actor_count() <= actors)
        assert journal.disconnects.qsize() == 20


def test_reading_pauses_while_the_session_is_behind_and_nothing_is_lost() -> None:
    limits = actornet.Limits(idle_timeout=None, read_high_water=4, read_low_water=1)
    gate = threading.Event()

    class GatedEcho(EchoSession):
        def on_event(self, event: bytes) -> None:
            gate.wait(WAIT)
            super().on_event(event)

    with serving(GatedEcho, limits=limits) as (server, _), connect(server) as client:
        payloads = [bytes([n % 256]) * 4000 for n in range(300)]
        sender = threading.Thread(
            target=client.send_bytes, args=(b"".join(frame(p) for p in payloads),)
        )
        sender.start()
        assert wait_until(lambda: any(c.reading_paused for c in server._snapshot()))
        sessions = server.session_refs()
        assert len(sessions) == 1
        inbox = sessions[0].actor_inbox
        assert isinstance(inbox, Mailbox)
        assert len(inbox) <= limits.read_high_water + 1
        gate.set()
        assert [client.receive() for _ in payloads] == payloads
        sender.join(WAIT)


def test_connect_disconnect_cycles_leave_no_fds_threads_or_actors_behind() -> None:
    with serving() as (server, journal):
        with connect(server) as warm_up:
            warm_up.send(b"warm")
            warm_up.receive()
        assert wait_until(lambda: server.connection_count() == 0)
        fds, threads, actors = open_fds(), thread_count(), actornet.live_actor_count()
        for cycle in range(2000):
            sock = raw_socket(server)
            if cycle % 2:
                sock.sendall(frame(b"x"))
                sock.recv(16)
            sock.close()
        assert wait_until(lambda: server.connection_count() == 0, timeout=30)
        assert wait_until(lambda: actornet.live_actor_count() <= actors, timeout=30)
        assert wait_until(lambda: open_fds() <= fds, timeout=30)
        # Threads the pool lent while a worker looked blocked retire once it is idle.
        assert wait_until(lambda: thread_count() <= threads + 2)
        assert journal.disconnects.qsize() >= 2000


def test_a_client_session_talks_to_a_server_through_three_actors() -> None:
    received: list[bytes] = []
    done = threading.Event()

    class Greeter(actornet.Session[bytes]):
        def on_connect(self) -> None:
            for n in range(10):
                self.send(f"hello {n}".encode())

        def on_event(self, event: bytes) -> None:
            received.append(event)
            if len(received) == 10:
                self.close()

        def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
            done.set()

    with serving() as (server, _):
        ref = actornet.connect_tcp(Greeter, RAW_WIRE, "127.0.0.1", server.port)
        assert done.wait(WAIT)
        assert received == [f"hello {n}".encode() for n in range(10)]
        assert wait_until(lambda: not ref.is_alive())


def test_sending_after_close_raises_closed_connection_error() -> None:
    outcome: list[BaseException] = []
    done = threading.Event()

    class Closer(actornet.Session[bytes]):
        def on_event(self, event: bytes) -> None:
            self.close()
            try:
                self.send(b"too late")
            except actornet.ClosedConnectionError as exc:
                outcome.append(exc)
            done.set()

    with serving(Closer, session_args=()) as (server, _), connect(server) as client:
        client.send(b"go")
        assert done.wait(WAIT)
        assert "is closed" in str(outcome[0])
        assert client.receive_until_closed() == []


def test_two_servers_with_reuse_port_share_one_port_and_both_accept() -> None:
    first = actornet.serve_tcp(EchoSession, RAW_WIRE, session_args=(Journal(),), reuse_port=True)
    try:
        with pytest.raises(OSError):  # without SO_REUSEPORT the port is taken
            actornet.serve_tcp(EchoSession, RAW_WIRE, port=first.port, session_args=(Journal(),))
        second = actornet.serve_tcp(
            EchoSession, RAW_WIRE, port=first.port, session_args=(Journal(),), reuse_port=True
        )
        try:
            for n in range(40):  # the kernel hashes each new 4-tuple to one of the two
                with connect(first) as client:
                    client.send(f"{n}".encode())
                    assert client.receive(timeout=WAIT) == f"{n}".encode()
            accepted = (first.statistics().accepted, second.statistics().accepted)
            assert sum(accepted) == 40
            assert min(accepted) > 0, accepted  # both took some: 2 in 2**40 that one takes all
        finally:
            second.shutdown(timeout=WAIT)
    finally:
        first.shutdown(timeout=WAIT)
