"""The chat's bounds on rooms, members and history, over real sockets (examples/chat/limits.py)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from _processes import ChatServer
from _support import WAIT, track

import actornet
import actornet.testing
from examples.chat.binary import BinaryChatSession
from examples.chat.directory import Directory
from examples.chat.limits import ChatLimits, line_bytes
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Client = actornet.testing.BlockingClient[chat.ChatMessage]
Code = chat.ErrorCode


@contextmanager
def chat_server(limits: ChatLimits) -> Iterator[actornet.Server[chat.ChatMessage]]:
    directory = Directory.start(limits=limits)
    server = actornet.serve_tcp(
        BinaryChatSession,
        chat.WIRE,
        limits=actornet.Limits(idle_timeout=None),
        session_args=(directory, 0),
        session_kwargs={"limits": limits},
    )
    try:
        yield server
    finally:
        server.shutdown(timeout=WAIT)
        directory.stop()


def register(port: int, nick: str) -> Client:
    client = actornet.testing.BlockingClient("127.0.0.1", port, chat.WIRE, timeout=WAIT)
    track(client.sock)  # closed after the test (tests/conftest.py)
    client.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=nick))
    assert isinstance(client.receive(), chat.Welcome)
    return client


def receive_until(client: Client, want: Callable[[Any], bool]) -> list[Any]:
    """Receive until a message matches `want`; return everything received."""
    seen = []
    while True:
        message = client.receive()
        seen.append(message)
        if want(message):
            return seen


def join(client: Client, room: str, nick: str) -> list[chat.History]:
    """Join `room`; return the history replayed.

    A ListNames sent with the Join reaches the room after the join, so its
    NamesEnd, the second, follows the replay.
    """
    client.send(chat.Join(room=room))
    client.send(chat.ListNames(room=room))
    seen = receive_until(client, lambda m: m == chat.Joined(room=room, nick=nick))
    seen += receive_until(client, lambda m: isinstance(m, chat.NamesEnd))
    seen += receive_until(client, lambda m: isinstance(m, chat.NamesEnd))
    return [m for m in seen if isinstance(m, chat.History)]


def refused(client: Client, room: str) -> chat.Error:
    """Return the LIMIT_REACHED a Join of `room` got."""
    client.send(chat.Join(room=room))
    seen = receive_until(client, lambda m: isinstance(m, chat.Error | chat.Joined))
    error = seen[-1]
    assert isinstance(error, chat.Error), seen
    assert (error.code, error.subject) == (Code.LIMIT_REACHED, room)
    return error


def say(client: Client, room: str, texts: list[str]) -> None:
    for text in texts:
        client.send(chat.Say(room=room, text=text))
    receive_until(client, lambda m: isinstance(m, chat.Said) and m.text == texts[-1])


def wait_rooms(client: Client, count: int) -> None:
    """Ask for the room list until it has `count` rooms (the directory retires rooms late)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        client.send(chat.ListRooms())
        end = receive_until(client, lambda m: isinstance(m, chat.RoomListEnd))[-1]
        if end.count == count:
            return
    raise AssertionError(f"the server did not get to {count} rooms within {WAIT} s")


def test_a_join_beyond_the_rooms_per_user_limit_is_refused_and_the_rooms_are_kept() -> None:
    with chat_server(ChatLimits(max_rooms_per_user=3)) as server:
        ann = register(server.port, "ann")
        for room in ("#a", "#b", "#c"):
            join(ann, room, "ann")
        # A Say pipelined behind the refused Join goes with it.
        ann.send(chat.Join(room="#d"))
        ann.send(chat.Say(room="#d", text="lost"))
        error = receive_until(ann, lambda m: isinstance(m, chat.Error))[-1]
        assert (error.code, error.subject) == (Code.LIMIT_REACHED, "#d")
        assert "3 rooms" in error.detail
        assert "leave one" in error.detail
        for room in ("#a", "#b", "#c"):
            say(ann, room, [f"still in {room}"])
        ann.send(chat.Leave(room="#a", reason=""))
        receive_until(ann, lambda m: isinstance(m, chat.Left))
        assert join(ann, "#d", "ann") == []
        refused(ann, "#e")


