"""Directory: the actor that owns nicks and rooms, and counts what the chat does."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import rules
from examples.chat.events import (
    IsAway,
    MembersAre,
    MembersDone,
    PrivateMessage,
    Refusal,
    Refused,
    RoomListDone,
    RoomSummary,
    UserInfo,
)
from examples.chat.limits import ChatLimits
from examples.chat.room import (
    Enter,
    HistoryShare,
    JoinRefused,
    Report,
    Room,
    RoomChanged,
    SendNames,
    now_ms,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka

    from examples.chat.events import Member

logger = logging.getLogger("examples.chat")


@dataclass(frozen=True, slots=True)
class Register:
    """Claim `nick` for `member`; the session hears `NickGranted` or nothing."""

    member: Member
    nick: str
    session_ref: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class Unregister:
    """Free the member's nick (it disconnected)."""

    member: Member


@dataclass(frozen=True, slots=True)
class NickGranted:
    """Told to a session: `nick` is now its nick (`old` is "" on registration)."""

    old: str
    nick: str


@dataclass(frozen=True, slots=True)
class NickRefused:
    """Told to a session: another member holds `nick`."""

    nick: str


@dataclass(frozen=True, slots=True)
class JoinRoom:
    """Put `member` (as `nick`) in the room, creating it if needed."""

    member: Member
    nick: str
    room: str
    session_ref: pykka.ActorRef[Any]


@dataclass(frozen=True, slots=True)
class WhisperTo:
    """Deliver a private message from `member` (as `sender`) to nick `to`."""

    member: Member
    sender: str
    to: str
    text: str
    notice: bool = False


@dataclass(frozen=True, slots=True)
class ListRoomsFor:
    """Send `member` the room list."""

    member: Member


@dataclass(frozen=True, slots=True)
class NamesFor:
    """Send `member` the members of `room`, joined or not, carrying `tag`."""

    member: Member
    room: str
    tag: str = ""


@dataclass(frozen=True, slots=True)
class LookUp:
    """Send `member` a `UserInfo` about `nick`: the nick's session is asked (`DescribeTo`)."""

    member: Member
    nick: str
    tag: str


@dataclass(frozen=True, slots=True)
class DescribeTo:
    """Told to a session: send `member` a `UserInfo` about this session's user, asked as `nick`."""

    member: Member
    nick: str
    tag: str


class StatsTick:
    """Time to log the chat's figures."""


@dataclass
class _RoomEntry:
    name: str
    ref: pykka.ActorRef[Room]
    members: int = 0
    topic: str = ""
    entries_sent: int = 0
    entries_seen: int = 0
    said: int = 0


@dataclass
class ChatStatistics:
    """What the chat has done and holds, for the periodic log line and /metrics.

    Written by the directory only; other threads read single fields (an int
    read is atomic), so a reader sees each figure as of some recent turn.
    """

    registrations: int = 0
    #: Users with a nick now.
    registered: int = 0
    #: Rooms now.
    rooms: int = 0
    #: Members of all rooms now (a user in three rooms counts three times),
    #: as the rooms last reported.
    memberships: int = 0
    #: Messages said in rooms that no longer exist.
    retired_said: int = 0
    last_said: int = field(default=0, repr=False)


