"""The chat over protocols.chat: a session that translates frames to chat commands and back."""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import rules
from examples.chat.directory import (
    JoinRoom,
    ListRoomsFor,
    NamesFor,
    NickGranted,
    NickRefused,
    Register,
    Unregister,
    WhisperTo,
)
from examples.chat.events import (
    ChatEvent,
    Member,
    MemberJoined,
    MemberLeft,
    MemberQuit,
    MembersAre,
    MembersDone,
    MessageSaid,
    NickChange,
    PrivateMessage,
    Refusal,
    Refused,
    Renderer,
    RoomListDone,
    RoomSummary,
    ServerNotice,
    TopicIs,
)
from examples.chat.limits import ChatLimits
from examples.chat.room import ChangeTopic, EnteredRoom, Exit, JoinRefused, Rename, Room, SayIn
from protocols import FrameTooLarge, chat

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka

    from actornet.lowlevel import Timer

logger = logging.getLogger("examples.chat")

#: Name the server gives in `Welcome`.
SERVER_NAME = "actornet-chat"
#: Seconds between heartbeats the server sends.
HEARTBEAT_INTERVAL = 30.0
#: Seconds without any frame after which a client is disconnected, by default
#: (`actornet.Limits.idle_timeout`, set by `--idle-timeout`).
IDLE_TIMEOUT = 90.0
#: Commands a client may send in a burst...
RATE_BURST = 20
#: ...and per second after it.
RATE_PER_SECOND = 10.0
# RFC 6455's close code for a fatal chat error, on doors that send one.
_POLICY_VIOLATION = 1008

#: Commands sent to a room while joining it are held until the join completes.
MAX_HELD_WHILE_JOINING = 20

_ERROR_CODES = {
    Refusal.NOT_REGISTERED: chat.ErrorCode.NOT_REGISTERED,
    Refusal.INVALID_NICK: chat.ErrorCode.INVALID_NICK,
    Refusal.NICK_IN_USE: chat.ErrorCode.NICK_IN_USE,
    Refusal.INVALID_ROOM: chat.ErrorCode.INVALID_ROOM,
    Refusal.NOT_IN_ROOM: chat.ErrorCode.NOT_IN_ROOM,
    Refusal.NO_SUCH_NICK: chat.ErrorCode.NO_SUCH_NICK,
    Refusal.INVALID_TEXT: chat.ErrorCode.INVALID_TEXT,
    Refusal.RATE_LIMITED: chat.ErrorCode.RATE_LIMITED,
    Refusal.TOO_MANY_ROOMS: chat.ErrorCode.LIMIT_REACHED,
    Refusal.SERVER_FULL: chat.ErrorCode.LIMIT_REACHED,
    Refusal.ROOM_FULL: chat.ErrorCode.LIMIT_REACHED,
}


_TRANSLATIONS: dict[type[Any], Callable[[Any], chat.ServerMessage]] = {
    MessageSaid: lambda e: (chat.History if e.replay else chat.Said)(
        room=e.room, nick=e.nick, text=e.text, time_ms=e.time_ms
    ),
    MemberJoined: lambda e: chat.Joined(room=e.room, nick=e.nick),
    MemberLeft: lambda e: chat.Left(room=e.room, nick=e.nick, reason=e.reason),
    MemberQuit: lambda e: chat.Quitted(room=e.room, nick=e.nick, reason=e.reason),
    NickChange: lambda e: chat.NickChanged(room=e.room, old=e.old, new=e.new),
    PrivateMessage: lambda e: chat.Whispered(
        sender=e.sender, to=e.to, text=e.text, time_ms=e.time_ms
    ),
    TopicIs: lambda e: chat.Topic(room=e.room, topic=e.topic, set_by=e.set_by),
    MembersAre: lambda e: chat.Names(room=e.room, nicks=" ".join(e.nicks)),
    MembersDone: lambda e: chat.NamesEnd(room=e.room, count=e.count),
    RoomSummary: lambda e: chat.RoomInfo(room=e.room, members=e.members, topic=e.topic),
    RoomListDone: lambda e: chat.RoomListEnd(count=e.count),
    Refused: lambda e: chat.Error(code=_ERROR_CODES[e.refusal], subject=e.subject, detail=e.detail),
    ServerNotice: lambda e: chat.Notice(text=e.text),
}


def to_message(event: ChatEvent) -> chat.ServerMessage:
    """Translate a chat event into the protocol's message."""
    return _TRANSLATIONS[type(event)](event)


