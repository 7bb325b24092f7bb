"""The IRC door's output: chat events as the lines an IRC server sends.

Two kinds of lines. What a room broadcasts (`PRIVMSG`, `JOIN`, `PART`,
`QUIT`, `NICK`, `TOPIC`) is the same for every recipient, so `SharedLines`
renders it once per broadcast for every IRC member with the same capabilities
(`shared_lines` hands them one object). What is sent to one user (numerics,
which name their recipient; history; answers to questions) is rendered by that
user's `OwnLines`.
"""

from __future__ import annotations

import functools
import re
import time
from typing import TYPE_CHECKING, Any

from examples.chat import rules
from examples.chat.events import (
    IsAway,
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
from protocols import irc
from protocols.irc import Message, Numeric

if TYPE_CHECKING:
    from collections.abc import Callable

    from examples.chat.events import ChatEvent
    from examples.chat.limits import ChatLimits
    from examples.chat.user import ChatUser

_N = Numeric

#: The `tag` the door puts on `ListNames` and `Lookup` for WHO and WHOIS.
WHO = "WHO"
WHOIS = "WHOIS"

_REFUSALS: dict[Refusal, Numeric] = {
    Refusal.NOT_REGISTERED: _N.ERR_NOTREGISTERED,
    Refusal.INVALID_NICK: _N.ERR_ERRONEUSNICKNAME,
    Refusal.NICK_IN_USE: _N.ERR_NICKNAMEINUSE,
    Refusal.INVALID_ROOM: _N.ERR_NOSUCHCHANNEL,
    Refusal.NOT_IN_ROOM: _N.ERR_NOTONCHANNEL,
    Refusal.NO_SUCH_NICK: _N.ERR_NOSUCHNICK,
    Refusal.INVALID_TEXT: _N.ERR_NOTEXTTOSEND,
    Refusal.TOO_MANY_ROOMS: _N.ERR_TOOMANYCHANNELS,
    Refusal.SERVER_FULL: _N.ERR_TOOMANYCHANNELS,
    Refusal.ROOM_FULL: _N.ERR_CHANNELISFULL,
}  # RATE_LIMITED goes out as a NOTICE: IRC has no numeric for it.


#: The chat's spelling of an action (IRC's CTCP ACTION, `/me`): text that starts with it.
ACTION_PREFIX = "/me "
_CTCP_ACTION = "\x01ACTION "
# mIRC formatting: bold, colour (with its numbers), hex colour, reset, monospace, reverse,
# italics, strike-through, underline.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


def from_irc_text(text: str) -> str | None:
    """Return an IRC message's text as the chat's: formatting removed, an ACTION as "/me ...".

    Returns None for any other CTCP request (VERSION, PING, DCC...), which the
    chat does not carry.
    """
    if text.isascii() and text.isprintable():
        return text  # no CTCP, no formatting: the usual line
    if text.startswith("\x01"):
        body = text[1:].removesuffix("\x01")
        if not body.upper().startswith("ACTION"):
            return None
        text = ACTION_PREFIX + body[len("ACTION") :].lstrip(" ")
    return _FORMATTING.sub("", text)


#: The most bytes of a parameter that is not the last one (a nick or room as the client sent it).
MAX_MIDDLE_BYTES = 64


def fitted(command: str, params: tuple[str, ...], source: str) -> tuple[str, ...]:
    """Return `params` made valid for a line from `source`, whatever the client sent.

    Every parameter but the last loses its spaces and leading colons, is cut to
    `MAX_MIDDLE_BYTES` and is never empty ("*"); the last is cut to what the line has left.
    """
    *middles, last = params or ("",)
    middles = [
        irc.truncate_trailing(p.replace(" ", "_").lstrip(":"), MAX_MIDDLE_BYTES) or "*"
        for p in middles
    ]
    budget = irc.trailing_budget(command, middles, source=source)
    return (*middles, irc.truncate_trailing(last, budget))


def server_time(time_ms: int) -> str:
    """Return Unix milliseconds as IRCv3 `server-time` writes them (`2026-12-02T04:05:06.789Z`)."""
    seconds, ms = divmod(time_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def now_ms() -> int:
    """Return Unix time in milliseconds."""
    return time.time_ns() // 1_000_000


class SharedLines:
    """Renders the broadcasts that read the same to every recipient.

    `server_time` adds the IRCv3 `time` tag (the `server-time` capability).
    Usable as a `Member.shared` renderer; rooms then encode each broadcast
    once for all members that share this object.
    """

    def __init__(self, server_name: str, *, server_time: bool) -> None:
        self.server_name = server_name
        self.server_time = server_time

    def __repr__(self) -> str:
        return f"<SharedLines {self.server_name} server_time={self.server_time}>"

    def __call__(self, event: ChatEvent) -> bytes:
        """Encode a broadcast as IRC lines (b"" for events that are never broadcast)."""
        if type(event) is MessageSaid:
            line = self.said_line(event)
            if line is not None:
                return line
        return b"".join(irc.encode(line) for line in self.lines(event))

    def said_line(self, e: MessageSaid) -> bytes | None:
        """A room line that fits in one IRC line, built directly; None for any other case.

        The chat's rules have checked the room name and the text (no CR, LF or NUL),
        so only the length is left to check; `lines()` builds the same bytes.
        """
        text = e.text
        if text.startswith(ACTION_PREFIX):
            return None
        command = "NOTICE" if e.notice else "PRIVMSG"
        nick = e.nick
        line = f":{nick}!{nick}@{self.server_name} {command} {e.room} :{text}\r\n".encode()
        if len(line) > irc.MAX_MESSAGE_BYTES:
            return None
        if self.server_time:
            return b"@time=" + server_time(e.time_ms).encode() + b" " + line
        return line

    def lines(self, event: ChatEvent) -> list[Message]:
        """Return a broadcast's lines ([] for events that are never broadcast)."""
        if isinstance(event, MessageSaid):
            command = "NOTICE" if event.notice else "PRIVMSG"
            return self.relay(event.nick, command, event.room, event.text, time_ms=event.time_ms)
        if isinstance(event, PrivateMessage):
            command = "NOTICE" if event.notice else "PRIVMSG"
            return self.relay(event.sender, command, event.to, event.text, time_ms=event.time_ms)
        simple = _SIMPLE.get(type(event))
        if simple is None:
            return []
        nick, command, params = simple(event)
        return [self.message(nick, command, *params)]

    def source(self, nick: str) -> str:
        """Return the source of a user's messages: `nick!nick@server`."""
        return f"{nick}!{nick}@{self.server_name}"

    def tags(self, time_ms: int | None = None) -> dict[str, str]:
        """Return the tags of a line sent now, or of one said at `time_ms`."""
        if not self.server_time:
            return {}
        return {"time": server_time(now_ms() if time_ms is None else time_ms)}

    def message(self, nick: str, command: str, *params: str) -> Message:
        """Return `command` from the user `nick`, sent now."""
        return Message(command=command, params=params, source=self.source(nick), tags=self.tags())

    def relay(  # noqa: PLR0913 - a line's parts
        self, nick: str, command: str, target: str, text: str, *, time_ms: int, prefix: str = ""
    ) -> list[Message]:
        """Return `text` (after `prefix`) from `nick` to `target`, cut into lines that fit.

        An action (text starting with `ACTION_PREFIX`) goes out as a CTCP ACTION.
        """
        source, tags = self.source(nick), self.tags(time_ms)
        start, end = prefix, ""
        if text.startswith(ACTION_PREFIX):
            start, end, text = _CTCP_ACTION + prefix, "\x01", text[len(ACTION_PREFIX) :]
        budget = irc.trailing_budget(command, (target,), source=source)
        budget -= len(start.encode()) + len(end)
        return [
            Message(command=command, params=(target, start + piece + end), source=source, tags=tags)
            for piece in irc.fit_trailing(text, budget)
        ]


# Broadcasts that are one line: event -> (whose, command, params).
_SIMPLE: dict[type[Any], Callable[[Any], tuple[str, str, tuple[str, ...]]]] = {
    MemberJoined: lambda e: (e.nick, "JOIN", (e.room,)),
    MemberLeft: lambda e: (e.nick, "PART", (e.room, e.reason)),
    MemberQuit: lambda e: (e.nick, "QUIT", (e.reason,)),
    NickChange: lambda e: (e.old, "NICK", (e.new,)),
    TopicIs: lambda e: (e.set_by, "TOPIC", (e.room, e.topic)),
}


@functools.cache
def shared_lines(server_name: str, *, server_time: bool) -> SharedLines:
    """Return the one `SharedLines` for these settings, so rooms render once for all who use it."""
    return SharedLines(server_name, server_time=server_time)


class OwnLines:
    """Renders what one IRC user alone is sent: numerics, history, answers.

    Numerics are addressed to `user`'s nick ("*" before registration), and
    lines carry what `shared` (the `SharedLines` of the user's capabilities)
    adds. The session sets both; they are read when rendering, in whatever
    thread delivers the event.
    """

    __slots__ = ("limits", "server_name", "shared", "user")

    def __init__(self, server_name: str, limits: ChatLimits, shared: SharedLines) -> None:
        self.server_name = server_name
        self.limits = limits
        self.shared = shared
        self.user: ChatUser | None = None

    @property
    def nick(self) -> str:
        """The nick numerics are addressed to: "*" before registration."""
        user = self.user
        return (user.nick if user is not None else None) or "*"

    def __call__(self, event: ChatEvent) -> bytes:
        """Encode an event sent to this user alone as its IRC lines."""
        own = _OWN.get(type(event))
        lines = own(self, event) if own is not None else self.shared.lines(event)
        return b"".join(irc.encode(line) for line in lines)

    def numeric(self, numeric: Numeric, *params: str) -> Message:
        """Return a numeric reply to this user (parameters `fitted`: they may echo the client)."""
        code, source = numeric.code, self.server_name
        return Message(
            command=code,
            params=fitted(code, (self.nick, *params), source),
            source=source,
            tags=self.shared.tags(),
        )

    def notice(self, text: str) -> Message:
        """Return a NOTICE from the server to this user."""
        source = self.server_name
        return Message(
            command="NOTICE",
            params=fitted("NOTICE", (self.nick, text), source),
            source=source,
            tags=self.shared.tags(),
        )

    def server_message(self, command: str, *params: str) -> Message:
        """Return `command` from the server, not addressed to the user (PONG, CAP, ERROR)."""
        source = self.server_name
        return Message(command=command, params=fitted(command, params, source), source=source)

    def welcome(self) -> list[Message]:
        """Return the lines that end registration: 001 to 005 and 422."""
        server, limits = self.server_name, self.limits
        rooms = limits.max_rooms_per_user
        supported = (
            "AWAYLEN=400",
            f"CHANLIMIT=#:{limits.max_rooms_per_user}",
            f"CHANNELLEN={rules.MAX_ROOM_LENGTH + 1}",
            "CHANMODES=b,,,n",
            "CHANTYPES=#",
            "CASEMAPPING=ascii",
            f"NETWORK={server}",
            f"NICKLEN={rules.MAX_NICK_LENGTH}",
            "PREFIX=",
            f"TARGMAX=JOIN:{rooms},NAMES:{rooms},NOTICE:4,PART:{rooms},PRIVMSG:4,WHOIS:10",
            f"TOPICLEN={rules.MAX_TOPIC_BYTES}",
        )
        return [
            self.numeric(_N.RPL_WELCOME, f"Welcome to the chat, {self.nick}"),
            self.numeric(_N.RPL_YOURHOST, f"Your host is {server}"),
            self.numeric(_N.RPL_CREATED, "This server was created by actornet"),
            self.numeric(_N.RPL_MYINFO, server, "actornet", "i", "bn"),
            self.numeric(_N.RPL_ISUPPORT, *supported, "are supported by this server"),
            self.numeric(_N.ERR_NOMOTD, "MOTD File is missing"),
        ]

    def history(self, e: MessageSaid) -> list[Message]:
        """A line replayed on join: its own time in the `time` tag, or in front of the text."""
        shared = self.shared
        prefix = "" if shared.server_time else f"[{server_time(e.time_ms)[11:19]} UTC] "
        command = "NOTICE" if e.notice else "PRIVMSG"
        return shared.relay(e.nick, command, e.room, e.text, time_ms=e.time_ms, prefix=prefix)

    def topic(self, e: TopicIs) -> list[Message]:
        """332 and 333, or 331 when there is no topic."""
        if not e.topic:
            return [self.numeric(_N.RPL_NOTOPIC, e.room, "No topic is set")]
        topic = [self.numeric(_N.RPL_TOPIC, e.room, e.topic)]
        if e.set_by:
            when = str(e.time_ms // 1000)
            topic.append(self.numeric(_N.RPL_TOPICWHOTIME, e.room, e.set_by, when))
        return topic

    def members(self, e: MembersAre) -> list[Message]:
        """353 (NAMES) or 352 per member (WHO)."""
        if e.tag == WHO:
            return [self.who_line(e.room, nick, away=nick in e.away) for nick in e.nicks]
        if not e.nicks:
            return []
        head = (self.nick, "=", e.room)
        budget = irc.trailing_budget(_N.RPL_NAMREPLY.code, head, source=self.server_name)
        return [
            self.numeric(_N.RPL_NAMREPLY, "=", e.room, nicks)
            for nicks in irc.fit_trailing(" ".join(e.nicks), budget)
        ]

    def who_line(self, channel: str, nick: str, *, away: bool) -> Message:
        """One 352: the chat knows no user names or hosts, so the nick and server stand in."""
        server = self.server_name
        flags = "G" if away else "H"
        return self.numeric(
            _N.RPL_WHOREPLY, channel, nick, server, server, nick, flags, f"0 {nick}"
        )

    def user_info(self, e: UserInfo) -> list[Message]:
        """WHOIS: 311, 319, 312, 301, 318 (401 and 318 if nobody); WHO of a nick: 352, 315."""
        if e.tag == WHO:
            found = [self.who_line("*", e.nick, away=bool(e.away))] if e.found else []
            return [*found, self.numeric(_N.RPL_ENDOFWHO, e.nick, "End of /WHO list")]
        end = self.numeric(_N.RPL_ENDOFWHOIS, e.nick, "End of /WHOIS list")
        if not e.found:
            return [self.numeric(_N.ERR_NOSUCHNICK, e.nick, "No such nick/channel"), end]
        server = self.server_name
        lines = [self.numeric(_N.RPL_WHOISUSER, e.nick, e.nick, server, "*", e.nick)]
        if e.rooms:
            # 319 lists rooms in one line; a long list is cut to what fits.
            rooms = irc.fit_trailing(" ".join(e.rooms), 400)[0]
            lines.append(self.numeric(_N.RPL_WHOISCHANNELS, e.nick, rooms))
        lines.append(self.numeric(_N.RPL_WHOISSERVER, e.nick, server, "actornet chat"))
        if e.away:
            lines.append(self.numeric(_N.RPL_AWAY, e.nick, e.away))
        return [*lines, end]

    def refused(self, e: Refused) -> list[Message]:
        """The refusal's numeric (subject first, if any), or a NOTICE when IRC has none."""
        numeric = _REFUSALS.get(e.refusal)
        if numeric is None:
            return [self.notice(e.detail)]
        # The chat's words for this one name the binary door's Hello.
        detail = "You have not registered" if numeric is _N.ERR_NOTREGISTERED else e.detail
        return [self.numeric(numeric, *([e.subject] if e.subject else []), detail)]


_OWN: dict[type[Any], Callable[[OwnLines, Any], list[Message]]] = {
    Welcomed: lambda own, _: own.welcome(),
    MessageSaid: lambda own, e: own.history(e) if e.replay else own.shared.lines(e),
    TopicIs: OwnLines.topic,
    MembersAre: OwnLines.members,
    MembersDone: lambda own, e: [
        own.numeric(_N.RPL_ENDOFWHO, e.room, "End of /WHO list")
        if e.tag == WHO
        else own.numeric(_N.RPL_ENDOFNAMES, e.room, "End of /NAMES list")
    ],
    RoomSummary: lambda own, e: [own.numeric(_N.RPL_LIST, e.room, str(e.members), e.topic)],
    RoomListDone: lambda own, _: [own.numeric(_N.RPL_LISTEND, "End of /LIST")],
    UserInfo: OwnLines.user_info,
    IsAway: lambda own, e: [own.numeric(_N.RPL_AWAY, e.nick, e.message)],
    Refused: OwnLines.refused,
    ServerNotice: lambda own, e: [own.notice(e.text)],
}
