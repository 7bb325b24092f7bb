"""Room: an actor that owns its members, topic and history, and broadcasts."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat.events import (
    MemberJoined,
    MemberLeft,
    MemberQuit,
    MembersAre,
    MembersDone,
    MessageSaid,
    NickChange,
    Refusal,
    TopicIs,
    broadcast,
    broadcast_lines,
)
from examples.chat.limits import DEFAULT_HISTORY_LINES, ChatLimits, line_bytes

if TYPE_CHECKING:
    import pykka

    from examples.chat.events import Member

#: Messages kept per room and replayed to each member who joins, by default.
HISTORY_LENGTH = DEFAULT_HISTORY_LINES

#: Nicks per MembersAre event, so a big room's list fits in a frame.
NAMES_PER_EVENT = 200


@dataclass(frozen=True, slots=True)
class Enter:
    """Add `member` as `nick`; `session_ref` hears `EnteredRoom`."""

    member: Member
    nick: str
    session_ref: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class Exit:
    """Remove `member`, telling the others it left (or quit, if `quit`).

    `rooms` are the keys of every room the quitter is in, in the order they announce it.
    """

    member: Member
    reason: str
    quit: bool
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SayIn:
    """`member` says `text` (`notice`: see `events.MessageSaid`)."""

    member: Member
    text: str
    notice: bool = False


@dataclass(frozen=True, slots=True)
class Rename:
    """`member` is now called `new`; `rooms` as in `Exit`."""

    member: Member
    new: str
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeTopic:
    """`member` sets the topic."""

    member: Member
    topic: str


@dataclass(frozen=True, slots=True)
class SendNames:
    """Send the member list to `member` (who need not be in the room), carrying `tag`."""

    member: Member
    tag: str = ""


@dataclass(frozen=True, slots=True)
class SendTopic:
    """Send the topic to `member`."""

    member: Member


class Report:
    """Send the directory a `RoomChanged`, for its statistics."""


@dataclass(frozen=True, slots=True)
class HistoryShare:
    """Keep at most `size` bytes of history from now on (the directory's share for each room)."""

    size: int


@dataclass(frozen=True, slots=True)
class EnteredRoom:
    """Told to a session: it is in `room` (its display name), reachable at `room_ref`."""

    room: str
    room_ref: pykka.ActorRef[Room]


@dataclass(frozen=True, slots=True)
class JoinRefused:
    """Told to a session: its join of `room` was refused, for `refusal`; `detail` says why."""

    room: str
    refusal: Refusal
    detail: str


@dataclass(frozen=True, slots=True)
class RoomChanged:
    """Told to the directory after each change: what a room list shows."""

    key: str
    members: int
    topic: str
    entries: int
    said: int


def now_ms() -> int:
    """Return Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


class Room(actornet.Actor):
    """One chat room: members, topic, recent history; every broadcast encoded once.

    The lines said in one turn go out together when it ends (`on_turn_end`):
    each member gets one write for all of them, in order, and anything else the
    room sends comes after the lines said before it.

    History keeps the last `limits.history_lines` lines, and only as many of
    them as fit in `history_size` bytes (`line_bytes()` each), dropping
    the oldest first; the directory lowers `history_size` when there are many
    rooms. It goes with the room, which the directory retires when it is empty.
    """

    def __init__(
        self,
        name: str,
        key: str,
        directory_ref: pykka.ActorRef[Any],
        *,
        limits: ChatLimits | None = None,
        history_size: int | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.key = key
        self.directory_ref = directory_ref
        self.limits = limits if limits is not None else ChatLimits()
        self.members: dict[Member, str] = {}
        self.topic = ""
        self.topic_by = ""
        self.topic_ms = 0
        # (nick, text, time_ms, line_bytes) per line, oldest first.
        self.history: deque[tuple[str, str, int, int]] = deque()
        #: Bytes of history kept now, and at most.
        self.history_bytes = 0
        self.history_size = self.limits.history_bytes if history_size is None else history_size
        self.entries = 0
        self.said = 0
        #: This turn's lines, not yet broadcast: (speaker, line), oldest first.
        self.lines: list[tuple[Member, MessageSaid]] = []

    def on_turn_end(self) -> None:
        """Broadcast the lines said this turn: one write per member for all of them."""
        if self.lines:
            self._broadcast_lines()

    def _broadcast_lines(self) -> None:
        lines, self.lines = self.lines, []
        broadcast_lines(lines, list(self.members))

    def on_receive(self, message: Any) -> None:  # noqa: C901, PLR0912 - one branch per command
        """Apply one command, then report the room's state to the directory."""
        if isinstance(message, SayIn):
            nick = self.members.get(message.member)
            if nick is not None:
                said = MessageSaid(self.name, nick, message.text, now_ms(), notice=message.notice)
                self.said += 1
                self._keep(nick, message.text, said.time_ms)
                self.lines.append((message.member, said))  # sent at the turn's end
            return  # membership and topic unchanged: nothing to report
        if self.lines:
            self._broadcast_lines()  # what was said before this message goes first
        if isinstance(message, HistoryShare):
            self.history_size = message.size
            self._trim()
            return
        if isinstance(message, Enter):
            self._enter(message)
        elif isinstance(message, Exit):
            self._exit(message)
        elif isinstance(message, Rename):
            old = self.members.get(message.member)
            if old is not None:
                self.members[message.member] = message.new
                change = NickChange(self.name, old, message.new)
                broadcast(change, list(self.members), announced_in=self._before(message.rooms))
        elif isinstance(message, ChangeTopic):
            nick = self.members.get(message.member)
            if nick is not None:
                # The broadcast says who set (or cleared) it; a cleared topic has no setter.
                self.topic, self.topic_by = message.topic, nick if message.topic else ""
                self.topic_ms = now_ms() if message.topic else 0
                changed = TopicIs(self.name, self.topic, nick, now_ms())
                broadcast(changed, list(self.members))
        elif isinstance(message, SendNames):
            self._send_names(message.member, message.tag)
            return
        elif isinstance(message, SendTopic):
            message.member.deliver(self._topic())
            return
        elif isinstance(message, Report):
            pass
        else:
            super().on_receive(message)
            return
        actornet.tell_or_drop(
            self.directory_ref,
            RoomChanged(self.key, len(self.members), self.topic, self.entries, self.said),
        )

    def _enter(self, message: Enter) -> None:
        self.entries += 1
        member = message.member
        if member in self.members:
            return
        if len(self.members) >= self.limits.max_members:
            refused = JoinRefused(
                self.name,
                Refusal.ROOM_FULL,
                f"{self.name} is full: it has {len(self.members)} members, the most a room "
                "may have; try again later",
            )
            actornet.tell_or_drop(message.session_ref, refused)
            return
        self.members[member] = message.nick
        broadcast(MemberJoined(self.name, message.nick), list(self.members))
        if not actornet.tell_or_drop(message.session_ref, EnteredRoom(self.name, self.actor_ref)):
            # The member's session is gone (it quit while joining): nobody will
            # ever tell us it left, so it leaves now.
            del self.members[member]
            broadcast(MemberQuit(self.name, message.nick, "disconnected"), list(self.members))
            return
        # The joiner then sees, in this order: topic, members, history.
        member.deliver(self._topic())
        self._send_names(member)
        for nick, text, time_ms, _ in self.history:
            member.deliver(MessageSaid(self.name, nick, text, time_ms, replay=True))

    def _keep(self, nick: str, text: str, time_ms: int) -> None:
        size = line_bytes(nick, text)
        self.history.append((nick, text, time_ms, size))
        self.history_bytes += size
        self._trim()

    def _trim(self) -> None:
        """Drop the oldest lines until the history fits its line and byte limits."""
        history = self.history
        while history and (
            self.history_bytes > self.history_size or len(history) > self.limits.history_lines
        ):
            self.history_bytes -= history.popleft()[3]

    def _exit(self, message: Exit) -> None:
        nick = self.members.get(message.member)
        if nick is None:
            return
        if message.quit:
            del self.members[message.member]
            quit_ = MemberQuit(self.name, nick, message.reason)
            broadcast(quit_, list(self.members), announced_in=self._before(message.rooms))
        else:
            broadcast(MemberLeft(self.name, nick, message.reason), list(self.members))
            del self.members[message.member]

    def _before(self, rooms: tuple[str, ...]) -> tuple[str, ...]:
        """The rooms in `rooms` that announce a change before this one."""
        return rooms[: rooms.index(self.key)] if self.key in rooms else ()

    def _topic(self) -> TopicIs:
        return TopicIs(self.name, self.topic, self.topic_by, self.topic_ms)

    def _send_names(self, member: Member, tag: str = "") -> None:
        nicks = sorted(self.members.values(), key=str.casefold)
        away = frozenset(nick for m, nick in self.members.items() if m.away) if tag else frozenset()
        for start in range(0, max(len(nicks), 1), NAMES_PER_EVENT):
            chunk = tuple(nicks[start : start + NAMES_PER_EVENT])
            member.deliver(MembersAre(self.name, chunk, tag, away & frozenset(chunk)))
        member.deliver(MembersDone(self.name, len(nicks), tag))