def test_creating_a_room_beyond_the_total_is_refused_and_existing_rooms_can_be_joined() -> None:
    with chat_server(ChatLimits(max_rooms=2)) as server:
        ann = register(server.port, "ann")
        join(ann, "#a", "ann")
        join(ann, "#b", "ann")
        ben = register(server.port, "ben")
        error = refused(ben, "#c")
        assert "2 rooms" in error.detail
        join(ben, "#a", "ben")
        join(ben, "#b", "ben")
        for client in (ann, ben):
            client.send(chat.Leave(room="#b", reason=""))
        wait_rooms(ben, 1)
        assert join(ben, "#c", "ben") == []


def test_a_full_room_refuses_the_next_member_until_one_leaves() -> None:
    with chat_server(ChatLimits(max_members=2)) as server:
        ann, ben, cat = (register(server.port, nick) for nick in ("ann", "ben", "cat"))
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        error = refused(cat, "#r")
        assert "full" in error.detail
        say(ann, "#r", ["cat is not here"])
        ben.send(chat.Leave(room="#r", reason=""))
        receive_until(ben, lambda m: isinstance(m, chat.Left))
        join(cat, "#r", "cat")
        say(cat, "#r", ["cat is here"])


def test_history_keeps_at_most_its_bytes_dropping_the_oldest_and_the_replay_follows() -> None:
    texts = [f"line {n:02} " + "x" * 12 for n in range(10)]  # 20 bytes: 23 with the nick
    assert {line_bytes("ann", text) for text in texts} == {23}
    with chat_server(ChatLimits(history_bytes=100)) as server:
        ann = register(server.port, "ann")
        join(ann, "#r", "ann")
        say(ann, "#r", texts)
        ben = register(server.port, "ben")
        replay = join(ben, "#r", "ben")
        assert [h.text for h in replay] == texts[-4:]  # four lines of 23 bytes fit in 100
        # A line bigger than the whole history is said but not kept, and pushes all out.
        say(ann, "#r", ["y" * 120])
        cat = register(server.port, "cat")
        assert join(cat, "#r", "cat") == []


def test_the_rooms_share_the_total_history_and_each_keeps_less_when_there_are_many() -> None:
    limits = ChatLimits(history_bytes=100, total_history_bytes=200)
    texts = [f"t{n}" + "x" * 18 for n in range(4)]  # 23 bytes each with the nick
    with chat_server(limits) as server:
        ann = register(server.port, "ann")
        join(ann, "#a", "ann")
        say(ann, "#a", texts)  # 4 lines, 92 bytes: two rooms' shares of 100 each
        join(ann, "#b", "ann")
        ben = register(server.port, "ben")
        assert [h.text for h in join(ben, "#a", "ben")] == texts
        # A third room: a share of 200 / 4 = 50 bytes each, so #a keeps its last two lines.
        join(ann, "#c", "ann")
        cat = register(server.port, "cat")
        replay = join(cat, "#a", "cat")
        assert sum(line_bytes(h.nick, h.text) for h in replay) <= limits.total_history_bytes / 4
        assert [h.text for h in replay] == texts[-2:]
        # With one room again, it keeps 100 bytes again.
        for room in ("#b", "#c"):
            ann.send(chat.Leave(room=room, reason=""))
        wait_rooms(ann, 1)
        say(ann, "#a", texts)
        dan = register(server.port, "dan")
        assert [h.text for h in join(dan, "#a", "dan")] == texts


def test_the_limits_are_options_of_the_server() -> None:
    server = ChatServer(0, "--max-rooms-per-user", "1", "--max-members", "1", "--max-rooms", "2")
    try:
        ann = register(server.port, "ann")
        join(ann, "#a", "ann")
        assert "1 rooms" in refused(ann, "#b").detail
        ben = register(server.port, "ben")
        assert "full" in refused(ben, "#a").detail
        join(ben, "#b", "ben")
        cat = register(server.port, "cat")
        assert "2 rooms" in refused(cat, "#c").detail
    finally:
        server.stop()
