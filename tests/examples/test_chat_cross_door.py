"""One room, three doors: an IRC user (raw socket), a binary user and a WebSocket user.

The server is `python -m examples.chat serve` as a subprocess; the users are those of
`_chat_users`. Checked across doors: each user's numbered lines reach every other user once
each and in the order sent, interleaved as they were sent; the binary and WebSocket users get
their own lines too (`Said` goes to every member, the speaker included, per
docs/chat-protocol.md) and the IRC user does not (no echo-message); nicks are one namespace;
a topic set at one door shows at the others.
"""

from __future__ import annotations

import contextlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import pytest
from _chat_users import BinaryUser, IrcUser, WebUser
from _processes import ChatServer

from protocols import chat, irc

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Lines each user sends in the interleaved test: with registration and join, within the
#: rate limit's burst (20 commands), so none is dropped.
LINES = 8

SERVER = "actornet-chat"

T = TypeVar("T")


@pytest.fixture
def server() -> Iterator[ChatServer]:
    running = ChatServer()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def _in_room(server: ChatServer, room: str) -> Iterator[tuple[IrcUser, BinaryUser, WebUser]]:
    """Open the three users (ircy, binny, webby) and have each join `room`, in that order.

    Yields once every user has seen the others join, so the room holds all three.
    """
    with contextlib.ExitStack() as users:
        ircy = users.enter_context(IrcUser(server.irc_port, "ircy"))
        ircy.register()
        ircy.send(f"JOIN {room}")
        ircy.until("366")
        binny = users.enter_context(BinaryUser(server.port, "binny"))
        binny.hello()
        binny.send(chat.Join(room=room))
        binny.until(chat.NamesEnd(room=room, count=2))
        ircy.until(irc.Message(command="JOIN", params=(room,), source=ircy.source("binny")))
        webby = users.enter_context(WebUser(server.http_port, "webby"))
        webby.hello()
        webby.send(chat.Join(room=room))
        webby.until(chat.NamesEnd(room=room, count=3))
        ircy.until(irc.Message(command="JOIN", params=(room,), source=ircy.source("webby")))
        binny.until(chat.Joined(room=room, nick="webby"))
        yield ircy, binny, webby


def _said(message: chat.ChatMessage, room: str) -> tuple[str, str] | None:
    if isinstance(message, chat.Said) and message.room == room:
        return message.nick, message.text
    return None


def _privmsg(message: irc.Message, room: str) -> tuple[str, str] | None:
    if message.command == "PRIVMSG" and message.params[0] == room:
        assert message.source is not None
        return message.source.split("!")[0], message.params[1]
    return None


def _lines(messages: list[T], line: Callable[[T], tuple[str, str] | None]) -> list[tuple[str, str]]:
    """Return the (nick, text) of each message that is a line of the room."""
    return [said for message in messages if (said := line(message)) is not None]


def _by_sender(lines: list[tuple[str, str]]) -> dict[str, list[str]]:
    senders: dict[str, list[str]] = {}
    for nick, text in lines:
        senders.setdefault(nick, []).append(text)
    return senders


def test_interleaved_lines_reach_every_other_door_once_each_in_each_senders_order(
    server: ChatServer,
) -> None:
    room = "#crossing"
    with _in_room(server, room) as (ircy, binny, webby):
        for n in range(LINES):
            ircy.send(f"PRIVMSG {room} :ircy line {n}")
            binny.send(chat.Say(room=room, text=f"binny line {n}"))
            webby.send(chat.Say(room=room, text=f"webby line {n}"))

        # binny has every line (its own too) once the room has handled them all; the room then
        # takes binny's "end", which every member gets after everything before it.
        heard: dict[str, list[tuple[str, str]]] = {"ircy": [], "binny": [], "webby": []}
        while len(heard["binny"]) < 3 * LINES:
            if (line := _said(binny.receive(), room)) is not None:
                heard["binny"].append(line)
        binny.send(chat.Say(room=room, text="end"))
        end = ("binny", "end")

        def said(message: chat.ChatMessage) -> tuple[str, str] | None:
            return _said(message, room)

        def privmsg(message: irc.Message) -> tuple[str, str] | None:
            return _privmsg(message, room)

        heard["binny"] += _lines(binny.until(lambda m: said(m) == end)[:-1], said)
        heard["webby"] += _lines(webby.until(lambda m: said(m) == end)[:-1], said)
        heard["ircy"] += _lines(ircy.until(lambda m: privmsg(m) == end)[:-1], privmsg)

        def sent(nick: str) -> list[str]:
            return [f"{nick} line {n}" for n in range(LINES)]

        everyone = {"ircy": sent("ircy"), "binny": sent("binny"), "webby": sent("webby")}
        assert _by_sender(heard["binny"]) == everyone
        assert _by_sender(heard["webby"]) == everyone
        assert _by_sender(heard["ircy"]) == {"binny": sent("binny"), "webby": sent("webby")}
        # One room, one order: the binary and WebSocket users saw the same interleaving.
        assert heard["binny"] == heard["webby"]
        assert heard["ircy"] == [line for line in heard["binny"] if line[0] != "ircy"]


