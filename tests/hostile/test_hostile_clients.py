"""Hostile clients against the chat over real sockets, while well-behaved clients chat.

Each scenario runs next to calm traffic (`_hostile.CalmChat`): three members of
one room saying numbered lines, checked round by round for loss, repetition and
order. Afterwards a fresh client must register, join and chat, and the process
must be back near its baseline of descriptors, threads, actors and memory.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from _hostile import (
    RSS_SLACK,
    Background,
    CalmChat,
    Code,
    Scenario,
    errors_logged,
    is_said,
    join,
    read_replies,
    receive_until,
    register,
    rss_bytes,
    sendall_ignoring_reset,
)
from _support import RAW_WIRE, WAIT, Journal, frame, raw_socket, reset, serving, wait_until

import actornet
import actornet.testing
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import ChatClient

Reason = actornet.DisconnectReason

#: Idle timeout of the servers whose silent clients are under test.
IDLE_TIMEOUT = 0.5

#: The largest length a 4-byte header can declare: 4 GiB less one byte.
FOUR_GIB = 0xFFFF_FFFF


def hello(nick: str) -> bytes:
    return chat.WIRE.encode(chat.Hello(version=chat.PROTOCOL_VERSION, nick=nick))


def the_error(replies: list[Any]) -> chat.Error:
    """Return the one Error among the replies, which must be the last one."""
    assert replies, "the server closed without a word"
    last = replies[-1]
    assert isinstance(last, chat.Error), f"last reply {last!r}; all {replies!r}"
    assert last.detail, "an error says what was wrong"
    return last


# -- oversized frames ---------------------------------------------------------


def test_a_declared_length_of_4_gib_is_refused_with_frame_too_large_and_no_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scenario() as s:
        rss_before = rss_bytes()
        # Declared and stopped: the whole input was read, so the error arrives.
        with raw_socket(s.server) as sock:
            sock.sendall(struct.pack(">I", FOUR_GIB) + b"\x05\x02#c")
            replies, ended = read_replies(sock)
        error = the_error(replies)
        assert error.code == Code.FRAME_TOO_LARGE
        assert str(FOUR_GIB) in error.detail
        assert ended == "eof"
        # Registered, in a room, then the same: the room hears it went.
        with register(s.server, "mal") as mal:
            join(mal, "#side", "mal")
            mal.send_bytes(struct.pack(">I", FOUR_GIB))
            assert the_error(mal.receive_until_closed()).code == Code.FRAME_TOO_LARGE
        # Declared and then streamed: the server reads no further than the header.
        for _ in range(3):
            with raw_socket(s.server) as sock:
                sock.sendall(struct.pack(">I", FOUR_GIB))
                sent = sendall_ignoring_reset(sock, bytes(16 * 1024 * 1024))
                read_replies(sock)  # an error then EOF, or a reset: input was left unread
            assert sent < 16 * 1024 * 1024, "the server kept reading a 4 GiB frame"
        assert rss_bytes() - rss_before < RSS_SLACK
        s.assert_recovered()
    assert errors_logged(caplog) == []


# -- slow and silent clients ---------------------------------------------------


def test_a_hello_dribbled_one_byte_at_a_time_completes_and_is_processed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scenario(actornet.Limits(idle_timeout=IDLE_TIMEOUT)) as s:
        snails: list[ChatClient] = []
        try:
            for _ in range(10):
                snail = actornet.testing.BlockingClient(
                    "127.0.0.1", s.server.port, chat.WIRE, timeout=WAIT
                )
                snails.append(snail)
                snail.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            frames = [hello(f"snail{n}") for n in range(len(snails))]
            started = time.monotonic()
            # One byte per connection per step, a tenth of the idle timeout apart:
            # the whole frame takes longer than the timeout, each gap does not.
            for offset in range(max(len(f) for f in frames)):
                for snail, data in zip(snails, frames, strict=True):
                    if offset < len(data):
                        snail.send_bytes(data[offset : offset + 1])
                time.sleep(IDLE_TIMEOUT / 10)  # pacing the dribble, not synchronising
            assert time.monotonic() - started > IDLE_TIMEOUT
            for n, snail in enumerate(snails):
                assert snail.receive() == chat.Welcome(
                    version=chat.PROTOCOL_VERSION, nick=f"snail{n}", server="actornet-chat"
                )
            # Processed for real: the nick is held, and the client can chat.
            snail = snails[0]
            join(snail, CalmChat.ROOM, "snail0")
            snail.send(chat.Say(room=CalmChat.ROOM, text="finally"))
            receive_until(snail, is_said(CalmChat.ROOM, "finally"))
        finally:
            for snail in snails:
                snail.close()
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_connections_that_never_send_are_closed_by_the_idle_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scenario(actornet.Limits(idle_timeout=IDLE_TIMEOUT)) as s:
        silent = [raw_socket(s.server) for _ in range(20)]
        half_header = raw_socket(s.server)
        half_frame = raw_socket(s.server)
        registered = raw_socket(s.server)
        everyone = [*silent, half_header, half_frame, registered]
        try:
            started = time.monotonic()
            half_header.sendall(b"\x00\x00")
            half_frame.sendall(hello("halfway")[:-2])
            registered.sendall(hello("sleepy"))
            for sock in everyone:
                replies, ended = read_replies(sock, timeout=IDLE_TIMEOUT + WAIT)
                assert ended == "eof"
                assert the_error(replies).code == Code.IDLE_TIMEOUT
                if sock is registered:
                    assert isinstance(replies[0], chat.Welcome)
                else:
                    assert len(replies) == 1
            assert time.monotonic() - started >= IDLE_TIMEOUT
        finally:
            for sock in everyone:
                sock.close()
        s.assert_recovered()
    assert errors_logged(caplog) == []


# -- malformed input -----------------------------------------------------------


def test_seeded_random_garbage_closes_each_connection_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scenario() as s:
        socks = []
        try:
            for seed in range(45):
                rng = random.Random(seed)
                garbage = rng.randbytes(rng.randrange(1, 4096))
                data = {
                    0: garbage,  # its first four bytes are a (mostly huge) length
                    1: frame(garbage[: chat.MAX_FRAME_SIZE]),  # a frame of garbage
                    2: hello(f"g{seed}") + garbage,  # registered first
                }[seed % 3]
                sock = raw_socket(s.server)
                socks.append(sock)
                sendall_ignoring_reset(sock, data)
                # The peer is done: an incomplete frame now ends at EOF.
                with contextlib.suppress(OSError):  # already reset by the server
                    sock.shutdown(socket.SHUT_WR)
            for sock in socks:
                replies, _ = read_replies(sock)
                assert all(isinstance(r, chat.ServerMessage) for r in replies), replies
                errors = [r for r in replies if isinstance(r, chat.Error)]
                assert all(e.code != Code.IDLE_TIMEOUT for e in errors), errors
        finally:
            for sock in socks:
                sock.close()
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_a_bad_frame_or_eof_right_behind_hello_causes_no_unhandled_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scenario() as s:
        for n in range(3):
            with raw_socket(s.server) as sock:
                # One segment: the session closes before the directory grants the nick.
                sock.sendall(hello(f"hasty{n}") + frame(b"\x77"))
                replies, ended = read_replies(sock)
            assert (the_error(replies).code, ended) == (Code.MALFORMED, "eof")
            with raw_socket(s.server) as sock:  # the same with a plain EOF
                sock.sendall(hello(f"leaving{n}"))
                sock.shutdown(socket.SHUT_WR)
                read_replies(sock)
        s.assert_recovered()
    assert errors_logged(caplog) == []


WRONG_SHAPES = {
    "Hello without a nick": b"\x01\x01",
    "Hello whose nick runs past the frame": b"\x01\x01\x09ab",
    "Hello with the version as text": b"\x01\x031.0\x03ann",
    "Join with a 2-byte room length": b"\x03\x00\x02#r",
    "Say with a 1-byte text length": b"\x05\x02#r\x02hi",
    "Say without its text": b"\x05\x02#r",
    "Ping with a 2-byte token": b"\x0a\x00\x01",
    "Pong with an 8-byte token": b"\x0b" + bytes(8),
    "ListRooms with a body": b"\x07\x00",
    "Quit without a reason": b"\x0c",
    "Whisper with one field": b"\x06\x03ann",
    "SetTopic with a 4-byte topic length": b"\x09\x02#r\x00\x00\x00\x02hi",
}

INVALID_UTF8 = {
    "a nick of 0xff 0xfe": b"\x01\x01\x02\xff\xfe",
    "an overlong slash in a nick": b"\x01\x01\x02\xc0\xaf",
    "a surrogate in a room": b"\x03\x04#\xed\xa0\x80",
    "a truncated euro sign in a text": b"\x05\x02#r\x00\x02\xe2\x82",
    "a code point past U+10FFFF in a text": b"\x05\x02#r\x00\x04\xf4\x90\x80\x80",
    "a lone continuation byte in a topic": b"\x09\x02#r\x00\x01\x80",
    "Latin-1 in a whisper": b"\x06\x03ann\x00\x04caf\xe9",
}


@pytest.mark.parametrize(
    "cases", [WRONG_SHAPES, INVALID_UTF8], ids=["wrong field types", "invalid utf-8"]
)
def test_malformed_frames_get_malformed_and_close_only_their_connection(
    cases: dict[str, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    with Scenario() as s:
        with register(s.server, "watcher") as watcher:
            join(watcher, "#side", "watcher")
            for n, (name, payload) in enumerate(cases.items()):
                # Unregistered: the frame itself is refused.
                with raw_socket(s.server) as sock:
                    sock.sendall(frame(payload))
                    replies, ended = read_replies(sock)
                error = the_error(replies)
                assert (error.code, ended, len(replies)) == (Code.MALFORMED, "eof", 1), name
                # Registered and in a room: refused the same, and the room hears of it.
                nick = f"bad{n}"
                with register(s.server, nick) as bad:
                    join(bad, "#side", nick)
                    receive_until(watcher, joined("#side", nick))
                    bad.send_bytes(frame(payload))
                    assert the_error(bad.receive_until_closed()).code == Code.MALFORMED, name
                assert quitted(watcher).nick == nick
            watcher.send(chat.Say(room="#side", text="still here"))
            receive_until(watcher, is_said("#side", "still here"))
        s.assert_recovered()
    assert errors_logged(caplog) == []


def joined(room: str, nick: str) -> Callable[[Any], bool]:
    return lambda m: m == chat.Joined(room=room, nick=nick)


def quitted(client: ChatClient) -> chat.Quitted:
    """Return the next Quitted the client receives."""
    message = receive_until(client, lambda m: isinstance(m, chat.Quitted))[-1]
    assert isinstance(message, chat.Quitted)
    return message


def said_starting(prefix: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, chat.Said) and m.text.startswith(prefix)


# -- resets ------------------------------------------------------------------


def test_a_reset_in_the_middle_of_a_frame_ends_only_that_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Scenario() as s:
        with register(s.server, "watcher") as watcher:
            join(watcher, "#side", "watcher")
            whole = chat.WIRE.encode(chat.Say(room="#side", text="x" * 900))
            for n in range(10):
                nick = f"cut{n}"
                with register(s.server, nick) as cut:
                    join(cut, "#side", nick)
                    receive_until(watcher, joined("#side", nick))
                    # From inside the header to deep in the body.
                    cut.send_bytes(whole[: 2 + n * 90])
                    reset(cut.sock)
                assert quitted(watcher).nick == nick
            for _ in range(10):  # unregistered, cut inside the length header
                sock = raw_socket(s.server)
                sock.sendall(b"\x00\x00")
                reset(sock)
            watcher.send(chat.Say(room="#side", text="still here"))
            said = receive_until(watcher, lambda m: isinstance(m, chat.Said))
            assert said[-1].text == "still here", "a partial frame was delivered"
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_a_reset_while_the_room_is_writing_lots_to_the_client_ends_only_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = "y" * 900
    with Scenario() as s:
        with register(s.server, "tap") as tap:
            join(tap, "#big", "tap")
            for round_ in range(3):
                nick = f"sink{round_}"
                with register(s.server, nick) as sink:
                    sink.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    join(sink, "#big", nick)
                    receive_until(tap, joined("#big", nick))
                    # ~700 KB for a member that reads nothing: the kernel holds a
                    # part, the writer queues the rest (under its 1 MiB limit).
                    for n in range(750):
                        tap.send(chat.Say(room="#big", text=f"{n} {text}"))
                        if n % 50 == 49:
                            receive_until(tap, said_starting(f"{n} "))
                    reset(sink.sock)
                gone = quitted(tap)
                assert gone.nick == nick
                assert gone.reason != "slow consumer"
            tap.send(chat.Say(room="#big", text="after"))
            receive_until(tap, is_said("#big", "after"))
        s.assert_recovered()
    assert errors_logged(caplog) == []


class LateReply(actornet.Session[bytes]):
    """On b"late", waits until the test has reset the peer, then replies and closes."""

    def __init__(self, peer_gone: threading.Event) -> None:
        super().__init__()
        self.peer_gone = peer_gone

    def on_event(self, event: bytes) -> None:
        if event == b"late":
            assert self.peer_gone.wait(WAIT)
            self.send(b"too late" * 1000)
            self.close()


def test_a_peer_reset_before_the_farewell_is_flushed_is_let_go_at_once() -> None:
    # The farewell's send fails (the peer is gone): the socket must close then,
    # not when Limits.close_timeout runs out.
    peer_gone = threading.Event()
    limits = actornet.Limits(idle_timeout=None, close_timeout=60)
    with Scenario() as s:
        with serving(LateReply, limits=limits, session_args=(peer_gone,)) as (server, _):
            for _ in range(3):
                peer_gone.clear()
                sock = raw_socket(server)
                sock.sendall(frame(b"late"))
                assert wait_until(lambda: server.connection_count() == 1)
                reset(sock)
                peer_gone.set()
                assert wait_until(lambda: server.connection_count() == 0, timeout=WAIT), (
                    "the connection was held open after its peer reset"
                )
        s.assert_recovered()


# -- slow consumers, too many connections, churn ----------------------------


def test_a_member_that_never_reads_is_cut_off_while_the_others_get_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = actornet.Limits(idle_timeout=None, write_queue_bytes=64 * 1024)
    with Scenario(limits) as s:
        with (
            register(s.server, "tap") as tap,
            register(s.server, "ear") as ear,
            raw_socket(s.server) as hog,
        ):
            hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            hog.sendall(hello("hog") + chat.WIRE.encode(chat.Join(room="#flood")))
            join(tap, "#flood", "tap")
            join(ear, "#flood", "ear")
            text = "z" * 900
            heard: list[int] = []
            cut_off = None
            for n in range(5000):
                tap.send(chat.Say(room="#flood", text=f"{n} {text}"))
                if n % 50 != 49:
                    continue
                receive_until(tap, said_starting(f"{n} "))
                for message in receive_until(ear, said_starting(f"{n} ")):
                    if isinstance(message, chat.Said):
                        heard.append(int(message.text.split()[0]))
                    elif isinstance(message, chat.Quitted) and message.nick == "hog":
                        cut_off = message
                if cut_off is not None and n > 500:
                    break
            assert cut_off is not None, "the hog was never cut off"
            assert cut_off.reason == "slow consumer"
            assert heard == list(range(len(heard))), "the reading member lost or reordered lines"
            replies, _ = read_replies(hog)  # reset: nothing is owed to a slow consumer
            assert all(isinstance(r, chat.ServerMessage) for r in replies)
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_connections_beyond_max_connections_are_closed_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = actornet.Limits(idle_timeout=None, max_connections=6)
    with Scenario(limits) as s:
        holders = [register(s.server, f"holder{n}") for n in range(6 - s.calm_connections())]
        try:
            assert s.server.connection_count() == 6
            for n in range(30):
                with raw_socket(s.server) as extra:
                    if n % 2:
                        sendall_ignoring_reset(extra, hello(f"extra{n}"))
                    replies, _ = read_replies(extra)
                    assert replies == []
            assert "max_connections=6" in caplog.text
            for holder in holders:  # those let in still talk
                holder.send(chat.Ping(token=1))
                assert holder.receive() == chat.ServerPong(token=1)
        finally:
            for holder in holders:
                holder.close()
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_ten_thousand_connect_disconnect_cycles_leave_nothing_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cycles, batch = 10_000, 250
    with Scenario() as s:
        deadline = time.monotonic() + 60
        done = 0
        while done < cycles and time.monotonic() < deadline:
            socks = [raw_socket(s.server) for _ in range(batch)]
            for n, sock in enumerate(socks):
                how = (done + n) % 4
                if how == 1:
                    sock.sendall(hello(f"c{done + n}"))
                elif how == 2:  # half a frame
                    sock.sendall(hello("half")[:5])
                if how == 3:
                    reset(sock)
                else:
                    sock.close()
            done += batch
            # Keep the backlog bounded: the server catches up every batch.
            wait_until(lambda: s.server.connection_count() < batch + s.calm_connections())
        assert done == cycles, f"{done} cycles in 60 s"
        assert wait_until(lambda: s.server.connection_count() == s.calm_connections(), timeout=30)
        s.assert_recovered()
    assert errors_logged(caplog) == []


# -- sessions that raise or block (a plain serve_tcp, raw frames) -------------

#: Seconds a blocking handler blocks.
BLOCK_SECONDS = 3.0


@dataclass
class Plan:
    """What the misbehaving sessions do, shared with the test."""

    journal: Journal = field(default_factory=Journal)
    raise_on_connect: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    blocked: int = 0
    unblocked: int = 0


class Misbehaving(actornet.Session[bytes]):
    """Echoes frames; b"raise" raises, b"block" blocks, b"raise later" raises in on_disconnect."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.raise_later = False

    def on_connect(self) -> None:
        if self.plan.raise_on_connect.is_set():
            raise RuntimeError("on_connect raised on purpose")

    def on_event(self, event: bytes) -> None:
        if event == b"raise":
            raise RuntimeError("on_event raised on purpose")
        if event == b"raise later":
            self.raise_later = True
        if event == b"block":
            with self.plan.lock:
                self.plan.blocked += 1
            time.sleep(BLOCK_SECONDS)  # the misbehaviour under test
            with self.plan.lock:
                self.plan.unblocked += 1
        self.send(event)

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        self.plan.journal.disconnects.put(reason)
        if self.raise_later:
            raise RuntimeError("on_disconnect raised on purpose")


