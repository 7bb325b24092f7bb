"""The chat's backplane without sockets: the event codec, and RedisBackplane on fakeredis.

Two `RedisBackplane`s on one `fakeredis.FakeServer` stand for two chat processes; the
actors they tell are recorders. The real Redis is in test_chat_redis.py.
"""

from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING, Any

import fakeredis
import pytest
from _support import WAIT

import actornet
from examples.chat import redis_backplane
from examples.chat.backplane import (
    InProcessBackplane,
    RemoteEvent,
    RemoteEventsWaiting,
    RoomState,
    decode_events,
    encode_events,
)
from examples.chat.events import (
    MemberJoined,
    MemberLeft,
    MemberQuit,
    MessageSaid,
    NickChange,
    TopicIs,
)
from examples.chat.redis_backplane import RedisBackplane

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pykka

LEASE = 0.6


class Recorder(actornet.Actor):
    def __init__(self, inbox: queue.Queue[Any]) -> None:
        super().__init__()
        self.inbox = inbox

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


class Listener:
    """An actor that records what it is told, and a way to wait for it."""

    def __init__(self) -> None:
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.ref: pykka.ActorRef[Any] = Recorder.start(self.inbox)

    def next(self, kind: type[Any], timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            message = self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            if isinstance(message, kind):
                return message


def _answers() -> tuple[Callable[[Any], None], Callable[[], Any]]:
    answers: queue.Queue[Any] = queue.Queue()
    return answers.put, lambda: answers.get(timeout=WAIT)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def processes(server: fakeredis.FakeServer) -> Iterator[list[RedisBackplane]]:
    """Two backplanes on one fake Redis, started; each with a directory Listener."""
    started = []
    for _ in range(2):
        client = fakeredis.FakeRedis(server=server)
        backplane = RedisBackplane("redis://fake", lease=LEASE, client=client)
        backplane.start(Listener().ref)
        started.append(backplane)
    try:
        yield started
    finally:
        for backplane in started:
            backplane.stop()
        actornet.stop_all()


@pytest.mark.parametrize(
    ("event", "rooms"),
    [
        (MemberJoined("#a", "ann"), ()),
        (MemberLeft("#a", "ann", "bye"), ()),
        (MemberQuit("#a", "ann", "gone"), ("#a", "#b")),
        (NickChange("#a", "ann", "anna"), ("#a",)),
        (MessageSaid("#a", "ann", "hi ☃", 12, notice=True), ()),
        (TopicIs("#a", "the topic", "ann", 34), ()),
    ],
)
def test_every_room_event_survives_the_codec(event: Any, rooms: tuple[str, ...]) -> None:
    encoded = encode_events("p1", [(event, rooms), (event, ())])
    assert decode_events(encoded) == [RemoteEvent(event, rooms, "p1"), RemoteEvent(event, (), "p1")]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'["p", [["Nope", [], []]]]',
        b'["p", [["MemberJoined", [1], []]]]',
        b'["p", [["PrivateMessage", ["a", "b", "c", 1, false], []]]]',
    ],
)
def test_what_is_not_room_events_is_refused_with_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="not"):
        decode_events(data)


def test_the_in_process_backplane_grants_every_nick_and_shares_nothing() -> None:
    backplane = InProcessBackplane()
    answer, result = _answers()
    backplane.claim_nick("ann", answer)
    assert result() is True
    assert not backplane.shared
    assert backplane.whole


def test_a_nick_is_one_processes_until_it_releases_it(processes: list[RedisBackplane]) -> None:
    first, second = processes
    answer, result = _answers()
    first.claim_nick("ann", answer)
    assert result() is True
    second.claim_nick("ann", answer)
    assert result() is False
    first.claim_nick("ann", answer)  # its own again: still granted
    assert result() is True
    first.release_nick("ann")
    first.list_members("#a", answer)  # answered after the release: one thread, in order
    result()
    second.claim_nick("ann", answer)
    assert result() is True


