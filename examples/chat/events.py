"""What the chat tells its members, independent of any wire format.

A protocol renders each event into its own frames (`Member.render`). Rooms
broadcast an event by rendering it once per protocol and handing the same bytes
to every member that speaks it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import actornet


class Refusal(enum.Enum):
    """Why the chat refused a command; protocols map these to their own codes."""

    NOT_REGISTERED = "register a nick first"
    INVALID_NICK = "invalid nick"
    NICK_IN_USE = "nick in use"
    INVALID_ROOM = "invalid room name"
    NOT_IN_ROOM = "not in that room"
    NO_SUCH_NICK = "no such nick"
    INVALID_TEXT = "invalid text"
    RATE_LIMITED = "too many commands; slow down"
    TOO_MANY_ROOMS = "in too many rooms"
    SERVER_FULL = "too many rooms on the server"
    ROOM_FULL = "the room is full"


@dataclass(frozen=True, slots=True)
class Welcomed:
    """The user is registered as `nick` on the server called `server`."""

    nick: str
    server: str


@dataclass(frozen=True, slots=True)
class MemberJoined:
    """`nick` joined `room`."""

    room: str
    nick: str


@dataclass(frozen=True, slots=True)
class MemberLeft:
    """`nick` left `room`."""

    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class MemberQuit:
    """`nick` disconnected while in `room`."""

    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True)
class NickChange:
    """A member of `room` changed nick; `room` is "" when sent to a user in no room."""

    room: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class MessageSaid:
    """`nick` said `text` in `room`; `replay` marks history sent on join."""

    room: str
    nick: str
    text: str
    time_ms: int
    replay: bool = False


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """A message from `sender` to `to`."""

    sender: str
    to: str
    text: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class TopicIs:
    """The topic of `room`, and who set it ("" if nobody)."""

    room: str
    topic: str
    set_by: str


@dataclass(frozen=True, slots=True)
class MembersAre:
    """Some or all members of `room`."""

    room: str
    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MembersDone:
    """The end of a member list of `room`: `count` nicks in all."""

    room: str
    count: int


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """One room of a room list."""

    room: str
    members: int
    topic: str


@dataclass(frozen=True, slots=True)
class RoomListDone:
    """The end of a room list of `count` rooms."""

    count: int


@dataclass(frozen=True, slots=True)
class Refused:
    """A command was refused; `subject` is the nick or room concerned, or ""."""

    refusal: Refusal
    subject: str
    detail: str


@dataclass(frozen=True, slots=True)
class ServerNotice:
    """Text from the server itself."""

    text: str


ChatEvent = (
    Welcomed
    | MemberJoined
    | MemberLeft
    | MemberQuit
    | NickChange
    | MessageSaid
    | PrivateMessage
    | TopicIs
    | MembersAre
    | MembersDone
    | RoomSummary
    | RoomListDone
    | Refused
    | ServerNotice
)

#: Turns a chat event into frames of one protocol (b"" if it has no rendering).
Renderer = Callable[[ChatEvent], bytes]


class Member:
    """How the chat reaches one connected user, whatever protocol they speak.

    Shared by the user's session, the directory and the rooms; hashed by
    identity. Delivery never raises: frames for a closed connection are dropped.
    """

    __slots__ = ("outbox", "peer", "render")

    def __init__(self, outbox: actornet.Outbox, render: Renderer) -> None:
        self.outbox = outbox
        #: The protocol's renderer; rooms cache one rendering per renderer.
        self.render = render
        self.peer = outbox.peer

    def __repr__(self) -> str:
        return f"<Member at {self.peer}>"

    def deliver(self, event: ChatEvent) -> None:
        """Render the event for this member's protocol and queue it."""
        frame = self.render(event)
        if frame:
            self.outbox.send_frame(frame)


def broadcast(event: ChatEvent, members: list[Member]) -> None:
    """Deliver one event to many members, rendering it once per protocol."""
    rendered: dict[Renderer, bytes] = {}
    for member in members:
        render = member.render
        frame = rendered.get(render)
        if frame is None:
            frame = rendered[render] = render(event)
        if frame:
            member.outbox.send_frame(frame)
