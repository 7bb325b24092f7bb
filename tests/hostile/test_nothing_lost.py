"""Nothing lost, repeated, reordered or corrupted: under load, and through a graceful shutdown.

Every payload carries its connection, a sequence number and a CRC-32 of the
rest, so a receiver can tell a lost frame (a gap), a repeated one (a step
back), a reordered one and a corrupted one apart.
"""

from __future__ import annotations

import contextlib
import random
import selectors
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from _hostile import chat_server, join, receive_until, register
from _support import RAW_WIRE, WAIT, serving, wait_until

import actornet
from examples.relay.__main__ import WIRE as RELAY_WIRE
from examples.relay.__main__ import RelaySession, Room
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Callable

    from _hostile import ChatClient

    import protocols

Reason = actornet.DisconnectReason

_HEADER = struct.Struct(">II")
_CRC = struct.Struct(">I")


def make_payload(conn: int, seq: int, body: bytes) -> bytes:
    """Return connection, sequence number, body and a CRC-32 of those."""
    head = _HEADER.pack(conn, seq) + body
    return head + _CRC.pack(zlib.crc32(head))


def open_payload(payload: bytes) -> tuple[int, int]:
    """Check a payload's CRC-32 and return its connection and sequence number."""
    assert len(payload) >= _HEADER.size + _CRC.size, f"short payload {payload!r}"
    head = payload[: -_CRC.size]
    (crc,) = _CRC.unpack(payload[-_CRC.size :])
    assert crc == zlib.crc32(head), f"corrupted payload of {len(payload)} bytes"
    conn, seq = _HEADER.unpack(head[: _HEADER.size])
    return conn, seq


@dataclass
class Peer:
    """One client socket of the driver: what it has to send, and what it got."""

    index: int
    sock: socket.socket
    outgoing: bytes
    decoder: protocols.Decoder[bytes]
    rng: random.Random
    sent: int = 0
    received: list[tuple[int, int]] = field(default_factory=list)
    eof: bool = False


def connect_peers(
    port: int, count: int, frames: Callable[[int, random.Random], list[bytes]], wire: Any
) -> list[Peer]:
    """Open `count` sockets and give each its framed payloads to send."""
    peers: list[Peer] = []
    try:
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            rng = random.Random(index)
            outgoing = b"".join(wire.encode(p) for p in frames(index, rng))
            peers.append(Peer(index, sock, outgoing, wire.decoder(), rng))
    except BaseException:
        for peer in peers:
            peer.sock.close()
        raise
    return peers


def drive(
    peers: list[Peer], *, half_close: bool, done: Callable[[Peer], bool], timeout: float
) -> None:
    """Send every peer's bytes in random-sized pieces while reading, until all are done.

    A peer is done when `done(peer)` holds or the server closed it. With
    `half_close`, each peer shuts down its sending side after its last byte.
    """
    selector = selectors.DefaultSelector()
    try:
        for peer in peers:
            peer.sock.setblocking(False)  # noqa: FBT003 - socket API
            selector.register(peer.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, peer)
        active = len(peers)
        deadline = time.monotonic() + timeout
        while active and time.monotonic() < deadline:
            for key, mask in selector.select(timeout=0.5):
                ready: Peer = key.data
                if mask & selectors.EVENT_WRITE:
                    _send_some(selector, ready, half_close=half_close)
                if mask & selectors.EVENT_READ and _receive_some(ready, done):
                    selector.unregister(ready.sock)
                    active -= 1
        assert active == 0, f"{active} of {len(peers)} peers unfinished after {timeout} s"
    finally:
        selector.close()


def _send_some(selector: selectors.BaseSelector, peer: Peer, *, half_close: bool) -> None:
    piece = peer.rng.randrange(1, 16 * 1024)
    with contextlib.suppress(BlockingIOError):
        peer.sent += peer.sock.send(peer.outgoing[peer.sent : peer.sent + piece])
    if peer.sent == len(peer.outgoing):
        if half_close:
            peer.sock.shutdown(socket.SHUT_WR)
        selector.modify(peer.sock, selectors.EVENT_READ, peer)


def _receive_some(peer: Peer, done: Callable[[Peer], bool]) -> bool:
    """Read what is there; return whether the peer is finished."""
    try:
        data = peer.sock.recv(256 * 1024)
    except BlockingIOError:
        return False
    if data:
        peer.decoder.receive_data(data)
        peer.received.extend(open_payload(p) for p in peer.decoder.events())
    else:
        peer.eof = True
    return peer.eof or done(peer)


def test_a_thousand_echo_connections_get_every_frame_back_once_in_order_intact() -> None:
    clients, frames_each = 1000, 50

    def frames(index: int, rng: random.Random) -> list[bytes]:
        return [
            make_payload(index, seq, rng.randbytes(rng.randrange(0, 2000)))
            for seq in range(frames_each)
        ]

    with serving(limits=actornet.Limits(idle_timeout=None)) as (server, journal):
        peers = connect_peers(server.port, clients, frames, RAW_WIRE)
        try:
            drive(peers, half_close=True, done=lambda _: False, timeout=60)
            for peer in peers:
                assert peer.eof
                assert peer.received == [(peer.index, seq) for seq in range(frames_each)], (
                    f"peer {peer.index} got {peer.received[:30]}"
                )
        finally:
            for peer in peers:
                peer.sock.close()
        assert wait_until(lambda: journal.disconnects.qsize() == clients)
        reasons = {journal.next_disconnect() for _ in range(clients)}
        assert reasons == {Reason.PEER_CLOSED}


