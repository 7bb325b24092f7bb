"""The IRC door: a minimal IRC server in front of the chat (channels are rooms).

The chat itself is `ChatUser`'s; this door adds what IRC defines: registration
(`NICK` + `USER`, a minimal `CAP`), `PING`, numerics, and each event's lines.
Two tables do the work: `_COMMANDS` (IRC command -> chat command) and
`_LINES` (chat event -> IRC lines). Choices: history replayed on join is not
sent (IRC has no history without the chathistory extension); a user's own
channel lines and whispers are not echoed back (no echo-message); a `QUIT` or
`NICK` is sent once per shared room, as the rooms deliver them; a topic is
shown as 332/331 both on join and on change.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import commands, rules
from examples.chat.events import (
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
    Welcomed,
)
from examples.chat.limits import ChatLimits
from examples.chat.rate import RATE_PER_SECOND
from examples.chat.user import ChatUser, UserState
from protocols import irc
from protocols.irc import Message, Numeric

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka

    from examples.chat.commands import ChatCommand
    from examples.chat.events import ChatEvent

#: The prefix of the server's own messages, by default (`--server-name`).
SERVER_NAME = "actornet-chat"

_N = Numeric
_REFUSALS: dict[Refusal, Numeric | str] = {
    Refusal.NOT_REGISTERED: _N.ERR_NOTREGISTERED,
    Refusal.INVALID_NICK: _N.ERR_ERRONEUSNICKNAME,
    Refusal.NICK_IN_USE: _N.ERR_NICKNAMEINUSE,
    Refusal.INVALID_ROOM: _N.ERR_NOSUCHCHANNEL,
    Refusal.NOT_IN_ROOM: _N.ERR_NOTONCHANNEL,
    Refusal.NO_SUCH_NICK: _N.ERR_NOSUCHNICK,
    Refusal.INVALID_TEXT: _N.ERR_NOTEXTTOSEND,
    Refusal.TOO_MANY_ROOMS: "405",
    Refusal.SERVER_FULL: "405",
    Refusal.ROOM_FULL: "471",
}  # RATE_LIMITED goes out as a NOTICE: IRC has no numeric for it; 405 and 471 are not in
# protocols.irc.Numeric: ERR_TOOMANYCHANNELS, ERR_CHANNELISFULL

# Disconnections the client cannot hear an ERROR after.
_UNHEARD = (actornet.DisconnectReason.PEER_CLOSED, actornet.DisconnectReason.CONNECTION_BROKEN)

# IRC commands that are chat commands once their parameters are there: (least params, command).
_COMMANDS: dict[str, tuple[int, Callable[[tuple[str, ...]], ChatCommand]]] = {
    "PART": (1, lambda p: commands.Leave(p[0], p[1] if len(p) > 1 else "")),
    "TOPIC": (2, lambda p: commands.SetTopic(p[0], p[1])),
    "NAMES": (1, lambda p: commands.ListNames(p[0])),
    "LIST": (0, lambda _: commands.ListRooms()),
}


def _said(door: IrcChatSession, e: MessageSaid) -> list[Message]:
    if e.replay or rules.key(e.nick) == rules.key(door.nick):
        return []
    return door.relay(e.nick, "PRIVMSG", e.room, e.text)


def _whispered(door: IrcChatSession, e: PrivateMessage) -> list[Message]:
    if rules.key(e.sender) == rules.key(door.nick) != rules.key(e.to):
        return []  # the sender's copy
    return door.relay(e.sender, "PRIVMSG", e.to, e.text)


def _topic(door: IrcChatSession, e: TopicIs) -> list[Message]:
    if not e.topic:
        return [door.numeric(_N.RPL_NOTOPIC, e.room, "No topic is set")]
    return [door.numeric(_N.RPL_TOPIC, e.room, e.topic)]


def _refused(door: IrcChatSession, e: Refused) -> list[Message]:
    numeric = _REFUSALS.get(e.refusal)
    if numeric is None:
        return [door.notice(e.detail)]
    return [door.numeric(numeric, *([e.subject] if e.subject else []), e.detail)]


_LINES: dict[type[Any], Callable[[IrcChatSession, Any], list[Message]]] = {
    Welcomed: lambda door, _: door.welcome(),
    MessageSaid: _said,
    PrivateMessage: _whispered,
    MemberJoined: lambda door, e: [
        Message(command="JOIN", params=(e.room,), source=door.source(e.nick))
    ],
    MemberLeft: lambda door, e: [
        Message(command="PART", params=(e.room, e.reason), source=door.source(e.nick))
    ],
    MemberQuit: lambda door, e: [
        Message(command="QUIT", params=(e.reason,), source=door.source(e.nick))
    ],
    NickChange: lambda door, e: [
        Message(command="NICK", params=(e.new,), source=door.source(e.old))
    ],
    TopicIs: _topic,
    MembersAre: lambda door, e: (
        [door.numeric(_N.RPL_NAMREPLY, "=", e.room, " ".join(e.nicks))] if e.nicks else []
    ),
    MembersDone: lambda door, e: [door.numeric(_N.RPL_ENDOFNAMES, e.room, "End of /NAMES list")],
    RoomSummary: lambda door, e: [door.numeric(_N.RPL_LIST, e.room, str(e.members), e.topic)],
    RoomListDone: lambda door, _: [door.numeric(_N.RPL_LISTEND, "End of /LIST")],
    Refused: _refused,
    ServerNotice: lambda door, e: [door.notice(e.text)],
}


class IrcChatSession(actornet.Session[irc.IrcEvent]):
    """One IRC client: the door to its `ChatUser`.

    Numerics name their recipient, so each session renders its own lines
    (rooms render a broadcast once per IRC member). `limits` must be the
    directory's.
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
        self.limits = limits if limits is not None else ChatLimits()
        self.server_name = server_name
        self.user: ChatUser | None = None
        # Registration: the NICK asked for, whether USER came, whether CAP holds it back.
        self.wanted_nick: str | None = None
        self.got_user = False
        self.negotiating = False

    @property
    def nick(self) -> str:
        """The nick numerics are addressed to: "*" before registration."""
        return (self.user.nick if self.user is not None else None) or "*"

    # -- rendering (in the rooms' and the directory's turns too) ------------

    def render(self, event: ChatEvent) -> bytes:
        """Encode a chat event as this client's IRC lines (b"" for none)."""
        return b"".join(irc.encode(line) for line in _LINES[type(event)](self, event))

    def source(self, nick: str) -> str:
        """Return the source of a user's messages."""
        return f"{nick}!{nick}@{self.server_name}"

    def numeric(self, numeric: Numeric | str, *params: str) -> Message:
        """Return a numeric reply to this client."""
        code = numeric if isinstance(numeric, str) else numeric.code
        return Message(command=code, params=(self.nick, *params), source=self.server_name)

    def notice(self, text: str) -> Message:
        """Return a NOTICE from the server to this client."""
        return Message(
            command="NOTICE", params=(self.nick, rules.clip(text, 400)), source=self.server_name
        )

    def relay(self, nick: str, command: str, target: str, text: str) -> list[Message]:
        """Return `text` from `nick` to `target`, cut into lines that fit."""
        budget = irc.trailing_budget(command, (target,), source=self.source(nick))
        return [
            Message(command=command, params=(target, piece), source=self.source(nick))
            for piece in irc.fit_trailing(text, budget)
        ]

    def welcome(self) -> list[Message]:
        """Return the lines that end registration: 001 to 005 and 422."""
        server, limits = self.server_name, self.limits
        supported = (
            "CHANTYPES=#",
            f"NICKLEN={rules.MAX_NICK_LENGTH}",
            f"CHANNELLEN={rules.MAX_ROOM_LENGTH + 1}",
            f"TOPICLEN={rules.MAX_TOPIC_BYTES}",
            "CASEMAPPING=ascii",
            f"CHANLIMIT=#:{limits.max_rooms_per_user}",
        )
        return [
            self.numeric(_N.RPL_WELCOME, f"Welcome to the chat, {self.nick}"),
            self.numeric(_N.RPL_YOURHOST, f"Your host is {server}"),
            self.numeric(_N.RPL_CREATED, "This server was created by actornet"),
            self.numeric(_N.RPL_MYINFO, server, "actornet", "i", "t"),
            self.numeric(_N.RPL_ISUPPORT, *supported, "are supported by this server"),
            self.numeric(_N.ERR_NOMOTD, "MOTD File is missing"),
        ]

    # -- the session --------------------------------------------------------

    def on_connect(self) -> None:
        """Create the user."""
        self.user = ChatUser(
            Member(self.conn_outbox, self.render),
            self.directory_ref,
            self.actor_ref,
            close=self.close,
            rate_per_second=self.rate_per_second,
            limits=self.limits,
        )

    def on_event(self, event: irc.IrcEvent) -> None:
        """Translate one line from the client into a command for the user."""
        user = self.user
        assert user is not None, "on_connect() creates the user"
        if not isinstance(event, Message):
            return  # EMPTY_LINE: IRC ignores it
        command, params = event.command.upper(), event.params
        if command == "PING":
            self.send(
                Message(
                    command="PONG", params=(self.server_name, *params[:1]), source=self.server_name
                )
            )
        elif command in ("PONG", "PASS"):
            pass
        elif command == "QUIT":
            user.handle(commands.Quit(params[0] if params else ""))
        elif not user.admit():
            pass
        elif command in ("CAP", "NICK", "USER"):
            self._register(user, command, params)
        elif user.state is UserState.CONNECTED:
            self.send(self.numeric(_N.ERR_NOTREGISTERED, "You have not registered"))
        else:
            self._command(user, command, params)

    def _command(self, user: ChatUser, command: str, params: tuple[str, ...]) -> None:
        if command in ("JOIN", "PRIVMSG"):
            self._targets(user, command, params)
        elif (known := _COMMANDS.get(command)) is not None:
            least, translate = known
            if len(params) < least:
                self.send(self.numeric(_N.ERR_NEEDMOREPARAMS, command, "Not enough parameters"))
            else:
                user.handle(translate(params))
        else:
            self.send(self.numeric(_N.ERR_UNKNOWNCOMMAND, command, "Unknown command"))

    def _register(self, user: ChatUser, command: str, params: tuple[str, ...]) -> None:
        if command == "CAP":
            sub = params[0].upper() if params else ""
            if sub == "LS":
                self.negotiating = not user.registered
                self.send(
                    Message(command="CAP", params=(self.nick, "LS", ""), source=self.server_name)
                )
            elif sub == "END":
                self.negotiating = False
            elif sub == "REQ" and len(params) > 1:
                self.send(
                    Message(
                        command="CAP", params=(self.nick, "NAK", params[1]), source=self.server_name
                    )
                )
        elif not params:
            self.send(self.numeric(_N.ERR_NEEDMOREPARAMS, command, "Not enough parameters"))
        elif command == "NICK" and user.registered:
            user.handle(commands.ChangeNick(params[0]))
        elif command == "NICK":
            self.wanted_nick = params[0]
        elif not user.registered:
            self.got_user = True
        ready = self.got_user and self.wanted_nick is not None and not self.negotiating
        if ready and user.state is UserState.CONNECTED:
            nick, self.wanted_nick = self.wanted_nick or "", None
            user.handle(commands.Register(nick))

    def _targets(self, user: ChatUser, command: str, params: tuple[str, ...]) -> None:
        least = 1 if command == "JOIN" else 2
        if len(params) < least:
            self.send(self.numeric(_N.ERR_NEEDMOREPARAMS, command, "Not enough parameters"))
            return
        for target in params[0].split(","):
            if command == "JOIN":
                user.handle(commands.Join(target))
            elif not target.startswith("#"):
                user.handle(commands.Whisper(target, params[1]))
            elif (key := rules.key(target)) in user.rooms or key in user.joining:
                user.handle(commands.Say(target, params[1]))
            else:
                self.send(self.numeric(_N.ERR_CANNOTSENDTOCHAN, target, "Join the channel first"))

    def on_receive(self, message: Any) -> None:
        """Pass the directory's and the rooms' answers to the user."""
        if self.user is None or not self.user.hear(message):
            super().on_receive(message)

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        """Say why where the client can still hear it; the user leaves its rooms."""
        error = self.conn_disconnect_error
        farewell: Message | None = None
        if isinstance(error, irc.LineTooLong):
            farewell = error.reply(server=self.server_name, nick=self.nick)
        elif reason not in _UNHEARD:
            farewell = Message(command="ERROR", params=(f"Closing link: {reason.value}",))
        if farewell is not None:
            with contextlib.suppress(actornet.ClosedConnectionError):
                self.send(farewell)
        if self.user is not None:
            too_long = isinstance(error, irc.LineTooLong)
            self.user.disconnect(reason, fatal="line too long" if too_long else None)