class EchoTraffic:
    """Three clients of the plain server, each echoing a numbered frame every round."""

    def __init__(self, server: actornet.Server[bytes]) -> None:
        self.clients = [
            actornet.testing.BlockingClient("127.0.0.1", server.port, RAW_WIRE, timeout=WAIT)
            for _ in range(3)
        ]
        self.background = Background(self._round, "echo-traffic")

    def _round(self, n: int) -> list[float]:
        latencies = []
        for index, client in enumerate(self.clients):
            sent_at = time.monotonic()
            client.send(f"{index}:{n}".encode())
            assert client.receive() == f"{index}:{n}".encode()
            latencies.append(time.monotonic() - sent_at)
        return latencies

    def close(self) -> None:
        for client in self.clients:
            client.close()


def plain_server(
    plan: Plan,
) -> contextlib.AbstractContextManager[tuple[actornet.Server[bytes], Journal]]:
    return serving(
        Misbehaving,
        limits=actornet.Limits(idle_timeout=None),
        journal=plan.journal,
        session_args=(plan,),
    )


def test_a_session_whose_handlers_raise_loses_only_its_own_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    plan = Plan()
    with Scenario() as s:
        with plain_server(plan) as (server, journal):
            traffic = EchoTraffic(server)
            try:
                traffic.background.start()
                traffic.background.wait_rounds(3)
                for _ in range(5):  # on_event raises, with more input behind it
                    with raw_socket(server) as sock:
                        sock.sendall(frame(b"fine") + frame(b"raise") + frame(b"never"))
                        assert read_replies_raw(sock) == [b"fine"]
                    assert journal.next_disconnect() is Reason.SESSION_FAILED
                plan.raise_on_connect.set()
                for _ in range(5):  # on_connect raises
                    with raw_socket(server) as sock:
                        assert read_replies_raw(sock) == []
                    assert journal.next_disconnect() is Reason.SESSION_FAILED
                plan.raise_on_connect.clear()
                for _ in range(5):  # on_disconnect raises: logged, the connection still ends
                    with raw_socket(server) as sock:
                        sock.sendall(frame(b"raise later"))
                        sock.shutdown(socket.SHUT_WR)
                        assert read_replies_raw(sock) == [b"raise later"]
                    assert journal.next_disconnect() is Reason.PEER_CLOSED
                traffic.background.wait_rounds(3)
                assert wait_until(lambda: server.connection_count() == 3)
                traffic.background.stop()
            finally:
                traffic.close()
        assert caplog.text.count("on_event raised on purpose") >= 5
        assert caplog.text.count("on_connect raised on purpose") >= 5
        assert caplog.text.count("on_disconnect raised on purpose") >= 5
        s.assert_recovered()


