"""What the chat tells its members, independent of any wire format.

A protocol renders each event into its own frames. A member has two renderers:
`Member.render` for what is sent to it alone, which may name the recipient
(IRC's numerics do), and `Member.shared` for broadcasts, which must not. Rooms
render a broadcast once per shared renderer and hand the same bytes to every
member that uses it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import actornet

logger = logging.getLogger("examples.chat")


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
    """`nick` said `text` in `room`; `replay` marks history sent on join.

    `notice` marks text a client asked not to be answered automatically (IRC's
    NOTICE); doors without the notion show it as any other line.
    """

    room: str
    nick: str
    text: str
    time_ms: int
    replay: bool = False
    notice: bool = False


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """A message from `sender` to `to` (`notice` as in `MessageSaid`)."""

    sender: str
    to: str
    text: str
    time_ms: int
    notice: bool = False


@dataclass(frozen=True, slots=True)
class TopicIs:
    """The topic of `room`, who set it ("" if nobody) and when (Unix ms, 0 if never).

    Broadcast when the topic changes; sent to one member on join and when asked.
    """

    room: str
    topic: str
    set_by: str
    time_ms: int = 0


@dataclass(frozen=True, slots=True)
class MembersAre:
    """Some or all members of `room`.

    `tag` is the one the asker gave (`commands.ListNames`), for a door to tell
    its questions apart; `away` holds those of `nicks` who are away.
    """

    room: str
    nicks: tuple[str, ...]
    tag: str = ""
    away: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MembersDone:
    """The end of a member list of `room`: `count` nicks in all (`tag` as in `MembersAre`)."""

    room: str
    count: int
    tag: str = ""


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
class UserInfo:
    """What the chat tells about the user `nick` (`commands.Lookup`).

    `found` is False when nobody has that nick; else `rooms` are the rooms
    the user is in and `away` its away message ("" if it is not away). `tag`
    is the asker's, as in `MembersAre`.
    """

    nick: str
    found: bool
    rooms: tuple[str, ...] = ()
    away: str = ""
    tag: str = ""


@dataclass(frozen=True, slots=True)
class IsAway:
    """The user `nick`, sent a private message just now, is away: `message` says why."""

    nick: str
    message: str


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
    | UserInfo
    | IsAway
    | ServerNotice
)

#: Turns a chat event into frames of one protocol (b"" if it has no rendering).
Renderer = Callable[[ChatEvent], bytes]


class Member:
    """How the chat reaches one connected user, whatever protocol they speak.

    Shared by the user's session, the directory and the rooms; hashed by
    identity. Delivery never raises: frames for a closed connection are dropped.
    The user's session may change `shared`, `echo` and `away` at any time (a
    reader in another thread sees the old value or the new one).
    """

    __slots__ = ("away", "echo", "once_per_user", "outbox", "peer", "render", "rooms", "shared")

    def __init__(
        self,
        outbox: actornet.Outbox,
        render: Renderer,
        *,
        shared: Renderer | None = None,
        echo: bool = True,
        once_per_user: bool = False,
    ) -> None:
        self.outbox = outbox
        #: Renders what is sent to this member alone.
        self.render = render
        #: Renders broadcasts; every member whose frames match shares one (rooms cache by it).
        self.shared = render if shared is None else shared
        #: Whether the member gets its own room lines and private messages back.
        self.echo = echo
        #: Whether a nick change or quit of someone sharing several rooms with this member
        #: comes once (IRC's NICK and QUIT name no room) rather than once per room.
        self.once_per_user = once_per_user
        #: The keys of the rooms the user is in (its `ChatUser` keeps them).
        self.rooms: Container[str] = ()
        #: The away message, "" while the user is not away.
        self.away = ""
        self.peer = outbox.peer

    def __repr__(self) -> str:
        return f"<Member at {self.peer}>"

    def deliver(self, event: ChatEvent) -> None:
        """Render the event for this member's protocol and queue it."""
        frame = _render(self.render, event)
        if frame:
            self.outbox.send_frame(frame)


def broadcast(
    event: ChatEvent,
    members: list[Member],
    *,
    speaker: Member | None = None,
    announced_in: Sequence[str] = (),
) -> None:
    """Deliver one event to many members, rendering it once per shared renderer.

    `speaker`, the member whose line it is, gets it only if it asked for echoes.
    `announced_in` are the keys of the rooms that announce the same nick change or
    quit before this one: a member that wants it `once_per_user` and is in one of
    them hears it there instead.
    """
    rendered: dict[Renderer, bytes] = {}
    for member in members:
        if member is speaker and not member.echo:
            continue
        if announced_in and member.once_per_user and any(k in member.rooms for k in announced_in):
            continue
        render = member.shared
        frame = rendered.get(render)
        if frame is None:
            frame = rendered[render] = _render(render, event)
        if frame:
            member.outbox.send_frame(frame)


def broadcast_lines(
    lines: Sequence[tuple[Member | None, MessageSaid]], members: list[Member]
) -> None:
    """Deliver several room lines, in order, to many members in one frame each.

    Each line is rendered once per shared renderer and the renderings are
    joined; a speaker that did not ask for echoes gets the other lines only.
    A line's speaker is None when it is not a member here (it spoke on another
    process).
    """
    if len(lines) == 1:
        speaker, line = lines[0]
        broadcast(line, members, speaker=speaker)
        return
    unechoed = {speaker for speaker, _ in lines if speaker is not None and not speaker.echo}
    rendered: dict[Renderer, list[bytes]] = {}
    joined: dict[Renderer, bytes] = {}
    for member in members:
        render = member.shared
        frames = rendered.get(render)
        if frames is None:
            frames = rendered[render] = [_render(render, line) for _, line in lines]
        if member in unechoed:
            frame = b"".join(f for (s, _), f in zip(lines, frames, strict=True) if s is not member)
        elif (shared := joined.get(render)) is not None:
            frame = shared
        else:
            frame = joined[render] = b"".join(frames)
        if frame:
            member.outbox.send_frame(frame)


def _render(render: Renderer, event: ChatEvent) -> bytes:
    """Render `event`; a renderer that fails costs only this event (logged), never the caller."""
    try:
        return render(event)
    except Exception:
        logger.exception("could not render %r with %r; the event is dropped", event, render)
        return b""
