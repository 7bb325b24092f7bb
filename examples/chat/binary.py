"""The binary door: a session that translates protocols.chat frames to chat commands and back.

The chat itself is `ChatUser`'s; this door adds only what the wire defines:
`Hello`'s version, keepalives (`Ping`, `ServerPing`), the fatal errors that
end a connection, and each event's frame.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import commands, rules
from examples.chat.events import (
    IsAway,
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
    RoomListDone,
    RoomSummary,
    ServerNotice,
    TopicIs,
    UserInfo,
    Welcomed,
)
from examples.chat.rate import RATE_PER_SECOND
from examples.chat.user import SERVER_NAME, ChatUser
from protocols import FrameTooLarge, chat

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka

    from actornet.lowlevel import Timer
    from examples.chat.commands import ChatCommand
    from examples.chat.events import ChatEvent, Renderer
    from examples.chat.limits import ChatLimits

#: Seconds between heartbeats the server sends.
HEARTBEAT_INTERVAL = 30.0
#: Seconds without any frame after which a client is disconnected, by default
#: (`actornet.Limits.idle_timeout`, set by `--idle-timeout`).
IDLE_TIMEOUT = 90.0
# RFC 6455's close code for a fatal chat error, on doors that send one.
_POLICY_VIOLATION = 1008

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
    Welcomed: lambda e: chat.Welcome(version=chat.PROTOCOL_VERSION, nick=e.nick, server=e.server),
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
    # No binary message asks about a user; a whisper to an IRC user who is away says so.
    UserInfo: lambda e: chat.Notice(text=f"{e.nick}: {' '.join(e.rooms)}" if e.found else ""),
    IsAway: lambda e: chat.Notice(text=rules.clip(f"{e.nick} is away: {e.message}", 1000)),
}

# Client messages that are chat commands as they are (Hello, Quit and keepalives are not).
_COMMANDS: dict[type[Any], Callable[[Any], ChatCommand]] = {
    chat.Join: lambda m: commands.Join(m.room),
    chat.Leave: lambda m: commands.Leave(m.room, m.reason),
    chat.Say: lambda m: commands.Say(m.room, m.text),
    chat.SetTopic: lambda m: commands.SetTopic(m.room, m.topic),
    chat.Whisper: lambda m: commands.Whisper(m.to, m.text),
    chat.SetNick: lambda m: commands.ChangeNick(m.nick),
    chat.ListRooms: lambda _: commands.ListRooms(),
    chat.ListNames: lambda m: commands.ListNames(m.room),
}


def to_message(event: ChatEvent) -> chat.ServerMessage:
    """Translate a chat event into the protocol's message."""
    return _TRANSLATIONS[type(event)](event)


def render(event: ChatEvent) -> bytes:
    """Encode a chat event as one protocols.chat frame (rooms call this once per broadcast)."""
    return chat.WIRE.encode(to_message(event))


def fatal_reason(code: chat.ErrorCode) -> str:
    """Return the `Quitted` reason after the fatal error `code`: its name, in words."""
    name: str = code.name
    return name.lower().replace("_", " ")


class _HeartbeatTick:
    """Time to send a ServerPing."""


class BinaryChatSession(actornet.Session[chat.ChatMessage]):
    """One chat client speaking protocols.chat: the door to its `ChatUser`.

    `limits` must be the directory's: the user enforces its rooms per user,
    the directory and the rooms the rest.
    """

    def __init__(
        self,
        directory_ref: pykka.ActorRef[Any],
        rate_per_second: float = RATE_PER_SECOND,
        *,
        limits: ChatLimits | None = None,
        server_name: str = SERVER_NAME,
    ) -> None:
        super().__init__()
        self.directory_ref = directory_ref
        self.rate_per_second = rate_per_second
        self.limits = limits
        self.server_name = server_name
        #: The user, from `on_connect` on.
        self.user: ChatUser | None = None
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

    def on_connect(self) -> None:
        """Create the user and start the heartbeat."""
        self.user = ChatUser(
            Member(self.conn_outbox, self.door_renderer()),
            self.directory_ref,
            self.actor_ref,
            close=self.close,
            rate_per_second=self.rate_per_second,
            limits=self.limits,
            server_name=self.server_name,
        )
        self.heartbeat = self.tell_later(HEARTBEAT_INTERVAL, _HeartbeatTick())

    def on_event(self, event: chat.ChatMessage) -> None:
        """Translate one frame from the client into a command for the user."""
        if isinstance(event, chat.Pong):
            return  # whatever its token: any frame keeps the connection alive
        if isinstance(event, chat.Ping):
            self.send(chat.ServerPong(token=event.token))
            return
        user = self.user
        assert user is not None, "on_connect() creates the user"
        if isinstance(event, chat.Quit):
            user.handle(commands.Quit(event.reason))
            return
        if not user.admit():
            return
        if isinstance(event, chat.ServerMessage):
            self._fatal(
                chat.ErrorCode.UNEXPECTED_MESSAGE,
                f"{type(event).__name__} is sent by servers, not clients",
            )
        elif isinstance(event, chat.Hello):
            self._hello(event, user)
        elif (translate := _COMMANDS.get(type(event))) is not None:
            user.handle(translate(event))

    def _hello(self, hello: chat.Hello, user: ChatUser) -> None:
        if user.registered:
            self._fatal(chat.ErrorCode.UNEXPECTED_MESSAGE, "Hello was already accepted")
        elif hello.version != chat.PROTOCOL_VERSION:
            self._fatal(
                chat.ErrorCode.UNSUPPORTED_VERSION,
                f"version {hello.version} is not supported; this server speaks "
                f"{chat.PROTOCOL_VERSION}",
            )
        else:
            user.handle(commands.Register(hello.nick))

    def on_receive(self, message: Any) -> None:
        """Pass the directory's and the rooms' answers to the user; send heartbeats."""
        if self.user is not None and self.user.hear(message):
            return
        if self.conn_disconnect_reason is not None:
            return  # nobody to tell
        if isinstance(message, _HeartbeatTick):
            self.send(chat.ServerPing(token=next(self.ping_tokens) & 0xFFFF_FFFF))
            self.heartbeat = self.tell_later(HEARTBEAT_INTERVAL, _HeartbeatTick())
        else:
            super().on_receive(message)

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        """Say why (where the client can still hear it); the user leaves its rooms."""
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        self._farewell(reason)
        if self.user is None:
            return
        code = self.fatal
        if code is None and reason is actornet.DisconnectReason.PROTOCOL_ERROR:
            code = self._protocol_error_code()
        self.user.disconnect(reason, fatal=None if code is None else fatal_reason(code))

    def _fatal(self, code: chat.ErrorCode, detail: str) -> None:
        self.fatal = code
        self.send(chat.Error(code=code, subject="", detail=detail))
        # The close code is for doors with a closing handshake (WebSocket).
        self.close(code=_POLICY_VIOLATION, reason=code.name)

    def _protocol_error_code(self) -> chat.ErrorCode:
        if isinstance(self.conn_disconnect_error, FrameTooLarge):
            return chat.ErrorCode.FRAME_TOO_LARGE
        return chat.ErrorCode.MALFORMED

    def _farewell(self, reason: actornet.DisconnectReason) -> None:
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
            error = rules.clip(str(self.conn_disconnect_error), 1000)
            reply = chat.Error(code=self._protocol_error_code(), subject="", detail=error)
        if reply is not None:
            with contextlib.suppress(actornet.ClosedConnectionError):
                self.send(reply)
