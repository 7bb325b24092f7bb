"""The IRC door: an IRC server in front of the chat (channels are rooms).

The chat itself is `ChatUser`'s; this door adds what IRC defines:
registration (`NICK`, `USER`, `CAP`), keepalives (`PING` both ways), and the
commands of `_COMMANDS`, each a translation into chat commands. Its lines are
`irc_lines`'s. Choices: history replayed on join carries its time in the
`time` tag (the `server-time` capability) or in front of the text; a user's own
lines come back only with `echo-message`; client tags (`message-tags`) are
accepted and not relayed; there are no channel operators or modes to set, so
`MODE` answers and refuses; a `QUIT` or `NICK` is sent once per shared room,
as the rooms deliver them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import actornet
from examples.chat import commands, rules
from examples.chat.events import Member
from examples.chat.irc_lines import WHO, WHOIS, OwnLines, from_irc_text, shared_lines
from examples.chat.limits import ChatLimits
from examples.chat.rate import RATE_PER_SECOND
from examples.chat.user import ChatUser, UserState
from protocols import irc
from protocols.irc import Message, Numeric

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka

    from actornet.lowlevel import Timer

#: The prefix of the server's own messages, by default (`--server-name`).
SERVER_NAME = "actornet-chat"
#: Seconds between the server's PINGs (the idle timeout drops who never answers).
HEARTBEAT_INTERVAL = 30.0
#: Seconds a connection may take to register (NICK, USER and CAP END), by default.
REGISTRATION_TIMEOUT = 60.0
#: The capabilities offered in `CAP LS`; `multi-prefix` changes nothing: nobody has a prefix.
CAPABILITIES = ("echo-message", "message-tags", "multi-prefix", "server-time")
#: The most targets of one PRIVMSG or NOTICE, and of one WHOIS (`TARGMAX` in 005).
MAX_MESSAGE_TARGETS = 4
MAX_WHOIS_TARGETS = 10

_N = Numeric

# Disconnections the client cannot hear an ERROR after.
_UNHEARD = (actornet.DisconnectReason.PEER_CLOSED, actornet.DisconnectReason.CONNECTION_BROKEN)


@dataclass(slots=True)
class _Client:
    """What the door knows of its client beyond the chat: registration, capabilities, modes."""

    #: The NICK asked for before registration, whether USER came, whether CAP holds it back.
    wanted_nick: str | None = None
    got_user: bool = False
    negotiating: bool = False
    #: Capabilities the client enabled.
    caps: frozenset[str] = frozenset()
    user_modes: str = ""
    #: Why this side closed the connection, for the ERROR line and the rooms.
    fatal: str | None = None
    #: Seconds it may take to register.
    registration_timeout: float = REGISTRATION_TIMEOUT


class _HeartbeatTick:
    """Time to send a PING."""


class _RegistrationDeadline:
    """Time to close the connection if it has not registered."""


class IrcChatSession(actornet.Session[irc.IrcEvent]):
    """One IRC client: the door to its `ChatUser`.

    `limits` must be the directory's. A connection that has not registered
    within `registration_timeout` seconds is closed.
    """

    def __init__(
        self,
        directory_ref: pykka.ActorRef[Any],
        rate_per_second: float = RATE_PER_SECOND,
        *,
        limits: ChatLimits | None = None,
        server_name: str = SERVER_NAME,
        registration_timeout: float = REGISTRATION_TIMEOUT,
    ) -> None:
        super().__init__()
        self.directory_ref = directory_ref
        self.rate_per_second = rate_per_second
        self.limits = limits if limits is not None else ChatLimits()
        self.server_name = server_name
        self.user: ChatUser | None = None
        self.own = OwnLines(server_name, self.limits, shared_lines(server_name, server_time=False))
        self.client = _Client(registration_timeout=registration_timeout)
        self.timers: list[Timer] = []

    @property
    def nick(self) -> str:
        """The nick numerics are addressed to: "*" before registration."""
        return self.own.nick

    def send_numeric(self, numeric: Numeric, *params: str) -> None:
        """Send a numeric reply to this client."""
        self.send(self.own.numeric(numeric, *params))

    # -- the session --------------------------------------------------------

    def on_connect(self) -> None:
        """Create the user; start the heartbeat and the registration deadline."""
        self.user = self.own.user = ChatUser(
            Member(
                self.conn_outbox, self.own, shared=self.own.shared, echo=False, once_per_user=True
            ),
            self.directory_ref,
            self.actor_ref,
            close=self.close,
            rate_per_second=self.rate_per_second,
            limits=self.limits,
            server_name=self.server_name,
        )
        self.timers = [
            self.tell_later(HEARTBEAT_INTERVAL, _HeartbeatTick()),
            self.tell_later(self.client.registration_timeout, _RegistrationDeadline()),
        ]

    def on_event(self, event: irc.IrcEvent) -> None:
        """Translate one line from the client into commands for the user."""
        user = self.user
        assert user is not None, "on_connect() creates the user"
        if not isinstance(event, Message):
            return  # EMPTY_LINE: IRC ignores it
        command, params = event.command, event.params
        if command == "PING":
            self.send(self.own.server_message("PONG", self.server_name, *params[:1]))
        elif command in ("PONG", "PASS", "TAGMSG"):
            pass  # keepalive; no passwords; client-only tags are not relayed
        elif command == "QUIT":
            user.handle(commands.Quit(params[0] if params else ""))
        elif not user.admit():
            pass
        elif command in ("CAP", "NICK", "USER"):
            self._register(user, command, params)
        elif user.state is UserState.CONNECTED:
            self.send_numeric(_N.ERR_NOTREGISTERED, "You have not registered")
        elif (known := _COMMANDS.get(command)) is None:
            self.send_numeric(_N.ERR_UNKNOWNCOMMAND, command, "Unknown command")
        elif len(params) < known[0]:
            self.send_numeric(_N.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
        else:
            known[1](self, user, params)

    # -- registration -------------------------------------------------------

    def _register(self, user: ChatUser, command: str, params: tuple[str, ...]) -> None:
        if command == "CAP":
            self._cap(user, params)
        elif command == "NICK" and not params:
            self.send_numeric(_N.ERR_NONICKNAMEGIVEN, "No nickname given")
        elif not params:
            self.send_numeric(_N.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
        elif command == "NICK" and user.registered:
            if params[0] != user.nick:  # the same nick, as IRC servers do, changes nothing
                user.handle(commands.ChangeNick(params[0]))
        elif command == "NICK":
            self.client.wanted_nick = params[0]
        elif user.registered:
            self.send_numeric(_N.ERR_ALREADYREGISTERED, "You may not reregister")
        else:
            self.client.got_user = True
        ready = (
            self.client.got_user
            and self.client.wanted_nick is not None
            and not self.client.negotiating
        )
        if ready and user.state is UserState.CONNECTED:
            nick, self.client.wanted_nick = self.client.wanted_nick or "", None
            user.handle(commands.Register(nick))

    def _cap(self, user: ChatUser, params: tuple[str, ...]) -> None:
        sub = params[0].upper() if params else ""
        if sub == "LS":
            self.client.negotiating = not user.registered
            self._send_cap("LS", " ".join(CAPABILITIES))
        elif sub == "LIST":
            self._send_cap("LIST", " ".join(sorted(self.client.caps)))
        elif sub == "REQ":
            self.client.negotiating = self.client.negotiating or not user.registered
            asked = params[1] if len(params) > 1 else ""
            changes = asked.split()
            if not changes or any(c.removeprefix("-") not in CAPABILITIES for c in changes):
                self._send_cap("NAK", asked)
                return
            caps = set(self.client.caps)
            for change in changes:
                if change.startswith("-"):
                    caps.discard(change[1:])
                else:
                    caps.add(change)
            self._use_caps(frozenset(caps))
            self._send_cap("ACK", asked)
        elif sub == "END":
            self.client.negotiating = False
        else:
            self.send_numeric(_N.ERR_INVALIDCAPCMD, sub or "*", "Invalid CAP command")

    def _send_cap(self, sub: str, text: str) -> None:
        self.send(self.own.server_message("CAP", self.nick, sub, text))

    def _use_caps(self, caps: frozenset[str]) -> None:
        assert self.user is not None
        self.client.caps = caps
        self.own.shared = shared_lines(self.server_name, server_time="server-time" in caps)
        self.user.member.shared = self.own.shared
        self.user.member.echo = "echo-message" in caps

    # -- commands of a registered user --------------------------------------

    def _targets(self, user: ChatUser, listed: str, most: int) -> list[str]:
        """Return the first `most` targets of a comma list, as far as the rate limit admits.

        Each target after the first is a command of its own to the rate limit.
        """
        if "," not in listed:
            return [listed]  # one target, the usual case
        unique: dict[str, str] = {}
        for target in listed.split(","):  # a target named twice is one target
            unique.setdefault(rules.key(target), target)
        targets = list(unique.values())[:most]
        for count in range(1, len(targets)):
            if not user.admit():
                return targets[:count]
        return targets

    def _privmsg(self, user: ChatUser, params: tuple[str, ...], *, notice: bool = False) -> None:
        command = "NOTICE" if notice else "PRIVMSG"
        if not params:
            self.send_numeric(_N.ERR_NORECIPIENT, f"No recipient given ({command})")
            return
        if len(params) < 2 or not params[1]:
            self.send_numeric(_N.ERR_NOTEXTTOSEND, "No text to send")
            return
        text = from_irc_text(params[1])
        if text is None:
            return  # a CTCP request other than ACTION: nobody here answers those
        for target in self._targets(user, params[0], MAX_MESSAGE_TARGETS):
            if not target.startswith("#"):
                user.handle(commands.Whisper(target, text, notice))
            elif (key := rules.key(target)) in user.rooms or key in user.joining:
                user.handle(commands.Say(target, text, notice))
            elif not notice:
                self.send_numeric(_N.ERR_CANNOTSENDTOCHAN, target, "Join the channel first")

    def _join(self, user: ChatUser, params: tuple[str, ...]) -> None:
        if params[0] == "0":
            user.handle(commands.LeaveAll(""))
            return
        for room in self._targets(user, params[0], self.limits.max_rooms_per_user):
            user.handle(commands.Join(room))

    def _part(self, user: ChatUser, params: tuple[str, ...]) -> None:
        reason = params[1] if len(params) > 1 else ""
        for room in self._targets(user, params[0], self.limits.max_rooms_per_user):
            user.handle(commands.Leave(room, reason))

    def _topic(self, user: ChatUser, params: tuple[str, ...]) -> None:
        if len(params) == 1:
            user.handle(commands.ShowTopic(params[0]))
        else:
            user.handle(commands.SetTopic(params[0], params[1]))

    def _names(self, user: ChatUser, params: tuple[str, ...]) -> None:
        if not params:
            self.send_numeric(_N.RPL_ENDOFNAMES, "*", "End of /NAMES list")
            return
        for room in self._targets(user, params[0], self.limits.max_rooms_per_user):
            user.handle(commands.ListNames(room))

    def _list(self, user: ChatUser, _: tuple[str, ...]) -> None:
        self.send_numeric(_N.RPL_LISTSTART, "Channel", "Users  Name")
        user.handle(commands.ListRooms())

    def _who(self, user: ChatUser, params: tuple[str, ...]) -> None:
        mask = params[0] if params else "*"
        if mask.startswith("#"):
            user.handle(commands.ListNames(mask, tag=WHO))
        elif mask == "*" or not mask:
            self.send_numeric(_N.RPL_ENDOFWHO, mask, "End of /WHO list")
        else:
            user.handle(commands.Lookup(mask, tag=WHO))

    def _whois(self, user: ChatUser, params: tuple[str, ...]) -> None:
        nicks = params[-1] if params else ""
        if not nicks:
            self.send_numeric(_N.ERR_NONICKNAMEGIVEN, "No nickname given")
            return
        for nick in self._targets(user, nicks, MAX_WHOIS_TARGETS):
            user.handle(commands.Lookup(nick, tag=WHOIS))

    def _away(self, user: ChatUser, params: tuple[str, ...]) -> None:
        message = params[0] if params else ""
        user.handle(commands.SetAway(message))
        if message:
            self.send_numeric(_N.RPL_NOWAWAY, "You have been marked as being away")
        else:
            self.send_numeric(_N.RPL_UNAWAY, "You are no longer marked as being away")

    def _mode(self, _: ChatUser, params: tuple[str, ...]) -> None:
        target, change = params[0], params[1] if len(params) > 1 else ""
        if target.startswith("#"):
            self._channel_mode(target, change)
        elif rules.key(target) != rules.key(self.nick):
            self.send_numeric(_N.ERR_USERSDONTMATCH, "Can't change mode for other users")
        elif not change:
            self.send_numeric(_N.RPL_UMODEIS, "+" + self.client.user_modes)
        elif change.lstrip("+-") and set(change.lstrip("+-")) <= {"i"}:
            self.client.user_modes = "i" if change.startswith("+") else ""
            self.send(self.own.shared.message(self.nick, "MODE", self.nick, change))
        else:
            self.send_numeric(_N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")

    def _channel_mode(self, room: str, change: str) -> None:
        lists = {"b": _N.RPL_ENDOFBANLIST, "e": _N.RPL_ENDOFEXCEPTLIST, "I": _N.RPL_ENDOFINVITELIST}
        if (problem := rules.room_problem(room)) is not None:
            self.send_numeric(_N.ERR_NOSUCHCHANNEL, room, problem)
        elif not change:
            self.send_numeric(_N.RPL_CHANNELMODEIS, room, "+n")
        elif (end := lists.get(change.lstrip("+"))) is not None:
            self.send_numeric(end, room, "End of list")  # nobody is banned or excepted
        else:
            self.send_numeric(_N.ERR_CHANOPRIVSNEEDED, room, "Nobody may change modes here")

    # -- timers and the end -------------------------------------------------

    def on_receive(self, message: Any) -> None:
        """Pass the directory's and the rooms' answers to the user; run the timers."""
        if self.user is not None and self.user.hear(message):
            if self.user.registered and len(self.timers) > 1:
                self.timers.pop().cancel()  # the registration deadline
            return
        if isinstance(message, _HeartbeatTick):
            if self.conn_disconnect_reason is None:
                self.send(self.own.server_message("PING", self.server_name))
                self.timers[0] = self.tell_later(HEARTBEAT_INTERVAL, _HeartbeatTick())
        elif isinstance(message, _RegistrationDeadline):
            if self.user is not None and self.user.state is not UserState.REGISTERED:
                self.client.fatal = "registration timed out"
                self.close()
        else:
            super().on_receive(message)

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        """Say why where the client can still hear it; the user leaves its rooms."""
        for timer in self.timers:
            timer.cancel()
        error = self.conn_disconnect_error
        farewell: Message | None = None
        if isinstance(error, irc.LineTooLong):
            self.client.fatal = "line too long"
            farewell = error.reply(server=self.server_name, nick=self.nick)
        elif self.client.fatal is not None:
            farewell = Message(command="ERROR", params=(f"Closing link: {self.client.fatal}",))
        elif reason not in _UNHEARD:
            farewell = Message(command="ERROR", params=(f"Closing link: {reason.value}",))
        if farewell is not None:
            with contextlib.suppress(actornet.ClosedConnectionError):
                self.send(farewell)
        if self.user is not None:
            self.user.disconnect(reason, fatal=self.client.fatal)


#: Commands of a registered user: name -> (least parameters, handler).
_COMMANDS: dict[str, tuple[int, Callable[[IrcChatSession, ChatUser, tuple[str, ...]], None]]] = {
    "PRIVMSG": (0, IrcChatSession._privmsg),
    "NOTICE": (0, lambda door, user, p: door._privmsg(user, p, notice=True)),
    "JOIN": (1, IrcChatSession._join),
    "PART": (1, IrcChatSession._part),
    "TOPIC": (1, IrcChatSession._topic),
    "NAMES": (0, IrcChatSession._names),
    "LIST": (0, IrcChatSession._list),
    "WHO": (0, IrcChatSession._who),
    "WHOIS": (0, IrcChatSession._whois),
    "AWAY": (0, IrcChatSession._away),
    "MODE": (1, IrcChatSession._mode),
}