def test_a_dead_processes_nick_lapses_and_its_members_quit_once(
    processes: list[RedisBackplane],
) -> None:
    doomed, survivor = processes
    answer, result = _answers()
    doomed.claim_nick("ann", answer)
    assert result() is True
    rooms = [Listener(), Listener()]
    doomed.open_room("#a", "#a", Listener().ref)
    survivor.open_room("#a", "#a", rooms[0].ref)
    rooms[0].next(RoomState)
    doomed.publish("#a", MemberJoined("#a", "ann"))
    rooms[0].next(RemoteEventsWaiting)
    assert survivor.take_events("#a") == [RemoteEvent(MemberJoined("#a", "ann"), (), doomed.owner)]
    # The process dies: its threads stop and nothing is freed.
    doomed._stopping.set()
    for thread in doomed._threads:
        thread.join(WAIT)
    rooms[0].next(RemoteEventsWaiting, timeout=LEASE * 4)
    quits = survivor.take_events("#a")
    assert [remote.event for remote in quits] == [
        MemberQuit("#a", "ann", "its server stopped answering")
    ]
    survivor.claim_nick("ann", answer)
    assert result() is True


def test_a_process_hears_the_others_events_and_never_its_own(
    processes: list[RedisBackplane],
) -> None:
    first, second = processes
    rooms = [Listener(), Listener()]
    for backplane, room in zip(processes, rooms, strict=True):
        backplane.open_room("#a", "#a", room.ref)
        assert room.next(RoomState).loaded
    first.publish_lines("#a", [MessageSaid("#a", "ann", "one", 1)])
    rooms[1].next(RemoteEventsWaiting)  # "one" is in Redis before the others are sent
    second.publish_lines(
        "#a", [MessageSaid("#a", "bob", "two", 2), MessageSaid("#a", "bob", "3", 3)]
    )
    rooms[0].next(RemoteEventsWaiting)
    assert [r.event.text for r in first.take_events("#a")] == ["two", "3"]  # type: ignore[union-attr]
    assert [r.event.text for r in second.take_events("#a")] == ["one"]  # type: ignore[union-attr]
    # History and members are kept for rooms opened later.
    third = Listener()
    second.close_room("#a")
    second.open_room("#a", "#A", third.ref)
    state = third.next(RoomState)
    assert [line[1] for line in state.history] == ["one", "two", "3"]
    assert state.name == "#a"


def test_events_for_a_room_that_is_behind_are_dropped_beyond_the_bound(
    processes: list[RedisBackplane], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_backplane, "MAX_WAITING_EVENTS", 3)
    first, second = processes
    room = Listener()
    second.open_room("#a", "#a", room.ref)
    room.next(RoomState)
    first.open_room("#a", "#a", Listener().ref)
    for number in range(5):
        first.publish_lines("#a", [MessageSaid("#a", "ann", str(number), number)])
    first.publish_lines("#a", [MessageSaid("#a", "ann", str(n), n) for n in range(5, 10)])
    deadline = time.monotonic() + WAIT
    while second.dropped_events < 7:
        assert time.monotonic() < deadline, second.dropped_events
        time.sleep(0.01)
    assert [r.event.text for r in second.take_events("#a")] == ["0", "1", "2"]  # type: ignore[union-attr]


def test_a_full_command_queue_fails_the_command_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backplane = RedisBackplane("redis://fake", client=fakeredis.FakeRedis())
    monkeypatch.setattr(backplane, "_commands", queue.Queue(1))  # never started: never drained
    answer, result = _answers()
    backplane.claim_nick("ann", answer)
    backplane.claim_nick("bob", answer)
    assert result() is True  # a failed claim is granted locally, as while Redis is away
    assert backplane.dropped_commands == 1


def test_a_room_nobody_holds_leaves_nothing_in_redis(
    processes: list[RedisBackplane], server: fakeredis.FakeServer
) -> None:
    first, _ = processes
    room = Listener()
    first.open_room("#a", "#a", room.ref)
    room.next(RoomState)
    first.publish("#a", MemberJoined("#a", "ann"))
    first.publish_lines("#a", [MessageSaid("#a", "ann", "kept a while", 1)])
    first.publish("#a", TopicIs("#a", "topic", "ann", 2))
    client = fakeredis.FakeRedis(server=server)
    keys = ["chat:history:#a", "chat:info:#a", "chat:members:#a"]
    deadline = time.monotonic() + WAIT
    while client.exists(*keys) < 3:  # written, and given an expiry by the next renewal
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first.publish("#a", MemberLeft("#a", "ann", "bye"))
    first.close_room("#a")
    while client.exists(*keys):
        assert time.monotonic() < deadline, client.keys()
        time.sleep(0.05)
