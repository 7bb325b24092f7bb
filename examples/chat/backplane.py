"""Backplane: what the chat's processes share, so that their rooms are one chat.

A chat process owns its connections; the backplane joins processes. The
directory and the rooms call it to publish a room event, to open a room (which
subscribes to it and loads its members, topic and history), to claim and
release a nick and to list rooms and members. It answers by telling actors, so
no actor ever waits on it.

`InProcessBackplane`, the default, shares nothing: one process is the whole
chat, as without a backplane. `examples.chat.redis_backplane.RedisBackplane`
shares rooms through Redis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from examples.chat.events import (
    MemberJoined,
    MemberLeft,
    MemberQuit,
    MessageSaid,
    NickChange,
    PrivateMessage,
    RoomSummary,
    TopicIs,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pykka

#: Seconds a process's nicks, memberships and rooms outlive its last refresh, by default.
DEFAULT_LEASE = 15.0

#: What a room publishes, and hears from the other processes.
RoomEvent = MemberJoined | MemberLeft | MemberQuit | NickChange | MessageSaid | TopicIs

_ROOM_EVENTS = (MemberJoined, MemberLeft, MemberQuit, NickChange, MessageSaid, TopicIs)
_EVENT_TYPES: dict[str, type[RoomEvent | PrivateMessage]] = {
    cls.__name__: cls for cls in (*_ROOM_EVENTS, PrivateMessage)
}


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """A room event that another process published.

    `rooms` are the keys of every room the user concerned is in, for a nick
    change or a quit, as in `room.Exit`; `origin` names the publishing process
    ("" for an event no process made, such as a quit for a lapsed lease).
    """

    event: RoomEvent
    rooms: tuple[str, ...] = ()
    origin: str = ""


@dataclass(frozen=True, slots=True)
class RoomState:
    """Told to a room that opened or became whole again: what the other processes hold.

    `members` are the nicks in the room on other processes; `history` the
    room's latest lines, oldest first, as (nick, text, time_ms). `loaded` is
    False when the backplane could not answer (it is split): the room then
    starts from what this process knows.
    """

    members: tuple[str, ...] = ()
    #: The room's name as the process that made it first spelled it ("" if unknown).
    name: str = ""
    topic: str = ""
    set_by: str = ""
    topic_ms: int = 0
    history: tuple[tuple[str, str, int], ...] = ()
    loaded: bool = True


@dataclass(frozen=True, slots=True)
class PrivateArrived:
    """Told to the directory: another process's user sent `message` to a user of this one."""

    message: PrivateMessage


class RemoteEventsWaiting:
    """Told to a room: events from other processes wait in `Backplane.take_events`."""


@dataclass(frozen=True, slots=True)
class Split:
    """Told to the directory, which tells every room: other processes can't be reached."""

    reason: str


class Whole:
    """Told to the directory, which tells every room: the chat is one again."""


def encode_events(
    origin: str, events: Sequence[tuple[RoomEvent | PrivateMessage, tuple[str, ...]]]
) -> bytes:
    """Encode room events (or a private message) once, for every process that hears them.

    Each event goes with the `rooms` of `RemoteEvent`. The encoding starts
    with `origin_prefix(origin)`, so a process can skip its own without decoding.
    """
    items = [
        [type(event).__name__, [getattr(event, f.name) for f in fields(event)], list(rooms)]
        for event, rooms in events
    ]
    return json.dumps([origin, items], ensure_ascii=False).encode()


def origin_prefix(origin: str) -> bytes:
    """Return how everything `encode_events` makes for `origin` starts."""
    return json.dumps([origin, []], ensure_ascii=False).encode()[:-3]


def decode_events(data: bytes) -> list[RemoteEvent]:
    """Decode the room events that `encode_events` made; ValueError if they are not that."""
    origin, items = _decode(data)
    remote = []
    for event, rooms in items:
        if not isinstance(event, _ROOM_EVENTS):
            raise ValueError(f"not a room event (a {type(event).__name__}): {data[:80]!r}")  # noqa: TRY004
        remote.append(RemoteEvent(event, rooms, origin))
    return remote