def render(event: ChatEvent) -> bytes:
    """Encode a chat event as one protocols.chat frame (rooms call this once per broadcast)."""
    return chat.WIRE.encode(to_message(event))


class _HeartbeatTick:
    """Time to send a ServerPing."""


class TokenBucket:
    """Rate limiter: `burst` commands at once, `per_second` on average."""

    __slots__ = ("burst", "per_second", "stamp", "tokens")

    def __init__(self, burst: float, per_second: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one; return whether there was."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class BinaryChatSession(actornet.Session[chat.ChatMessage]):
    """One chat client speaking protocols.chat.

    `limits` must be the directory's: the session enforces its rooms per user,
    the directory and the rooms the rest.
    """

    def __init__(
        self,
        directory_ref: pykka.ActorRef[Any],
        rate_per_second: float = RATE_PER_SECOND,
        *,
        limits: ChatLimits | None = None,
    ) -> None:
        super().__init__()
        self.directory = directory_ref
        # The directory and the rooms enforce the rest of these limits.
        self.max_rooms = (limits if limits is not None else ChatLimits()).max_rooms_per_user
        self.nick: str | None = None
        # Commands that arrive while the first nick is being claimed wait for
        # the answer, so a client may send Hello and Join back to back.
        self.claiming: str | None = None
        self.held: list[chat.ChatMessage] = []
        self.member: Member | None = None
        self.rooms: dict[str, tuple[str, pykka.ActorRef[Room]]] = {}
        self.joining: dict[str, list[Any]] = {}
        # rate_per_second=0 turns limiting off (benchmarks, trusted clients).
        self.bucket = TokenBucket(RATE_BURST, rate_per_second) if rate_per_second else None
        self.rate_error_at = 0.0
        self.quit_reason: str | None = None
        # The fatal error sent before closing, if any: it names the Quitted reason.
        self.fatal: chat.ErrorCode | None = None
        self.heartbeat: Timer | None = None
        self.ping_tokens = itertools.count(1)

    def door_renderer(self) -> Renderer:
        """Return the function that turns chat events into this door's frames.

        Rooms render a broadcast once per renderer, so every session of one
        door must return the same function.
        """
        return render

    # -- connection hooks ---------------------------------------------------

    def on_connect(self) -> None:
        """Create the member handle and start the heartbeat."""
        self.member = Member(self.conn_outbox, self.door_renderer())
        self.heartbeat = self.tell_later(HEARTBEAT_INTERVAL, _HeartbeatTick())

    def on_event(self, event: chat.ChatMessage) -> None:
        """Handle one frame from the client."""
        if isinstance(event, chat.Pong):
            return  # whatever its token: any frame keeps the connection alive
        if isinstance(event, chat.Ping):
            self.send(chat.ServerPong(token=event.token))
            return
        # Quit is never dropped: it ends the connection, so it cannot flood.
        if not isinstance(event, chat.Quit) and self.bucket is not None and not self.bucket.take():
            self._refuse_rate()
            return
        self._dispatch(event)

    def _dispatch(self, event: chat.ChatMessage) -> None:  # noqa: C901, PLR0912 - a dispatch table
        if isinstance(event, chat.Hello):
            self._hello(event)
        elif isinstance(event, chat.Quit):
            self.quit_reason = _clip(event.reason, rules.MAX_REASON_BYTES)
            self.close()
        elif isinstance(event, chat.ServerMessage):
            self._fatal(
                chat.ErrorCode.UNEXPECTED_MESSAGE,
                f"{type(event).__name__} is sent by servers, not clients",
            )
        elif self.nick is None:
            if self.claiming is not None and len(self.held) < MAX_HELD_WHILE_JOINING:
                self.held.append(event)
            else:
                self._refuse(Refusal.NOT_REGISTERED, "", "send Hello with your nick first")
        elif isinstance(event, chat.Say):
            self._to_room(event.room, event.text, rules.MAX_TEXT_BYTES, SayIn, empty_ok=False)
        elif isinstance(event, chat.Join):
            self._join(event.room)
        elif isinstance(event, chat.Leave):
            self._leave(event.room, event.reason)
        elif isinstance(event, chat.Whisper):
            self._whisper(event)
        elif isinstance(event, chat.SetNick):
            self._claim_nick(event.nick)
        elif isinstance(event, chat.ListRooms):
            self.directory.tell(ListRoomsFor(self._member()))
        elif isinstance(event, chat.ListNames):
            if (problem := rules.room_problem(event.room)) is not None:
                self._refuse(Refusal.INVALID_ROOM, event.room, problem)
            else:
                self.directory.tell(NamesFor(self._member(), event.room))
        elif isinstance(event, chat.SetTopic):
            self._to_room(
                event.room, event.topic, rules.MAX_TOPIC_BYTES, ChangeTopic, empty_ok=True
            )

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        """Say why (where the client can still hear it), leave every room, free the nick."""
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        self._farewell(reason)
        why = self._exit_reason(reason)
        member = self.member
        if member is not None:
            for _, room_ref in self.rooms.values():
                actornet.tell_or_drop(room_ref, Exit(member, why, quit=True))
            self.directory.tell(Unregister(member))
        logger.info(
            "%s from %s disconnected: %s",
            self.nick or "(unregistered)",
            actornet.format_peer(self.conn_peer),
            why,
        )

    def on_receive(self, message: Any) -> None:  # noqa: C901 - one branch per message
        """Handle what the directory, the rooms and the heartbeat timer tell the session."""
        if self.conn_disconnect_reason is not None and not isinstance(message, EnteredRoom):
            return  # answers that arrive after the client left have nobody to go to
        if isinstance(message, EnteredRoom):
            if self.conn_disconnect_reason is not None:
                # The join completed after this client left: undo it.
                why = self._exit_reason(self.conn_disconnect_reason)
                actornet.tell_or_drop(message.room_ref, Exit(self._member(), why, quit=True))
                return
            key = rules.key(message.room)
            self.rooms[key] = (message.room, message.room_ref)
            for held in self.joining.pop(key, []):
                actornet.tell_or_drop(message.room_ref, held)
        elif isinstance(message, JoinRefused):
            # Commands held for the room go with the join.
            self.joining.pop(rules.key(message.room), None)
            self._refuse(message.refusal, message.room, message.detail)
        elif isinstance(message, NickGranted):
            self._nick_granted(message)
        elif isinstance(message, NickRefused):
            taken = f"{message.nick} is taken; pick another"
            self._refuse(Refusal.NICK_IN_USE, message.nick, taken)
            if self.nick is None:
                self.claiming = None
                if self.held:
                    self.held.clear()
                    self._refuse(
                        Refusal.NOT_REGISTERED, "", "commands sent before Welcome were dropped"
                    )
        elif isinstance(message, _HeartbeatTick):
            self.send(chat.ServerPing(token=next(self.ping_tokens) & 0xFFFF_FFFF))
            self.heartbeat = self.tell_later(HEARTBEAT_INTERVAL, _HeartbeatTick())
        else:
            super().on_receive(message)

    # -- commands -----------------------------------------------------------

    def _hello(self, hello: chat.Hello) -> None:
        if self.nick is not None:
            self._fatal(chat.ErrorCode.UNEXPECTED_MESSAGE, "Hello was already accepted")
        elif hello.version != chat.PROTOCOL_VERSION:
            self._fatal(
                chat.ErrorCode.UNSUPPORTED_VERSION,
                f"version {hello.version} is not supported; this server speaks "
                f"{chat.PROTOCOL_VERSION}",
            )
        else:
            self._claim_nick(hello.nick)

    def _claim_nick(self, nick: str) -> None:
        if (problem := rules.nick_problem(nick)) is not None:
            self._refuse(Refusal.INVALID_NICK, nick, problem)
            return
        if self.nick is None:
            self.claiming = nick
        self.directory.tell(Register(self._member(), nick, self.actor_ref))

    def _nick_granted(self, granted: NickGranted) -> None:
        old, self.nick = self.nick, granted.nick
        if old is None:
            self.claiming = None
            self.send(
                chat.Welcome(version=chat.PROTOCOL_VERSION, nick=granted.nick, server=SERVER_NAME)
            )
            logger.info("%s registered from %s", granted.nick, actornet.format_peer(self.conn_peer))
            held, self.held = self.held, []
            for event in held:
                self._dispatch(event)
            return
        member = self._member()
        if not self.rooms:
            member.deliver(NickChange("", old, granted.nick))
        for _, room_ref in self.rooms.values():
            actornet.tell_or_drop(room_ref, Rename(member, granted.nick))

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
        self.directory.tell(JoinRoom(self._member(), self.nick, room, self.actor_ref))

    def _leave(self, room: str, reason: str) -> None:
        if (problem := rules.room_problem(room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, room, problem)
            return
        key = rules.key(room)
        entry = self.rooms.pop(key, None)
        if entry is None:
            self._refuse(Refusal.NOT_IN_ROOM, room, f"you are not in {room}")
            return
        farewell = Exit(self._member(), _clip(reason, rules.MAX_REASON_BYTES), quit=False)
        actornet.tell_or_drop(entry[1], farewell)

    def _to_room(
        self,
        room: str,
        text: str,
        limit: int,
        command: type[SayIn | ChangeTopic],
        *,
        empty_ok: bool,
    ) -> None:
        # The command's own fields first, in order, then whether the client is in the room.
        if (problem := rules.room_problem(room)) is not None:
            self._refuse(Refusal.INVALID_ROOM, room, problem)
            return
        if (problem := rules.text_problem(text, limit=limit, empty_ok=empty_ok)) is not None:
            self._refuse(Refusal.INVALID_TEXT, room, problem)
            return
        key = rules.key(room)
        message = command(self._member(), text)
        if key in self.rooms:
            actornet.tell_or_drop(self.rooms[key][1], message)
        elif key in self.joining and len(self.joining[key]) < MAX_HELD_WHILE_JOINING:
            self.joining[key].append(message)
        else:
            self._refuse(Refusal.NOT_IN_ROOM, room, f"join {room} first")

    def _whisper(self, whisper: chat.Whisper) -> None:
        if (problem := rules.text_problem(whisper.text)) is not None:
            self._refuse(Refusal.INVALID_TEXT, whisper.to, problem)
            return
        assert self.nick is not None
        self.directory.tell(WhisperTo(self._member(), self.nick, whisper.to, whisper.text))

    # -- replies ------------------------------------------------------------

    def _member(self) -> Member:
        assert self.member is not None, "on_connect() creates the member"
        return self.member

    def _refuse(self, refusal: Refusal, subject: str, detail: str) -> None:
        self.send(chat.Error(code=_ERROR_CODES[refusal], subject=subject, detail=detail))

    def _refuse_rate(self) -> None:
        # One error a second at most, so a flood cannot double itself in replies.
        now = time.monotonic()
        if now - self.rate_error_at >= 1.0:
            self.rate_error_at = now
            self._refuse(
                Refusal.RATE_LIMITED,
                "",
                f"more than {RATE_BURST} commands at once or "
                f"{self.bucket.per_second if self.bucket else 0:g} a second; "
                "commands are dropped until you slow down",
            )

    def _fatal(self, code: chat.ErrorCode, detail: str) -> None:
        self.fatal = code
        self.send(chat.Error(code=code, subject="", detail=detail))
        # The close code is for doors with a closing handshake (WebSocket).
        self.close(code=_POLICY_VIOLATION, reason=code.name)

    def _exit_reason(self, reason: actornet.DisconnectReason) -> str:
        """Return the reason the rooms hear in `Quitted` (docs/chat-protocol.md has the table)."""
        if self.quit_reason is not None:
            return self.quit_reason
        if self.fatal is not None:
            return fatal_reason(self.fatal)
        if reason is actornet.DisconnectReason.PROTOCOL_ERROR:
            return fatal_reason(self._protocol_error_code())
        value: str = reason.value
        return value

    def _protocol_error_code(self) -> chat.ErrorCode:
        if isinstance(self.conn_disconnect_error, FrameTooLarge):
            return chat.ErrorCode.FRAME_TOO_LARGE
        return chat.ErrorCode.MALFORMED

    def _farewell(self, reason: actornet.DisconnectReason) -> None:
        error = self.conn_disconnect_error
        reply: chat.ServerMessage | None = None
        if reason is actornet.DisconnectReason.SHUTDOWN:
            reply = chat.Notice(text="server shutting down")
        elif reason is actornet.DisconnectReason.IDLE_TIMEOUT:
            timeout = self.conn_limits.idle_timeout
            reply = chat.Error(
                code=chat.ErrorCode.IDLE_TIMEOUT,
                subject="",
                detail=f"nothing received for {timeout or 0:g} s; answer ServerPing with Pong",
            )
        elif reason is actornet.DisconnectReason.PROTOCOL_ERROR:
            code = self._protocol_error_code()
            reply = chat.Error(code=code, subject="", detail=_clip(str(error), 1000))
        if reply is not None:
            with contextlib.suppress(actornet.ClosedConnectionError):
                self.send(reply)


def fatal_reason(code: chat.ErrorCode) -> str:
    """Return the `Quitted` reason after the fatal error `code`: its name, in words."""
    name: str = code.name
    return name.lower().replace("_", " ")


def _clip(text: str, limit: int) -> str:
    """Cut text to at most `limit` UTF-8 bytes, on a character boundary, without controls."""
    text = rules.without_controls(text)
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")