def test_a_relay_room_gives_every_member_every_frame_once_in_one_order() -> None:
    clients, frames_each = 200, 10
    total = clients * frames_each

    def frames(index: int, rng: random.Random) -> list[bytes]:
        return [
            make_payload(index, seq, rng.randbytes(rng.randrange(0, 300)))
            for seq in range(frames_each)
        ]

    room = Room.start()
    try:
        with serving(
            RelaySession,
            wire=RELAY_WIRE,
            limits=actornet.Limits(idle_timeout=None),
            session_args=(room,),
        ) as (server, _):
            peers = connect_peers(server.port, clients, frames, RELAY_WIRE)
            try:
                # Everyone is a member before anyone speaks, so everyone hears everything.
                members = room.proxy().members
                assert wait_until(lambda: len(members.get(timeout=WAIT)) == clients)
                drive(peers, half_close=False, done=lambda p: len(p.received) >= total, timeout=60)
            finally:
                for peer in peers:
                    peer.sock.close()
            order = peers[0].received
            assert len(order) == total
            for sender in range(clients):
                assert [seq for conn, seq in order if conn == sender] == list(range(frames_each))
            for peer in peers:
                assert peer.received == order, f"peer {peer.index} saw another order"
    finally:
        room.stop()


# -- graceful shutdown ---------------------------------------------------------


@dataclass
class Listener:
    """A chat client read to its end in a thread."""

    client: ChatClient
    nick: str
    messages: list[Any] = field(default_factory=list)
    ended: str = ""
    thread: threading.Thread | None = None

    def start(self, last_text: str, heard_last: threading.Event, go: threading.Event) -> None:
        """Read in a thread once `go` is set; set `heard_last` on the Said of `last_text`."""

        def run() -> None:
            try:
                assert go.wait(3 * WAIT)
                for _ in range(1_000_000):
                    message = self.client.receive(timeout=3 * WAIT)
                    self.messages.append(message)
                    if isinstance(message, chat.Said) and message.text == last_text:
                        heard_last.set()
            except actornet.ClosedConnectionError:
                self.ended = "eof"
            except Exception as exc:  # reported by the test
                self.ended = repr(exc)

        self.thread = threading.Thread(target=run, name=f"listener-{self.nick}", daemon=True)
        self.thread.start()


@pytest.mark.parametrize(("members", "messages"), [(5, 5000), (20, 1000), (100, 200)])
def test_on_shutdown_every_accepted_message_reaches_every_member_before_the_notice(
    members: int, messages: int
) -> None:
    texts = [f"{n} " + "w" * 150 for n in range(messages)]
    with chat_server() as server:
        listeners: list[Listener] = []
        try:
            # The sender joins first: its own copy of each line is queued before the others'.
            for n in range(members):
                nick = "sender" if n == 0 else f"member{n}"
                client = register(server, nick)
                listeners.append(Listener(client, nick))
                join(client, "#all", nick)
            last = f"member{members - 1}"
            for listener in listeners[:-1]:
                receive_until(listener.client, lambda m: m == chat.Joined(room="#all", nick=last))
            # The sender reads from the start; the others only once shutdown
            # begins, so their lines are still queued when it does.
            accepted, shutting_down = threading.Event(), threading.Event()
            at_once = threading.Event()
            at_once.set()
            listeners[0].start(texts[-1], accepted, at_once)
            for listener in listeners[1:]:
                listener.start(texts[-1], threading.Event(), shutting_down)
            lines = (chat.WIRE.encode(chat.Say(room="#all", text=t)) for t in texts)
            listeners[0].client.send_bytes(b"".join(lines))
            # The sender's own copy of the last line came back: the room accepted all of them.
            assert accepted.wait(3 * WAIT)
            shutting_down.set()
            server.shutdown()
            for listener in listeners:
                assert listener.thread is not None
                listener.thread.join(3 * WAIT)
                assert not listener.thread.is_alive()
        finally:
            for listener in listeners:
                listener.client.close()
    for listener in listeners:
        said = [m.text for m in listener.messages if isinstance(m, chat.Said)]
        notices = [i for i, m in enumerate(listener.messages) if isinstance(m, chat.Notice)]
        last_said = max(i for i, m in enumerate(listener.messages) if isinstance(m, chat.Said))
        assert listener.ended == "eof", f"{listener.nick}: {listener.ended}"
        assert len(said) == messages, f"{listener.nick} got {len(said)} of {messages} lines"
        assert said == texts, f"{listener.nick} got the lines out of order"
        assert [listener.messages[i] for i in notices] == [chat.Notice(text="server shutting down")]
        assert notices[0] > last_said, f"{listener.nick} got the notice before a line"
