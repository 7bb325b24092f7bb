"""Directory: the actor that owns nicks and rooms, and counts what the chat does."""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import rules
from examples.chat.backplane import Backplane, InProcessBackplane, PrivateArrived, Split, Whole
from examples.chat.events import (
    IsAway,
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
    send_names,
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


@dataclass(frozen=True, slots=True)
class _NickClaimed:
    """The backplane answered a claim: whether `claim.nick` is this process's."""

    claim: Register
    granted: bool


@dataclass(frozen=True, slots=True)
class _RoomsListed:
    """The backplane answered `ListRoomsFor`: every room of the chat, or None (it is split)."""

    member: Member
    rooms: list[RoomSummary] | None


@dataclass(frozen=True, slots=True)
class _PrivateSent:
    """The backplane answered `WhisperTo` for a nick not here: whether a process took it."""

    asked: WhisperTo
    message: PrivateMessage
    sent: bool


@dataclass(frozen=True, slots=True)
class _MembersListed:
    """The backplane answered `NamesFor` for a room with no member here."""

    asked: NamesFor
    nicks: list[str] | None


_FROM_BACKPLANE = (_NickClaimed, _RoomsListed, _MembersListed, _PrivateSent, PrivateArrived)


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

    With a shared `backplane` a nick is granted once the backplane grants it
    too, the room list and the members of rooms with nobody here come from
    the backplane, and `Split` and `Whole` go on to every room.
    """

    def __init__(
        self,
        *,
        stats_interval: float | None = None,
        connection_count: Callable[[], int] | None = None,
        stats: ChatStatistics | None = None,
        limits: ChatLimits | None = None,
        backplane: Backplane | None = None,
    ) -> None:
        super().__init__()
        self.limits = limits if limits is not None else ChatLimits()
        self.backplane = backplane if backplane is not None else InProcessBackplane()
        #: Nicks being claimed from the backplane, by key: the claim, or None once
        #: its member is gone.
        self.claiming: dict[str, Register | None] = {}
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

    def on_receive(self, message: Any) -> None:  # noqa: C901 - one branch per command
        """Apply one command."""
        if isinstance(message, WhisperTo):
            self._whisper(message)
        elif isinstance(message, Register):
            self._register(message)
        elif isinstance(message, Unregister):
            self._unregister(message.member)
        elif isinstance(message, JoinRoom):
            self._join(message)
        elif isinstance(message, RoomChanged):
            self._room_changed(message)
        elif isinstance(message, ListRoomsFor):
            self._list_rooms(message.member)
        elif isinstance(message, NamesFor):
            self._names(message)
        elif isinstance(message, LookUp):
            self._look_up(message)
        elif isinstance(message, StatsTick):
            self._log_stats()
        elif isinstance(message, _FROM_BACKPLANE):
            self._hear_backplane(message)
        elif isinstance(message, Split | Whole):
            self._split_or_whole(message)
        else:
            super().on_receive(message)
        self.stats.registered = len(self.names)
        self.stats.rooms = len(self.rooms)

    def _register(self, message: Register) -> None:
        key = rules.key(message.nick)
        holder = self.nicks.get(key)
        if (holder is not None and holder is not message.member) or key in self.claiming:
            actornet.tell_or_drop(message.session_ref, NickRefused(message.nick))
            return
        if holder is None and self.backplane.shared:
            self.claiming[key] = message
            self.backplane.claim_nick(
                key, lambda granted: self._tell_self(_NickClaimed(message, granted))
            )
            return
        self._grant(message)

    def _grant(self, message: Register) -> None:
        key = rules.key(message.nick)
        old = self.names.get(message.member, "")
        if old:
            self.nicks.pop(rules.key(old), None)
            if rules.key(old) != key:
                self.backplane.release_nick(rules.key(old))
        else:
            self.stats.registrations += 1
        self.nicks[key] = message.member
        self.names[message.member] = message.nick
        self.sessions[message.member] = message.session_ref
        actornet.tell_or_drop(message.session_ref, NickGranted(old, message.nick))

    def _unregister(self, member: Member) -> None:
        nick = self.names.pop(member, None)
        self.sessions.pop(member, None)
        if nick is not None:
            self.nicks.pop(rules.key(nick), None)
            self.backplane.release_nick(rules.key(nick))
        for key, claim in self.claiming.items():
            if claim is not None and claim.member is member:
                self.claiming[key] = None

    def _tell_self(self, message: object) -> None:
        """Tell this directory `message` (from a backplane thread: nothing else is touched)."""
        actornet.tell_or_drop(self.actor_ref, message)

    def _hear_backplane(
        self,
        message: _NickClaimed | _RoomsListed | _MembersListed | _PrivateSent | PrivateArrived,
    ) -> None:
        if isinstance(message, PrivateArrived):
            self._private_arrived(message.message)
        elif isinstance(message, _PrivateSent):
            whisper = message.asked
            if not message.sent:
                self._no_such_nick(whisper.member, whisper.to)
            elif whisper.member.echo:
                whisper.member.deliver(message.message)
        elif isinstance(message, _NickClaimed):
            self._nick_claimed(message)
        elif isinstance(message, _RoomsListed):
            if message.rooms is None:
                self._list_rooms(message.member, local=True)
            else:
                _send_room_list(message.member, message.rooms)
        else:
            names = message.asked
            send_names(names.member, names.room, message.nicks or [], names.tag)

    def _nick_claimed(self, message: _NickClaimed) -> None:
        key = rules.key(message.claim.nick)
        claim = self.claiming.pop(key, None)
        if not message.granted:
            if claim is not None:
                actornet.tell_or_drop(claim.session_ref, NickRefused(claim.nick))
        elif claim is None:  # its member left while the claim was on its way
            self.backplane.release_nick(key)
        else:
            self._grant(claim)

    def _list_rooms(self, member: Member, *, local: bool = False) -> None:
        if self.backplane.shared and not local:
            self.backplane.list_rooms(lambda rooms: self._tell_self(_RoomsListed(member, rooms)))
            return
        rooms = [RoomSummary(e.name, e.members, e.topic) for e in self.rooms.values()]
        _send_room_list(member, rooms)

    def _names(self, message: NamesFor) -> None:
        key = rules.key(message.room)
        room = self.rooms.get(key)
        if room is not None:
            actornet.tell_or_drop(room.ref, SendNames(message.member, message.tag))
        elif self.backplane.shared:
            self.backplane.list_members(
                key, lambda nicks: self._tell_self(_MembersListed(message, nicks))
            )
        else:
            send_names(message.member, message.room, [], message.tag)

    def _split_or_whole(self, message: Split | Whole) -> None:
        for entry in self.rooms.values():
            actornet.tell_or_drop(entry.ref, message)

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
                backplane=self.backplane,
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
        if target is None and self.backplane.shared:
            event = PrivateMessage(
                message.sender, message.to, message.text, now_ms(), message.notice
            )
            self.backplane.send_private(
                rules.key(message.to),
                event,
                lambda sent: self._tell_self(_PrivateSent(message, event, sent)),
            )
            return
        if target is None:
            self._no_such_nick(message.member, message.to)
            return
        event = PrivateMessage(
            message.sender, self.names[target], message.text, now_ms(), message.notice
        )
        target.deliver(event)
        if target is not message.member and message.member.echo:
            message.member.deliver(event)
        if target.away and not message.notice:
            message.member.deliver(IsAway(self.names[target], target.away))

    def _no_such_nick(self, member: Member, nick: str) -> None:
        member.deliver(Refused(Refusal.NO_SUCH_NICK, nick, f"nobody is called {nick}"))

    def _private_arrived(self, event: PrivateMessage) -> None:
        """Deliver a private message from another process's user, if its recipient is still here."""
        target = self.nicks.get(rules.key(event.to))
        if target is not None:
            target.deliver(dataclasses.replace(event, to=self.names[target]))

    def _look_up(self, message: LookUp) -> None:
        target = self.nicks.get(rules.key(message.nick))
        session_ref = self.sessions.get(target) if target is not None else None
        asking = DescribeTo(message.member, message.nick, message.tag)
        if session_ref is not None and actornet.tell_or_drop(session_ref, asking):
            return
        if target is None and self.backplane.shared:
            # Another process's user: the chat knows it exists, not its rooms or away message.
            self.backplane.find_nick(
                rules.key(message.nick),
                lambda found: message.member.deliver(
                    UserInfo(message.nick, found=found, tag=message.tag)
                ),
            )
            return
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


def _send_room_list(member: Member, rooms: list[RoomSummary]) -> None:
    """Send `member` the rooms, by name, and the `RoomListDone` that ends them."""
    for summary in sorted(rooms, key=lambda summary: rules.key(summary.room)):
        member.deliver(summary)
    member.deliver(RoomListDone(len(rooms)))
