"""ChatUser: one user's life in the chat, whatever door the user came in by.

Every state change of a user lives in this file, in `_TRANSITIONS`: a door
hands the user commands (`commands`), the session hands it what the directory
and the rooms answer, and the user answers with events through its `Member`.
Commands other than `Register` and `Quit` need a nick and change no state:
before registration they are refused, or held while the first nick is claimed.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import commands, rules
from examples.chat.directory import (
    DescribeTo,
    JoinRoom,
    ListRoomsFor,
    LookUp,
    NamesFor,
    NickGranted,
    NickRefused,
    Unregister,
    WhisperTo,
)
from examples.chat.directory import Register as ClaimNick
from examples.chat.events import NickChange, Refusal, Refused, UserInfo, Welcomed
from examples.chat.limits import ChatLimits
from examples.chat.rate import RATE_BURST, RATE_PER_SECOND, TokenBucket
from examples.chat.room import (
    ChangeTopic,
    EnteredRoom,
    Exit,
    JoinRefused,
    Rename,
    Room,
    SayIn,
    SendTopic,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka

    from examples.chat.commands import ChatCommand
    from examples.chat.events import Member

logger = logging.getLogger("examples.chat")

#: Name the server gives in `Welcomed`, by default.
SERVER_NAME = "actornet-chat"
#: Commands held while the first nick is claimed, and per room while joining it.
MAX_HELD_WHILE_JOINING = 20


class UserState(enum.Enum):
    """Where a user is in its life in the chat."""

    #: Connected without a nick, and no first nick being claimed.
    CONNECTED = "connected"
    #: A first nick is being claimed: commands that need a nick are held.
    CLAIMING = "claiming"
    #: The user has a nick: every command is served.
    REGISTERED = "registered"
    #: The connection ended: rooms left, nick freed; late joins are undone.
    GONE = "gone"


_S = UserState
#: Every state change: (state, what happened) -> next state. A Register or a
#: disconnection that is not listed is a bug in the door.
_TRANSITIONS: dict[tuple[UserState, type[Any]], UserState] = {
    (_S.CONNECTED, commands.Register): _S.CLAIMING,
    (_S.CONNECTED, NickRefused): _S.CONNECTED,
    # A second claim, sent before the first was refused, was granted.
    (_S.CONNECTED, NickGranted): _S.REGISTERED,
    (_S.CONNECTED, actornet.DisconnectReason): _S.GONE,
    (_S.CLAIMING, commands.Register): _S.CLAIMING,
    (_S.CLAIMING, NickRefused): _S.CONNECTED,
    (_S.CLAIMING, NickGranted): _S.REGISTERED,
    (_S.CLAIMING, actornet.DisconnectReason): _S.GONE,
    (_S.REGISTERED, NickRefused): _S.REGISTERED,
    (_S.REGISTERED, NickGranted): _S.REGISTERED,
    (_S.REGISTERED, actornet.DisconnectReason): _S.GONE,
}

_ANSWERS = (EnteredRoom, JoinRefused, NickGranted, NickRefused, DescribeTo)


class ChatUser:
    """One connected user: its state, nick, rooms and rate limit.

    A plain object that runs in its session's turns. The session passes it
    each decoded command (`admit`, then `handle`), each answer the directory
    and the rooms tell the session (`hear`), and the end of the connection
    (`disconnect`). `limits` must be the directory's: the user enforces its
    rooms per user, the directory and the rooms the rest.
    """

    __slots__ = (
        "bucket",
        "close",
        "directory_ref",
        "exit_reason",
        "held",
        "joining",
        "max_rooms",
        "member",
        "nick",
        "quit_reason",
        "rate_error_at",
        "room_names",
        "rooms",
        "server_name",
        "session_ref",
        "state",
    )

    def __init__(  # noqa: PLR0913 - what a user is wired to
        self,
        member: Member,
        directory_ref: pykka.ActorRef[Any],
        session_ref: pykka.ActorRef[Any],
        *,
        close: Callable[[], None],
        rate_per_second: float = RATE_PER_SECOND,
        limits: ChatLimits | None = None,
        server_name: str = SERVER_NAME,
    ) -> None:
        self.member = member
        #: The `server` of `Welcomed`.
        self.server_name = server_name
        self.directory_ref = directory_ref
        #: Where the directory and the rooms send their answers.
        self.session_ref = session_ref
        #: Ends the connection (the session's `close`), after `Quit`.
        self.close = close
        self.max_rooms = (limits if limits is not None else ChatLimits()).max_rooms_per_user
        self.state = UserState.CONNECTED
        self.nick: str | None = None
        #: Commands sent while the first nick is claimed, to run once it is granted.
        self.held: list[ChatCommand] = []
        self.rooms: dict[str, pykka.ActorRef[Room]] = {}
        #: The display name of each room in `rooms`, by key.
        self.room_names: dict[str, str] = {}
        member.rooms = self.rooms
        #: Rooms being joined, by key, with the commands held for each.
        self.joining: dict[str, list[SayIn | ChangeTopic]] = {}
        # rate_per_second=0 turns limiting off (benchmarks, trusted clients).
        self.bucket = TokenBucket(RATE_BURST, rate_per_second) if rate_per_second else None
        self.rate_error_at = 0.0
        self.quit_reason: str | None = None
        #: The reason the rooms hear in `MemberQuit`, once the user is GONE.
        self.exit_reason = ""

    @property
    def registered(self) -> bool:
        """Whether the user has a nick (and is still connected)."""
        return self.state is UserState.REGISTERED

    def _next(self, trigger: type[Any]) -> UserState:
        try:
            return _TRANSITIONS[self.state, trigger]
        except KeyError:
            raise RuntimeError(
                f"can't handle {trigger.__name__} in state {self.state.name}; "
                "a door sends Register only before registration (ChangeNick after)"
            ) from None

    # -- from the door ------------------------------------------------------

    def admit(self) -> bool:
        """Spend one command of the rate limit; return whether the command may run.

        Doors call this for every client message but `Quit` (which ends the
        connection, so cannot flood) and keepalives. A refused command is
        answered with `RATE_LIMITED` at most once a second, so a flood cannot
        double itself in replies.
        """
        if self.bucket is None or self.bucket.take():
            return True
        now = time.monotonic()
        if now - self.rate_error_at >= 1.0:
            self.rate_error_at = now
            self._refuse(
                Refusal.RATE_LIMITED,
                "",
                f"more than {RATE_BURST} commands at once or {self.bucket.per_second:g} a "
                "second; commands are dropped until you slow down",
            )
        return False

    def handle(self, command: ChatCommand) -> None:
        """Carry out one command from the user (already admitted by the rate limit)."""
        if isinstance(command, commands.Quit):
            self.quit_reason = rules.clip(command.reason, rules.MAX_REASON_BYTES)
            self.close()
        elif isinstance(command, commands.Register):
            next_state = self._next(commands.Register)
            if self._claim_nick(command.nick):
                self.state = next_state
        elif self.state is UserState.REGISTERED:
            self._serve(command)
        elif self.state is UserState.CLAIMING and len(self.held) < MAX_HELD_WHILE_JOINING:
            self.held.append(command)
        else:
            self._refuse(Refusal.NOT_REGISTERED, "", "send Hello with your nick first")

    def disconnect(self, reason: actornet.DisconnectReason, *, fatal: str | None = None) -> None:
        """Leave every room and free the nick: the connection ended for `reason`.

        The rooms hear, in `MemberQuit`, the user's `Quit` reason if it sent
        one, else `fatal` (the door's words for the fatal error that ended the
        connection), else `reason`'s value.
        """
        self.state = self._next(actornet.DisconnectReason)
        if self.quit_reason is not None:
            self.exit_reason = self.quit_reason
        else:
            self.exit_reason = fatal if fatal is not None else reason.value
        farewell = Exit(self.member, self.exit_reason, quit=True, rooms=tuple(sorted(self.rooms)))
        for room_ref in self.rooms.values():
            actornet.tell_or_drop(room_ref, farewell)
        self.directory_ref.tell(Unregister(self.member))
        logger.info(
            "%s from %s disconnected: %s",
            self.nick or "(unregistered)",
            actornet.format_peer(self.member.peer),
            self.exit_reason,
        )

    # -- from the directory and the rooms -----------------------------------

    def hear(self, message: object) -> bool:
        """Take what the directory or a room told the session; return whether it was an answer."""
        if not isinstance(message, _ANSWERS):
            return False
        if isinstance(message, DescribeTo):
            message.member.deliver(self._describe(message))
            return True
        if self.state is UserState.GONE:
            if isinstance(message, EnteredRoom):
                # The join completed after the user left: undo it.
                actornet.tell_or_drop(
                    message.room_ref, Exit(self.member, self.exit_reason, quit=True)
                )
            return True  # other answers have nobody to go to
        if isinstance(message, EnteredRoom):
            key = rules.key(message.room)
            self.rooms[key] = message.room_ref
            self.room_names[key] = message.room
            for held in self.joining.pop(key, []):
                actornet.tell_or_drop(message.room_ref, held)
        elif isinstance(message, JoinRefused):
            # Commands held for the room go with the join.
            self.joining.pop(rules.key(message.room), None)
            self._refuse(message.refusal, message.room, message.detail)
        elif isinstance(message, NickGranted):
            self._nick_granted(message)
        else:
            self._nick_refused(message)
        return True

    def _nick_granted(self, granted: NickGranted) -> None:
        old, self.nick = self.nick, granted.nick
        self.state = self._next(NickGranted)
        if old is None:
            self.member.deliver(Welcomed(granted.nick, self.server_name))
            logger.info(
                "%s registered from %s", granted.nick, actornet.format_peer(self.member.peer)
            )
            held, self.held = self.held, []
            for command in held:
                self._serve(command)
            return
        if not self.rooms:
            self.member.deliver(NickChange("", old, granted.nick))
        rename = Rename(self.member, granted.nick, tuple(sorted(self.rooms)))
        for room_ref in self.rooms.values():
            actornet.tell_or_drop(room_ref, rename)

    def _nick_refused(self, refused: NickRefused) -> None:
        self._refuse(Refusal.NICK_IN_USE, refused.nick, f"{refused.nick} is taken; pick another")
        self.state = self._next(NickRefused)
        if self.nick is None and self.held:
            self.held.clear()
            self._refuse(Refusal.NOT_REGISTERED, "", "commands sent before Welcome were dropped")

    # -- commands of a registered user --------------------------------------

    def _serve(self, command: ChatCommand) -> None:
        _SERVE[type(command)](self, command)

    def _list_names(self, command: commands.ListNames) -> None:
        if (problem := rules.room_problem(command.room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, command.room, problem)
        else:
            self.directory_ref.tell(NamesFor(self.member, command.room, command.tag))

    def _set_topic(self, command: commands.SetTopic) -> None:
        topic = ChangeTopic(self.member, command.topic)
        self._to_room(command.room, command.topic, rules.MAX_TOPIC_BYTES, topic, empty_ok=True)

    def _leave_all(self, command: commands.LeaveAll) -> None:
        for key in list(self.rooms):
            self._leave(self.room_names[key], command.reason)

    def _claim_nick(self, nick: str) -> bool:
        """Ask the directory for `nick`; return whether it was a valid nick to ask for."""
        if (problem := rules.nick_problem(nick)) is not None:
            self._refuse(Refusal.INVALID_NICK, nick, problem)
            return False
        self.directory_ref.tell(ClaimNick(self.member, nick, self.session_ref))
        return True

    def _join(self, room: str) -> None:
        if (problem := rules.room_problem(room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, room, problem)
            return
        key = rules.key(room)
        if key in self.rooms or key in self.joining:
            return
        if len(self.rooms) + len(self.joining) >= self.max_rooms:
            self._refuse(
                Refusal.TOO_MANY_ROOMS,
                room,
                f"you are in {len(self.rooms) + len(self.joining)} rooms, the most one user "
                f"may be in; leave one to join {room}",
            )
            return
        self.joining[key] = []
        assert self.nick is not None
        self.directory_ref.tell(JoinRoom(self.member, self.nick, room, self.session_ref))

    def _leave(self, room: str, reason: str) -> None:
        if (problem := rules.room_problem(room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, room, problem)
            return
        room_ref = self.rooms.pop(rules.key(room), None)
        self.room_names.pop(rules.key(room), None)
        if room_ref is None:
            self._refuse(Refusal.NOT_IN_ROOM, room, f"you are not in {room}")
            return
        farewell = Exit(self.member, rules.clip(reason, rules.MAX_REASON_BYTES), quit=False)
        actornet.tell_or_drop(room_ref, farewell)

    def _say(self, say: commands.Say) -> None:
        message = SayIn(self.member, say.text, say.notice)
        self._to_room(say.room, say.text, rules.MAX_TEXT_BYTES, message, empty_ok=False)

    def _show_topic(self, room: str) -> None:
        if (problem := rules.room_problem(room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, room, problem)
        elif (room_ref := self.rooms.get(rules.key(room))) is None:
            self._refuse(Refusal.NOT_IN_ROOM, room, f"join {room} first")
        else:
            actornet.tell_or_drop(room_ref, SendTopic(self.member))

    def _describe(self, asked: DescribeTo) -> UserInfo:
        if self.nick is None or self.state is not UserState.REGISTERED:
            return UserInfo(asked.nick, found=False, tag=asked.tag)
        rooms = tuple(sorted(self.room_names.values(), key=str.casefold))
        return UserInfo(self.nick, found=True, rooms=rooms, away=self.member.away, tag=asked.tag)

    def _to_room(
        self,
        room: str,
        text: str,
        limit: int,
        message: SayIn | ChangeTopic,
        *,
        empty_ok: bool,
    ) -> None:
        # The command's own fields first, in order, then whether the user is in the room.
        if (problem := rules.room_problem(room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, room, problem)
            return
        if (problem := rules.text_problem(text, limit=limit, empty_ok=empty_ok)) is not None:
            self._refuse(Refusal.INVALID_TEXT, room, problem)
            return
        key = rules.key(room)
        if key in self.rooms:
            actornet.tell_or_drop(self.rooms[key], message)
        elif key in self.joining and len(self.joining[key]) < MAX_HELD_WHILE_JOINING:
            self.joining[key].append(message)
        else:
            self._refuse(Refusal.NOT_IN_ROOM, room, f"join {room} first")

    def _whisper(self, whisper: commands.Whisper) -> None:
        if (problem := rules.text_problem(whisper.text)) is not None:
            self._refuse(Refusal.INVALID_TEXT, whisper.to, problem)
            return
        assert self.nick is not None
        self.directory_ref.tell(
            WhisperTo(self.member, self.nick, whisper.to, whisper.text, whisper.notice)
        )

    def _refuse(self, refusal: Refusal, subject: str, detail: str) -> None:
        self.member.deliver(Refused(refusal, subject, detail))


#: What a registered user does for each command (Register and Quit are `handle`'s).
_SERVE: dict[type[Any], Callable[[ChatUser, Any], object]] = {
    commands.Say: ChatUser._say,
    commands.Join: lambda user, c: user._join(c.room),
    commands.Leave: lambda user, c: user._leave(c.room, c.reason),
    commands.LeaveAll: ChatUser._leave_all,
    commands.Whisper: ChatUser._whisper,
    commands.ChangeNick: lambda user, c: user._claim_nick(c.nick),
    commands.ListRooms: lambda user, _: user.directory_ref.tell(ListRoomsFor(user.member)),
    commands.ListNames: ChatUser._list_names,
    commands.Lookup: lambda user, c: user.directory_ref.tell(LookUp(user.member, c.nick, c.tag)),
    commands.SetAway: lambda user, c: setattr(
        user.member, "away", rules.clip(c.message, rules.MAX_REASON_BYTES)
    ),
    commands.ShowTopic: lambda user, c: user._show_topic(c.room),
    commands.SetTopic: ChatUser._set_topic,
}
