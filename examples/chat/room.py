"""Room: an actor that owns its members, topic and history, and broadcasts."""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import rules
from examples.chat.backplane import (
    Backplane,
    InProcessBackplane,
    RemoteEvent,
    RemoteEventsWaiting,
    RoomState,
    Split,
    Whole,
)
from examples.chat.events import (
    MemberJoined,
    MemberLeft,
    MemberQuit,
    MembersAre,
    MembersDone,
    MessageSaid,
    NickChange,
    Refusal,
    ServerNotice,
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


class _Reload:
    """Time to load the room's state from the backplane again."""


_FROM_BACKPLANE = (RemoteEventsWaiting, RoomState, Split, Whole, _Reload)


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

    With a shared `backplane` the room is one of a room's copies, one per
    process that has members in it: it publishes what its members do, applies
    what the other copies publish (`members` holds this process's members,
    `remote` the others'), and holds joins until it has loaded the room's
    members, topic and history (`RoomState`).
    """

    def __init__(  # noqa: PLR0913 - what a room is, then what it shares
        self,
        name: str,
        key: str,
        directory_ref: pykka.ActorRef[Any],
        *,
        limits: ChatLimits | None = None,
        history_size: int | None = None,
        backplane: Backplane | None = None,
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
        #: This turn's lines, not yet broadcast: (speaker, line), oldest first;
        #: the speaker is None for a line said on another process.
        self.lines: list[tuple[Member | None, MessageSaid]] = []
        self.backplane = backplane if backplane is not None else InProcessBackplane()
        #: The room's members on other processes: nick by key.
        self.remote: dict[str, str] = {}
        #: Whether the room waits for its first `RoomState`, holding joins meanwhile.
        self.loading = self.backplane.shared
        self.held: list[Enter] = []

    def on_start(self) -> None:
        """Subscribe to the room's events from other processes, if any."""
        if self.backplane.shared:
            self.backplane.open_room(self.key, self.name, self.actor_ref)

    def on_stop(self) -> None:
        """Unsubscribe: this process has no member left in the room."""
        if self.backplane.shared:
            self.backplane.close_room(self.key)

    def on_turn_end(self) -> None:
        """Broadcast the lines said this turn: one write per member for all of them."""
        if self.lines:
            self._broadcast_lines()

    def _broadcast_lines(self) -> None:
        lines, self.lines = self.lines, []
        broadcast_lines(lines, list(self.members))
        if self.backplane.shared:
            said_here = [line for speaker, line in lines if speaker is not None]
            if said_here:
                self.backplane.publish_lines(self.key, said_here)

    def on_receive(self, message: Any) -> None:  # noqa: C901, PLR0912 - one branch per command
        """Apply one command, then report the room's state to the directory."""
        if isinstance(message, SayIn):
            nick = self.members.get(message.member)
            if nick is not None:
                said = MessageSaid(self.name, nick, message.text, now_ms(), notice=message.notice)
                self.said += 1
                self._keep(nick, message.text, said.time_ms)
                self.lines.append((message.member, said))  # sent (and published) at the turn's end
            return  # membership and topic unchanged: nothing to report
        if isinstance(message, _FROM_BACKPLANE):
            self._hear_backplane(message)
            return
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
                self.backplane.publish(self.key, change, message.rooms)
        elif isinstance(message, ChangeTopic):
            nick = self.members.get(message.member)
            if nick is not None:
                # The broadcast says who set (or cleared) it; a cleared topic has no setter.
                self.topic, self.topic_by = message.topic, nick if message.topic else ""
                self.topic_ms = now_ms() if message.topic else 0
                changed = TopicIs(self.name, self.topic, nick, now_ms())
                broadcast(changed, list(self.members))
                self.backplane.publish(self.key, changed)
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
        self._report()

    def _report(self) -> None:
        actornet.tell_or_drop(
            self.directory_ref,
            RoomChanged(self.key, len(self.members), self.topic, self.entries, self.said),
        )

    def _enter(self, message: Enter) -> None:
        if self.loading:
            self.held.append(message)
            return
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
        joined = MemberJoined(self.name, message.nick)
        broadcast(joined, list(self.members))
        self.backplane.publish(self.key, joined)
        if not actornet.tell_or_drop(message.session_ref, EnteredRoom(self.name, self.actor_ref)):
            # The member's session is gone (it quit while joining): nobody will
            # ever tell us it left, so it leaves now.
            del self.members[member]
            quit_ = MemberQuit(self.name, message.nick, "disconnected")
            broadcast(quit_, list(self.members))
            self.backplane.publish(self.key, quit_)
            return
        # The joiner then sees, in this order: topic, members, history.
        member.deliver(self._topic())
        self._send_names(member)
        for nick, text, time_ms, _ in self.history:
            member.deliver(MessageSaid(self.name, nick, text, time_ms, replay=True))
        if not self.backplane.whole:
            member.deliver(ServerNotice(self._split_text()))

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
            self.backplane.publish(self.key, quit_, message.rooms)
        else:
            left = MemberLeft(self.name, nick, message.reason)
            broadcast(left, list(self.members))
            del self.members[message.member]
            self.backplane.publish(self.key, left)

    def _before(self, rooms: tuple[str, ...]) -> tuple[str, ...]:
        """The rooms in `rooms` that announce a change before this one."""
        return rooms[: rooms.index(self.key)] if self.key in rooms else ()

    def _topic(self) -> TopicIs:
        return TopicIs(self.name, self.topic, self.topic_by, self.topic_ms)

    def _send_names(self, member: Member, tag: str = "") -> None:
        away = frozenset(nick for m, nick in self.members.items() if m.away) if tag else frozenset()
        nicks = [*self.members.values(), *self.remote.values()]
        send_names(member, self.name, nicks, tag, away)

    # -- the room's copies on other processes --------------------------------

    def _hear_backplane(
        self, message: RemoteEventsWaiting | RoomState | Split | Whole | _Reload
    ) -> None:
        if isinstance(message, RemoteEventsWaiting):
            if not self.loading:  # else they wait for the room to load
                self._apply_remote(self.backplane.take_events(self.key))
            return
        if self.lines:
            self._broadcast_lines()
        if isinstance(message, RoomState):
            self._load(message)
            self._report()
        elif isinstance(message, Split):
            self._notify(self._split_text())  # the reason, which names hosts, is only logged
        elif isinstance(message, Whole):
            self._notify(f"{self.name} is whole again: users on every server hear you")
            self.backplane.reload_room(self.key)
            # Again once every process has renewed what it holds: a Redis that
            # restarted empty has all the members only then.
            self.tell_later(self.backplane.settle_seconds, _Reload())
        else:
            self.backplane.reload_room(self.key)

    def _load(self, state: RoomState) -> None:
        """Take what the other processes hold; on the first load, let the held joins in."""
        self.remote = {rules.key(nick): nick for nick in state.members}
        if state.loaded and (state.topic or state.set_by) and state.topic_ms >= self.topic_ms:
            self.topic, self.topic_by, self.topic_ms = state.topic, state.set_by, state.topic_ms
        if not self.loading:
            return
        self.loading = False
        if state.name and rules.key(state.name) == self.key:
            self.name = state.name  # one spelling on every process: the first one's
        for nick, text, time_ms in state.history:
            self._keep(nick, text, time_ms)
        held, self.held = self.held, []
        for enter in held:
            self._enter(enter)
        loaded = set(state.history)
        self._apply_remote(
            [
                remote
                for remote in self.backplane.take_events(self.key)
                if not isinstance(event := remote.event, MessageSaid)
                or (event.nick, event.text, event.time_ms) not in loaded
            ]
        )

    def _apply_remote(self, events: list[RemoteEvent]) -> None:
        """Apply and broadcast, in order, what the room's other copies published."""
        members = list(self.members)
        for remote in events:
            event = dataclasses.replace(remote.event, room=self.name)
            if isinstance(event, MessageSaid):
                self._keep(event.nick, event.text, event.time_ms)
                self.lines.append((None, event))
                continue
            if self.lines:
                self._broadcast_lines()
            announced_in: tuple[str, ...] = ()
            if isinstance(event, MemberJoined):
                self.remote[rules.key(event.nick)] = event.nick
            elif isinstance(event, MemberLeft | MemberQuit):
                # Told even of a member this copy never heard of: it joined while split.
                self.remote.pop(rules.key(event.nick), None)
                announced_in = self._before(remote.rooms)
            elif isinstance(event, NickChange):
                self.remote.pop(rules.key(event.old), None)
                self.remote[rules.key(event.new)] = event.new
                announced_in = self._before(remote.rooms)
            else:
                self.topic, self.topic_by, self.topic_ms = event.topic, event.set_by, event.time_ms
            broadcast(event, members, announced_in=announced_in)

    def _notify(self, text: str) -> None:
        broadcast(ServerNotice(text), list(self.members))

    def _split_text(self) -> str:
        return (
            f"{self.name} is split from the chat's other servers: users there can't hear "
            "you, nor you them, until it is whole again"
        )


def send_names(
    member: Member, room: str, nicks: list[str], tag: str = "", away: frozenset[str] = frozenset()
) -> None:
    """Send `member` the nicks of `room`, sorted, in `MembersAre` chunks and a `MembersDone`."""
    nicks = sorted(nicks, key=str.casefold)
    for start in range(0, max(len(nicks), 1), NAMES_PER_EVENT):
        chunk = tuple(nicks[start : start + NAMES_PER_EVENT])
        member.deliver(MembersAre(room, chunk, tag, away & frozenset(chunk)))
    member.deliver(MembersDone(room, len(nicks), tag))