def decode_private(data: bytes) -> PrivateMessage:
    """Decode the private message that `encode_events` made; ValueError if it is not one."""
    _, items = _decode(data)
    if len(items) != 1 or not isinstance(event := items[0][0], PrivateMessage):
        raise ValueError(f"not one private message: {data[:80]!r}")
    return event


def _decode(
    data: bytes,
) -> tuple[str, list[tuple[RoomEvent | PrivateMessage, tuple[str, ...]]]]:
    try:
        origin, items = json.loads(data)
        events = [
            (_EVENT_TYPES[kind](*values), tuple(str(room) for room in rooms))
            for kind, values, rooms in items
        ]
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"not chat events ({exc!r}): {data[:80]!r}") from exc
    return str(origin), events


class Backplane:
    """The seam between the chat and its other processes; this base shares nothing.

    Every method returns at once and is safe to call from any thread. Answers
    (`answer` callbacks) may run on a backplane thread: they must only tell
    actors or deliver to a `Member` (which any thread may). Subclasses that
    share set `shared`.
    """

    #: Whether other processes take part (the directory and rooms then wait for answers).
    shared = False
    #: Where rooms live, for the start-up line.
    description = "in this process"
    #: Seconds after `Whole` by which every process has told the backplane what it holds.
    settle_seconds = 0.0

    @property
    def whole(self) -> bool:
        """Whether every other process can be reached now."""
        return True

    def start(self, directory_ref: pykka.ActorRef[Any]) -> None:
        """Start; `directory_ref` hears `Split`, `Whole` and `PrivateArrived`."""

    def stop(self) -> None:
        """Stop, releasing what this process holds where others would see it."""

    def claim_nick(self, key: str, answer: Callable[[bool], None]) -> None:  # noqa: ARG002
        """Claim the nick with key `key` for this process; `answer` hears whether it is ours."""
        answer(True)  # noqa: FBT003 - the nick is ours

    def release_nick(self, key: str) -> None:
        """Give up the nick with key `key`."""

    def open_room(self, key: str, name: str, room_ref: pykka.ActorRef[Any]) -> None:
        """Subscribe `room_ref` to room `key`: it hears `RoomState`, then `RemoteEventsWaiting`."""

    def reload_room(self, key: str) -> None:
        """Tell the open room `key` a fresh `RoomState` (after `Whole`)."""

    def close_room(self, key: str) -> None:
        """Unsubscribe from room `key` (this process has no member left in it)."""

    def publish(self, key: str, event: RoomEvent, rooms: tuple[str, ...] = ()) -> None:
        """Tell the other processes' room `key` of `event`, and record what it changes."""

    def publish_lines(self, key: str, lines: list[MessageSaid]) -> None:
        """Tell the other processes' room `key` of lines said here, in order, and keep them."""

    def send_private(
        self,
        key: str,  # noqa: ARG002 - no other process has users
        message: PrivateMessage,  # noqa: ARG002
        answer: Callable[[bool], None],
    ) -> None:
        """Send `message` to the process whose user has the nick with key `key`.

        `answer` hears whether a process took it; that process's directory
        hears `PrivateArrived`.
        """
        answer(False)  # noqa: FBT003 - nobody else to take it

    def find_nick(
        self,
        key: str,  # noqa: ARG002 - no other process has users
        answer: Callable[[bool], None],
    ) -> None:
        """Answer whether a user of any process has the nick with key `key`."""
        answer(False)  # noqa: FBT003 - nobody else has nicks

    def take_events(self, key: str) -> list[RemoteEvent]:  # noqa: ARG002
        """Return, oldest first, and forget the events waiting for room `key`."""
        return []

    def list_rooms(self, answer: Callable[[list[RoomSummary] | None], None]) -> None:
        """Answer every room of the chat, or None to mean "only this process's rooms"."""
        answer(None)

    def list_members(
        self,
        key: str,  # noqa: ARG002 - this process knows its rooms' members
        answer: Callable[[list[str] | None], None],
    ) -> None:
        """Answer the nicks in room `key` on every process, or None as in `list_rooms`."""
        answer(None)


class InProcessBackplane(Backplane):
    """The default: one process is the whole chat, and nothing is shared."""