def test_nicks_are_one_namespace_across_the_doors(server: ChatServer) -> None:
    in_use = chat.ErrorCode.NICK_IN_USE
    with (
        IrcUser(server.irc_port, "ircnick") as ircy,
        BinaryUser(server.port, "IRCNICK") as binny,
        WebUser(server.http_port, "IrcNick") as webby,
    ):
        ircy.register()
        # Taken on IRC: refused on the binary and WebSocket doors, in any case.
        binny.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="IRCNICK"))
        refused = binny.receive()
        assert isinstance(refused, chat.Error)
        assert (refused.code, refused.subject) == (in_use, "IRCNICK")
        webby.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="IrcNick"))
        refused = webby.receive()
        assert isinstance(refused, chat.Error)
        assert (refused.code, refused.subject) == (in_use, "IrcNick")
        binny.nick, webby.nick = "binnick", "webnick"
        binny.hello()
        webby.hello()

        # Taken on the binary and WebSocket doors: 433 on IRC, at registration ...
        with IrcUser(server.irc_port, "BinNick") as second:
            second.send("NICK BinNick")
            second.send("USER second 0 * :second")
            assert second.until("433")[-1] == irc.Message(
                command="433",
                params=("*", "BinNick", "BinNick is taken; pick another"),
                source=SERVER,
            )
            second.send("NICK webnick")
            assert second.until("433")[-1].params[:2] == ("*", "webnick")
            second.send("NICK second")
            assert second.until("001")[-1].params[0] == "second"
        # ... and on renaming, the old nick kept.
        ircy.send("NICK binnick")
        assert ircy.until("433")[-1] == irc.Message(
            command="433", params=("ircnick", "binnick", "binnick is taken; pick another"),
            source=SERVER,
        )  # fmt: skip
        binny.send(chat.SetNick(nick="WebNick"))
        refused = binny.receive()
        assert isinstance(refused, chat.Error)
        assert (refused.code, refused.subject) == (in_use, "WebNick")
        webby.send(chat.SetNick(nick="ircnick"))
        refused = webby.receive()
        assert isinstance(refused, chat.Error)
        assert (refused.code, refused.subject) == (in_use, "ircnick")

        # A nick given up at one door can be taken at another.
        ircy.send("NICK ircnew")
        assert ircy.until("NICK")[-1] == irc.Message(
            command="NICK", params=("ircnew",), source=ircy.source("ircnick")
        )
        binny.send(chat.SetNick(nick="ircnick"))
        assert binny.receive() == chat.NickChanged(room="", old="binnick", new="ircnick")


def test_a_topic_set_at_one_door_shows_at_the_others(server: ChatServer) -> None:
    room = "#topics"
    with _in_room(server, room) as (ircy, binny, webby):

        def topic_line(setter: str, text: str) -> irc.Message:
            """The line an IRC member gets when `setter` (of any door) sets the topic."""
            return irc.Message(command="TOPIC", params=(room, text), source=ircy.source(setter))

        ircy.send(f"TOPIC {room} :set on irc")
        for user in (binny, webby):
            user.until(chat.Topic(room=room, topic="set on irc", set_by="ircy"))
        ircy.until(topic_line("ircy", "set on irc"))

        binny.send(chat.SetTopic(room=room, topic="set on the binary door"))
        ircy.until(topic_line("binny", "set on the binary door"))
        for user in (binny, webby):
            user.until(chat.Topic(room=room, topic="set on the binary door", set_by="binny"))

        webby.send(chat.SetTopic(room=room, topic="set on the web ✓"))
        ircy.until(topic_line("webby", "set on the web ✓"))
        for user in (binny, webby):
            user.until(chat.Topic(room=room, topic="set on the web ✓", set_by="webby"))

        # Asked on IRC: 332, then 333 naming who set it (at another door).
        ircy.send(f"TOPIC {room}")
        topic = ircy.until("332")[-1]
        assert topic == irc.Message(
            command="332", params=("ircy", room, "set on the web ✓"), source=SERVER
        )
        assert ircy.receive().params[:3] == ("ircy", room, "webby")

        # Someone joining at any door is shown the topic.
        with (
            IrcUser(server.irc_port, "latecomer") as late_irc,
            BinaryUser(server.port, "latebinary") as late_binary,
        ):
            late_irc.register()
            late_irc.send(f"JOIN {room}")
            joined = late_irc.until("366")
            assert [m.command for m in joined] == ["JOIN", "332", "333", "353", "366"]
            assert joined[1].params == ("latecomer", room, "set on the web ✓")
            assert joined[2].params[:3] == ("latecomer", room, "webby")
            late_binary.hello()
            late_binary.send(chat.Join(room=room))
            assert chat.Topic(room=room, topic="set on the web ✓", set_by="webby") in (
                late_binary.until(lambda m: isinstance(m, chat.NamesEnd))
            )

        # Cleared on IRC: everyone sees an empty topic.
        ircy.send(f"TOPIC {room} :")
        for user in (binny, webby):
            user.until(chat.Topic(room=room, topic="", set_by="ircy"))
        ircy.until(topic_line("ircy", ""))
        ircy.send(f"TOPIC {room}")
        assert ircy.until("331")[-1].params == ("ircy", room, "No topic is set")
