"""The chat's IRC door, over real sockets, next to the binary door on one directory."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from _support import WAIT, track

import actornet
import actornet.testing
from examples.chat.binary import BinaryChatSession
from examples.chat.directory import Directory
from examples.chat.irc import IrcChatSession
from protocols import chat, irc

if TYPE_CHECKING:
    from collections.abc import Iterator

Client = actornet.testing.BlockingClient[chat.ChatMessage]


@dataclass
class Doors:
    binary: actornet.Server[chat.ChatMessage]
    irc: actornet.Server[irc.IrcEvent]


@contextmanager
def chat_doors() -> Iterator[Doors]:
    directory = Directory.start()
    limits = actornet.Limits(idle_timeout=None)
    binary = actornet.serve_tcp(
        BinaryChatSession, chat.WIRE, limits=limits, session_args=(directory, 0)
    )
    irc_door = actornet.serve_tcp(
        IrcChatSession, irc.WIRE, limits=limits, session_args=(directory, 0)
    )
    try:
        yield Doors(binary, irc_door)
    finally:
        irc_door.shutdown(timeout=WAIT)
        binary.shutdown(timeout=WAIT)
        directory.stop()


class IrcClient:
    """An IRC client: sends lines as typed on its socket, reads parsed messages (timeout WAIT)."""

    def __init__(self, port: int) -> None:
        self.client = actornet.testing.BlockingClient("127.0.0.1", port, irc.WIRE, timeout=WAIT)
        track(self.client.sock)

    def send(self, line: str) -> None:
        self.client.sock.sendall(line.encode() + b"\r\n")

    def receive(self) -> irc.Message:
        message = self.client.receive()
        assert isinstance(message, irc.Message)
        return message

    def until(self, command: str) -> list[irc.Message]:
        """Receive up to and including the first message with `command`."""
        seen = [self.receive()]
        while seen[-1].command != command:
            seen.append(self.receive())
        return seen


def register_irc(doors: Doors, nick: str) -> IrcClient:
    client = IrcClient(doors.irc.port)
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.until("422")
    return client


def register_binary(doors: Doors, nick: str) -> Client:
    client = actornet.testing.BlockingClient(
        "127.0.0.1", doors.binary.port, chat.WIRE, timeout=WAIT
    )
    track(client.sock)
    client.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=nick))
    assert isinstance(client.receive(), chat.Welcome)
    return client


def receive_until(client: Client, want: Any) -> list[Any]:
    seen = [client.receive()]
    while seen[-1] != want:
        seen.append(client.receive())
    return seen


def test_registration_sends_001_to_005_in_either_order_and_after_cap_end() -> None:
    with chat_doors() as doors:
        client = IrcClient(doors.irc.port)
        client.send("CAP LS 302")
        client.send("USER ann 0 * :Ann")
        client.send("NICK ann")
        assert client.receive() == irc.Message(
            command="CAP", params=("*", "LS", ""), source="actornet-chat"
        )
        client.send("CAP END")
        lines = client.until("422")
        assert [m.command for m in lines] == ["001", "002", "003", "004", "005", "422"]
        assert all(m.params[0] == "ann" for m in lines)
        assert "CHANTYPES=#" in lines[4].params
        assert "CHANLIMIT=#:30" in lines[4].params


def test_a_taken_nick_is_433_and_commands_before_registration_are_451() -> None:
    with chat_doors() as doors:
        register_binary(doors, "ann")
        client = IrcClient(doors.irc.port)
        client.send("JOIN #lobby")
        assert client.receive().command == "451"
        client.send("NICK Ann")
        client.send("USER ann 0 * :Ann")
        refused = client.receive()
        assert (refused.command, refused.params[:2]) == ("433", ("*", "Ann"))
        client.send("NICK 9lives")
        assert client.receive().command == "432"
        client.send("NICK bob")
        assert client.until("422")[0].params[0] == "bob"


def test_ping_is_answered_with_pong_and_unknown_commands_with_421() -> None:
    with chat_doors() as doors:
        client = register_irc(doors, "ann")
        client.send("PING :token-1")
        assert client.receive() == irc.Message(
            command="PONG", params=("actornet-chat", "token-1"), source="actornet-chat"
        )
        client.send("FROBNICATE x")
        assert client.receive().params[:2] == ("ann", "FROBNICATE")


def test_irc_and_binary_users_see_each_others_lines_exactly_once() -> None:
    with chat_doors() as doors:
        bob = register_binary(doors, "bob")
        bob.send(chat.Join(room="#lobby"))
        receive_until(bob, chat.NamesEnd(room="#lobby", count=1))
        ann = register_irc(doors, "ann")
        ann.send("JOIN #lobby")
        joined = ann.until("366")
        assert joined[0] == irc.Message(
            command="JOIN", params=("#lobby",), source="ann!ann@actornet-chat"
        )
        assert [m.command for m in joined[1:]] == ["331", "353", "366"]
        assert set(joined[2].params[-1].split()) == {"ann", "bob"}
        receive_until(bob, chat.Joined(room="#lobby", nick="ann"))

        ann.send("PRIVMSG #lobby :hello from irc")
        said = bob.receive()
        assert isinstance(said, chat.Said)
        assert (said.nick, said.text) == ("ann", "hello from irc")
        bob.send(chat.Say(room="#lobby", text="hello from binary"))
        assert ann.receive() == irc.Message(
            command="PRIVMSG",
            params=("#lobby", "hello from binary"),
            source="bob!bob@actornet-chat",
        )
        # Nothing else was queued for either: ann's own line did not come back to her.
        ann.send("PING :mark")
        assert ann.receive().command == "PONG"
        bob.send(chat.Ping(token=7))
        assert isinstance(bob.receive(), chat.Said)  # bob's own line, echoed by his protocol
        assert bob.receive() == chat.ServerPong(token=7)


def test_whispers_cross_doors_and_a_quit_reaches_the_binary_door() -> None:
    with chat_doors() as doors:
        bob = register_binary(doors, "bob")
        bob.send(chat.Join(room="#lobby"))
        receive_until(bob, chat.NamesEnd(room="#lobby", count=1))
        ann = register_irc(doors, "ann")
        ann.send("JOIN #lobby")
        ann.until("366")
        ann.send("PRIVMSG bob :psst")
        whisper = bob.receive()
        while isinstance(whisper, chat.Joined):
            whisper = bob.receive()
        assert isinstance(whisper, chat.Whispered)
        assert (whisper.sender, whisper.to, whisper.text) == ("ann", "bob", "psst")
        bob.send(chat.Whisper(to="ann", text="hi"))
        assert ann.receive() == irc.Message(
            command="PRIVMSG", params=("ann", "hi"), source="bob!bob@actornet-chat"
        )
        ann.send("QUIT :bye now")
        quitted = receive_until(bob, chat.Quitted(room="#lobby", nick="ann", reason="bye now"))
        assert quitted[-1] == chat.Quitted(room="#lobby", nick="ann", reason="bye now")


def test_a_line_too_long_is_answered_with_417_then_closed() -> None:
    with chat_doors() as doors:
        client = register_irc(doors, "ann")
        client.send("PRIVMSG #lobby :" + "x" * 600)
        too_long = client.receive()
        assert (too_long.command, too_long.params[0]) == ("417", "ann")
        assert client.client.sock.recv(1) == b""