def test_sessions_that_block_for_seconds_stall_only_their_own_connections() -> None:
    plan = Plan()
    blockers_count = 4  # more than the machine's cores and the pool's workers
    with Scenario() as s:
        with plain_server(plan) as (server, _):
            traffic = EchoTraffic(server)
            blockers = [raw_socket(server) for _ in range(blockers_count)]
            try:
                traffic.background.start()
                traffic.background.wait_rounds(3)
                for blocker in blockers:
                    blocker.sendall(frame(b"block") + frame(b"after"))
                assert wait_until(lambda: plan.blocked == blockers_count), plan
                # While every blocker blocks: the others get answers, a newcomer
                # is served, and the chat flows.
                traffic.background.wait_rounds(10)
                s.calm.background.wait_rounds(5)
                with actornet.testing.BlockingClient(
                    "127.0.0.1", server.port, RAW_WIRE, timeout=WAIT
                ) as newcomer:
                    newcomer.send(b"hi")
                    assert newcomer.receive() == b"hi"
                assert plan.unblocked == 0, "the others were served only after a block ended"
                for blocker in blockers:  # each blocked connection, in order, afterwards
                    blocker.settimeout(BLOCK_SECONDS + WAIT)
                    assert read_frames(blocker, 2) == [b"block", b"after"]
                traffic.background.stop()
            finally:
                traffic.close()
                for blocker in blockers:
                    blocker.close()
        s.assert_recovered()


def read_frames(sock: socket.socket, count: int) -> list[bytes]:
    """Read exactly `count` RAW_WIRE frames from a blocking socket."""
    decoder = RAW_WIRE.decoder()
    frames: list[bytes] = []
    for _ in range(10_000):
        if len(frames) >= count:
            break
        data = sock.recv(65536)
        assert data, f"closed after {frames}"
        decoder.receive_data(data)
        frames.extend(decoder.events())
    assert len(frames) == count, frames
    return frames


def read_replies_raw(sock: socket.socket, timeout: float = WAIT) -> list[bytes]:
    """Read RAW_WIRE frames until the server closes the connection (EOF or reset)."""
    decoder = RAW_WIRE.decoder()
    sock.settimeout(timeout)
    for _ in range(10_000):
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        decoder.receive_data(data)
    else:
        raise AssertionError("the server kept sending")
    return decoder.events()