class Directory(actornet.Actor):
    """Owns the nick table and the room table; creates rooms and retires empty ones.

    It also shares `limits.total_history_bytes` among the rooms. While there
    are at most 2**level rooms, each keeps `limits.history_share(level)` bytes,
    so together they keep at most the total. The level rises as soon as the
    rooms outgrow it and falls only once they fit in a quarter of it, so each
    `HistoryShare` sent to every room follows at least 2**(level - 2) room
    creations or retirements: a few messages per room created or retired,
    amortised. The default limits keep every room at its full share up to
    2,048 rooms, so the level moves but no share changes below that.
    """

    def __init__(
        self,
        *,
        stats_interval: float | None = None,
        connection_count: Callable[[], int] | None = None,
        stats: ChatStatistics | None = None,
        limits: ChatLimits | None = None,
    ) -> None:
        super().__init__()
        self.limits = limits if limits is not None else ChatLimits()
        self.nicks: dict[str, Member] = {}
        self.names: dict[Member, str] = {}
        #: The session of each member with a nick, which answers questions about its user.
        self.sessions: dict[Member, pykka.ActorRef[Any]] = {}
        self.rooms: dict[str, _RoomEntry] = {}
        #: Rooms share the history as if there were 2**history_level of them.
        self.history_level = 0
        self.stats = stats if stats is not None else ChatStatistics()
        self.stats_interval = stats_interval
        self.connection_count = connection_count

    def on_start(self) -> None:
        """Start the periodic statistics line."""
        if self.stats_interval:
            self.tell_later(self.stats_interval, StatsTick())

    def on_stop(self) -> None:
        """Stop every room."""
        for entry in self.rooms.values():
            entry.ref.stop(block=False)

    def on_receive(self, message: Any) -> None:  # noqa: C901, PLR0912 - one branch per command
        """Apply one command."""
        if isinstance(message, WhisperTo):
            self._whisper(message)
        elif isinstance(message, Register):
            self._register(message)
        elif isinstance(message, Unregister):
            nick = self.names.pop(message.member, None)
            self.sessions.pop(message.member, None)
            if nick is not None:
                self.nicks.pop(rules.key(nick), None)
        elif isinstance(message, JoinRoom):
            self._join(message)
        elif isinstance(message, RoomChanged):
            self._room_changed(message)
        elif isinstance(message, ListRoomsFor):
            for entry in sorted(self.rooms.values(), key=lambda e: rules.key(e.name)):
                message.member.deliver(RoomSummary(entry.name, entry.members, entry.topic))
            message.member.deliver(RoomListDone(len(self.rooms)))
        elif isinstance(message, NamesFor):
            room = self.rooms.get(rules.key(message.room))
            if room is None:
                message.member.deliver(MembersAre(message.room, (), message.tag))
                message.member.deliver(MembersDone(message.room, 0, message.tag))
            else:
                actornet.tell_or_drop(room.ref, SendNames(message.member, message.tag))
        elif isinstance(message, LookUp):
            self._look_up(message)
        elif isinstance(message, StatsTick):
            self._log_stats()
        else:
            super().on_receive(message)
        self.stats.registered = len(self.names)
        self.stats.rooms = len(self.rooms)

    def _register(self, message: Register) -> None:
        key = rules.key(message.nick)
        holder = self.nicks.get(key)
        if holder is not None and holder is not message.member:
            actornet.tell_or_drop(message.session_ref, NickRefused(message.nick))
            return
        old = self.names.get(message.member, "")
        if old:
            self.nicks.pop(rules.key(old), None)
        else:
            self.stats.registrations += 1
        self.nicks[key] = message.member
        self.names[message.member] = message.nick
        self.sessions[message.member] = message.session_ref
        actornet.tell_or_drop(message.session_ref, NickGranted(old, message.nick))

    def _join(self, message: JoinRoom) -> None:
        key = rules.key(message.room)
        entry = self.rooms.get(key)
        if entry is None:
            if len(self.rooms) >= self.limits.max_rooms:
                refused = JoinRefused(
                    message.room,
                    Refusal.SERVER_FULL,
                    f"the server has {len(self.rooms)} rooms, the most it holds; "
                    "join a room that exists (ListRooms) or try again later",
                )
                actornet.tell_or_drop(message.session_ref, refused)
                return
            self._fit_history(len(self.rooms) + 1)
            ref = Room.start(
                message.room,
                key,
                self.actor_ref,
                limits=self.limits,
                history_size=self.limits.history_share(self.history_level),
            )
            entry = self.rooms[key] = _RoomEntry(message.room, ref)
        entry.entries_sent += 1
        enter = Enter(message.member, message.nick, message.session_ref)
        actornet.tell_or_drop(entry.ref, enter)

    def _room_changed(self, message: RoomChanged) -> None:
        entry = self.rooms.get(message.key)
        if entry is None:
            return
        self.stats.memberships += message.members - entry.members
        entry.members, entry.topic, entry.entries_seen, entry.said = (
            message.members,
            message.topic,
            message.entries,
            message.said,
        )
        # Retire a room only if no join is on its way to it.
        if entry.members == 0 and entry.entries_seen == entry.entries_sent:
            del self.rooms[message.key]
            self.stats.retired_said += entry.said
            entry.ref.stop(block=False)
            self._fit_history(len(self.rooms))

    def _fit_history(self, rooms: int) -> None:
        """Move the history level to suit `rooms` rooms; tell every room a changed share."""
        level = self.history_level
        while rooms > 1 << level:
            level += 1
        while level > 0 and 4 * rooms <= 1 << level:
            level -= 1
        if level == self.history_level:
            return
        old = self.limits.history_share(self.history_level)
        self.history_level = level
        share = self.limits.history_share(level)
        if share != old:
            for entry in self.rooms.values():
                actornet.tell_or_drop(entry.ref, HistoryShare(share))

    def _whisper(self, message: WhisperTo) -> None:
        target = self.nicks.get(rules.key(message.to))
        if target is None:
            message.member.deliver(
                Refused(Refusal.NO_SUCH_NICK, message.to, f"nobody is called {message.to}")
            )
            return
        event = PrivateMessage(
            message.sender, self.names[target], message.text, now_ms(), message.notice
        )
        target.deliver(event)
        if target is not message.member and message.member.echo:
            message.member.deliver(event)
        if target.away and not message.notice:
            message.member.deliver(IsAway(self.names[target], target.away))

    def _look_up(self, message: LookUp) -> None:
        target = self.nicks.get(rules.key(message.nick))
        session_ref = self.sessions.get(target) if target is not None else None
        asking = DescribeTo(message.member, message.nick, message.tag)
        if session_ref is None or not actornet.tell_or_drop(session_ref, asking):
            message.member.deliver(UserInfo(message.nick, found=False, tag=message.tag))

    def _log_stats(self) -> None:
        stats = self.stats
        assert self.stats_interval is not None
        # Room counts lag by one interval: each room reports when asked below.
        said = stats.retired_said + sum(entry.said for entry in self.rooms.values())
        rate = (said - stats.last_said) / self.stats_interval
        stats.last_said = said
        for entry in self.rooms.values():
            actornet.tell_or_drop(entry.ref, Report())
        connections = self.connection_count() if self.connection_count else len(self.names)
        logger.info(
            "stats: %d connections, %d registered, %d rooms, %.1f messages/s, "
            "%d live actors, %d threads",
            connections,
            len(self.names),
            len(self.rooms),
            rate,
            actornet.live_actor_count(),
            threading.active_count(),
        )
        self.tell_later(self.stats_interval, StatsTick())
