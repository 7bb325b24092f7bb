"""The chat server, over real sockets: many clients, rooms, presence, limits, hostile input."""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest
from _support import WAIT, read_until_closed, reset, track

import actornet
import actornet.testing
from examples.chat import binary
from examples.chat.binary import BinaryChatSession
from examples.chat.directory import Directory
from examples.chat.rate import RATE_BURST
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

Client = actornet.testing.BlockingClient[chat.ChatMessage]
Code = chat.ErrorCode


@contextmanager
def chat_server(
    limits: actornet.Limits | None = None, rate: float = 0
) -> Iterator[actornet.Server[chat.ChatMessage]]:
    directory = Directory.start()
    server = actornet.serve_tcp(
        BinaryChatSession,
        chat.WIRE,
        limits=limits or actornet.Limits(idle_timeout=None),
        session_args=(directory, rate),
    )
    try:
        yield server
    finally:
        server.shutdown(timeout=WAIT)
        directory.stop()


def connect(server: actornet.Server[chat.ChatMessage]) -> Client:
    client = actornet.testing.BlockingClient("127.0.0.1", server.port, chat.WIRE, timeout=WAIT)
    track(client.sock)  # closed after the test (tests/conftest.py)
    return client


def register(server: actornet.Server[chat.ChatMessage], nick: str) -> Client:
    client = connect(server)
    client.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=nick))
    assert client.receive() == chat.Welcome(
        version=chat.PROTOCOL_VERSION, nick=nick, server="actornet-chat"
    )
    return client


def receive_until(client: Client, want: Callable[[Any], bool]) -> list[Any]:
    """Receive until a message matches `want`; return everything received."""
    seen = []
    while True:
        message = client.receive()
        seen.append(message)
        if want(message):
            return seen


def join(client: Client, room: str, nick: str) -> list[Any]:
    """Join and return what the joiner received up to the end of the history."""
    client.send(chat.Join(room=room))
    seen = receive_until(client, lambda m: m == chat.Joined(room=room, nick=nick))
    seen += receive_until(client, lambda m: isinstance(m, chat.NamesEnd))
    return seen


def said_texts(client: Client, count: int) -> list[str]:
    texts: list[str] = []
    while len(texts) < count:
        message = client.receive()
        if isinstance(message, chat.Said):
            texts.append(f"{message.nick}:{message.text}")
    return texts


def test_every_member_sees_a_room_in_one_order_and_each_sender_in_its_own() -> None:
    with chat_server() as server:
        nicks = ["ann", "ben", "cat"]
        clients = [register(server, nick) for nick in nicks]
        for client, nick in zip(clients, nicks, strict=True):
            join(client, "#r", nick)
        for client in clients[:-1]:  # everyone has seen everyone join
            receive_until(client, lambda m: m == chat.Joined(room="#r", nick="cat"))

        def talk(client: Client, nick: str) -> None:
            for n in range(30):
                client.send(chat.Say(room="#r", text=f"{nick}{n}"))

        threads = [
            threading.Thread(target=talk, args=pair) for pair in zip(clients, nicks, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        seen = [said_texts(client, 90) for client in clients]
        assert seen[0] == seen[1] == seen[2]
        for nick in nicks:
            assert [t for t in seen[0] if t.startswith(nick)] == [
                f"{nick}:{nick}{n}" for n in range(30)
            ]


def test_a_joiner_gets_joined_topic_names_then_history_in_that_order() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        join(ann, "#r", "ann")
        ann.send(chat.SetTopic(room="#r", topic="tea"))
        assert ann.receive() == chat.Topic(room="#r", topic="tea", set_by="ann")
        for n in range(3):
            ann.send(chat.Say(room="#r", text=f"m{n}"))
        said_texts(ann, 3)
        ben = register(server, "ben")
        ben.send(chat.Join(room="#R"))
        got = [ben.receive() for _ in range(7)]
        assert got[:4] == [
            chat.Joined(room="#r", nick="ben"),
            chat.Topic(room="#r", topic="tea", set_by="ann"),
            chat.Names(room="#r", nicks="ann ben"),
            chat.NamesEnd(room="#r", count=2),
        ]
        history = [h for h in got[4:] if isinstance(h, chat.History)]
        assert [(h.nick, h.text) for h in history] == [("ann", "m0"), ("ann", "m1"), ("ann", "m2")]
        ben.send(chat.Say(room="#r", text="live"))
        assert said_texts(ben, 1) == ["ben:live"]


def test_clearing_the_topic_names_the_clearer_then_nobody() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        join(ann, "#r", "ann")
        ann.send(chat.SetTopic(room="#r", topic="tea"))
        assert ann.receive() == chat.Topic(room="#r", topic="tea", set_by="ann")
        ann.send(chat.SetTopic(room="#r", topic=""))
        assert ann.receive() == chat.Topic(room="#r", topic="", set_by="ann")
        ben = register(server, "ben")
        assert chat.Topic(room="#r", topic="", set_by="") in join(ben, "#r", "ben")


def test_private_messages_reach_the_recipient_and_echo_to_the_sender() -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        ann.send(chat.Whisper(to="BEN", text="psst"))
        to_ben, echo = ben.receive(), ann.receive()
        assert isinstance(to_ben, chat.Whispered)
        assert (to_ben.sender, to_ben.to, to_ben.text) == ("ann", "ben", "psst")
        assert echo == to_ben
        ann.send(chat.Whisper(to="nobody", text="hello?"))
        error = ann.receive()
        assert isinstance(error, chat.Error)
        assert (error.code, error.subject) == (Code.NO_SUCH_NICK, "nobody")


def test_a_whisper_to_yourself_arrives_once() -> None:
    with chat_server() as server:
        ann, _ = register(server, "ann"), register(server, "ben")
        ann.send(chat.Whisper(to="ANN", text="me"))
        ann.send(chat.Whisper(to="ben", text="next"))  # the directory answers in order
        first, second = ann.receive(), ann.receive()
        assert isinstance(first, chat.Whispered)
        assert (first.sender, first.to, first.text) == ("ann", "ann", "me")
        assert isinstance(second, chat.Whispered)
        assert second.text == "next"


def test_a_room_is_shown_as_its_creator_spelled_it() -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#Lobby", "ann")
        ben.send(chat.Join(room="#LOBBY"))
        assert ben.receive() == chat.Joined(room="#Lobby", nick="ben")
        got = receive_until(ben, lambda m: isinstance(m, chat.NamesEnd))
        assert chat.Names(room="#Lobby", nicks="ann ben") in got
        ben.send(chat.Say(room="#lobby", text="hi"))
        said = receive_until(ben, lambda m: isinstance(m, chat.Said))[-1]
        assert said.room == "#Lobby"
        ben.send(chat.ListRooms())
        assert receive_until(ben, lambda m: isinstance(m, chat.RoomInfo))[-1].room == "#Lobby"
        ben.send(chat.Leave(room="#lobby", reason=""))
        assert receive_until(ben, lambda m: isinstance(m, chat.Left))[-1].room == "#Lobby"
        ben.send(chat.Say(room="#LoBbY", text="gone"))
        error = ben.receive()
        assert isinstance(error, chat.Error)
        assert (error.code, error.subject) == (Code.NOT_IN_ROOM, "#LoBbY")  # as sent


def test_nicks_are_unique_case_insensitively_and_validated() -> None:
    with chat_server() as server:
        register(server, "Ann")
        late = connect(server)
        late.send(chat.Hello(version=1, nick="aNN"))
        error = late.receive()
        assert isinstance(error, chat.Error)
        assert error.code == Code.NICK_IN_USE
        late.send(chat.Hello(version=1, nick="9lives"))
        error = late.receive()
        assert isinstance(error, chat.Error)
        assert error.code == Code.INVALID_NICK
        assert "digit" in error.detail
        late.send(chat.Hello(version=1, nick="ann2"))
        assert isinstance(late.receive(), chat.Welcome)


def test_a_nick_change_reaches_the_rooms_and_frees_the_old_nick() -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        receive_until(ann, lambda m: m == chat.Joined(room="#r", nick="ben"))
        ben.send(chat.SetNick(nick="bob"))
        change = chat.NickChanged(room="#r", old="ben", new="bob")
        assert ann.receive() == change
        assert ben.receive() == change
        register(server, "ben")  # free again


def test_renaming_to_your_own_nick_in_another_case_is_a_rename() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        ann.send(chat.SetNick(nick="ANN"))
        assert ann.receive() == chat.NickChanged(room="", old="ann", new="ANN")
        ann.send(chat.Whisper(to="ann", text="me"))
        whispered = ann.receive()
        assert isinstance(whispered, chat.Whispered)
        assert (whispered.sender, whispered.to) == ("ANN", "ANN")


def test_a_tab_survives_in_a_reason_and_other_controls_become_spaces() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        join(ann, "#r", "ann")
        ann.send(chat.Leave(room="#r", reason="a\tb\nc"))
        assert ann.receive() == chat.Left(room="#r", nick="ann", reason="a\tb c")


def test_history_keeps_the_time_a_line_was_said() -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#r", "ann")
        ann.send(chat.Say(room="#r", text="first"))
        said = receive_until(ann, lambda m: isinstance(m, chat.Said))[-1]
        ben.send(chat.Join(room="#r"))
        history = receive_until(ben, lambda m: isinstance(m, chat.History))[-1]
        assert (history.nick, history.text, history.time_ms) == ("ann", "first", said.time_ms)


def test_the_quitter_gets_nothing_before_the_close() -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        receive_until(ann, lambda m: m == chat.Joined(room="#r", nick="ben"))
        ben.send(chat.Quit(reason="bye"))
        assert ben.receive_until_closed() == []
        assert ann.receive() == chat.Quitted(room="#r", nick="ben", reason="bye")


def test_names_and_rooms_are_listed_in_case_insensitive_order() -> None:
    with chat_server() as server:
        clients = {nick: register(server, nick) for nick in ("zed", "Amy", "bob")}
        for nick, client in clients.items():
            join(client, "#r", nick)
        join(clients["bob"], "#B", "bob")
        join(clients["bob"], "#a", "bob")
        bob = clients["bob"]
        bob.send(chat.ListNames(room="#r"))
        assert receive_until(bob, lambda m: isinstance(m, chat.Names))[-1].nicks == "Amy bob zed"
        bob.send(chat.ListRooms())
        rooms = receive_until(bob, lambda m: isinstance(m, chat.RoomListEnd))
        assert [m.room for m in rooms if isinstance(m, chat.RoomInfo)] == ["#a", "#B", "#r"]


def test_commands_before_hello_are_refused() -> None:
    with chat_server() as server, connect(server) as client:
        client.send(chat.Join(room="#r"))
        error = client.receive()
        assert isinstance(error, chat.Error)
        assert (error.code, error.subject) == (Code.NOT_REGISTERED, "")


def test_saying_in_a_room_not_joined_is_refused() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        ann.send(chat.Say(room="#elsewhere", text="hi"))
        error = ann.receive()
        assert isinstance(error, chat.Error)
        assert (error.code, error.subject) == (Code.NOT_IN_ROOM, "#elsewhere")


def test_a_bad_room_name_is_invalid_room_and_a_bad_field_wins_over_not_in_room() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        commands: dict[chat.Say | chat.Leave | chat.SetTopic, Code] = {
            chat.Say(room="lobby", text="hi"): Code.INVALID_ROOM,
            chat.Leave(room="lobby", reason=""): Code.INVALID_ROOM,
            chat.SetTopic(room="lobby", topic="tea"): Code.INVALID_ROOM,
            chat.Say(room="lobby", text=""): Code.INVALID_ROOM,
            chat.Say(room="#elsewhere", text=""): Code.INVALID_TEXT,
            chat.SetTopic(room="#elsewhere", topic="a\nb"): Code.INVALID_TEXT,
            chat.Leave(room="#elsewhere", reason=""): Code.NOT_IN_ROOM,
        }
        for command, code in commands.items():
            ann.send(command)
            error = ann.receive()
            assert isinstance(error, chat.Error), command
            assert (error.code, error.subject) == (code, command.room), command


def test_leaving_tells_the_room_and_the_room_list_follows() -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        receive_until(ann, lambda m: m == chat.Joined(room="#r", nick="ben"))
        ben.send(chat.Leave(room="#r", reason="lunch"))
        assert ann.receive() == chat.Left(room="#r", nick="ben", reason="lunch")
        ann.send(chat.ListRooms())
        assert ann.receive() == chat.RoomInfo(room="#r", members=1, topic="")
        assert ann.receive() == chat.RoomListEnd(count=1)
        ann.send(chat.ListNames(room="#r"))
        assert ann.receive() == chat.Names(room="#r", nicks="ann")
        assert ann.receive() == chat.NamesEnd(room="#r", count=1)


@pytest.mark.parametrize("how", ["quit", "close", "reset"])
def test_members_hear_why_someone_left_the_server(how: str) -> None:
    with chat_server() as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        receive_until(ann, lambda m: m == chat.Joined(room="#r", nick="ben"))
        if how == "quit":
            ben.send(chat.Quit(reason="bye now"))
        elif how == "close":
            ben.close()
        else:
            reset(ben.sock)
        quitted = ann.receive()
        assert isinstance(quitted, chat.Quitted)
        assert (quitted.room, quitted.nick) == ("#r", "ben")
        broken = actornet.DisconnectReason.CONNECTION_BROKEN
        expected = {
            "quit": {"bye now"},
            "close": {actornet.DisconnectReason.PEER_CLOSED.value},
            # A reset, or an EOF if the reset lands after the kernel reported one.
            "reset": {broken.value, actornet.DisconnectReason.PEER_CLOSED.value},
        }[how]
        assert quitted.reason in expected


def test_a_flood_is_rate_limited_without_disconnecting() -> None:
    with chat_server(rate=10) as server:
        ann = register(server, "ann")
        join(ann, "#r", "ann")
        for n in range(RATE_BURST * 2):
            ann.send(chat.Say(room="#r", text=f"m{n}"))
        seen = receive_until(ann, lambda m: isinstance(m, chat.Error))
        assert seen[-1].code == Code.RATE_LIMITED
        ann.send(chat.Ping(token=7))
        assert receive_until(ann, lambda m: isinstance(m, chat.ServerPong))[-1].token == 7


def test_a_quit_is_never_rate_limited() -> None:
    with chat_server(rate=0.01) as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        receive_until(ann, lambda m: m == chat.Joined(room="#r", nick="ben"))
        for n in range(RATE_BURST):  # Hello and Join took two tokens: this empties the bucket
            ben.send(chat.Say(room="#r", text=f"m{n}"))
        ben.send(chat.Quit(reason="bye"))
        quitted = receive_until(ann, lambda m: isinstance(m, chat.Quitted))[-1]
        assert quitted.reason == "bye"
        assert any(isinstance(m, chat.Error) for m in ben.receive_until_closed())


def test_a_pong_with_any_token_is_accepted_silently() -> None:
    with chat_server() as server, connect(server) as client:
        client.send(chat.Pong(token=0xDEADBEEF))  # no ServerPing carried it
        client.send(chat.Hello(version=1, nick="ann"))
        assert isinstance(client.receive(), chat.Welcome)


def test_the_heartbeat_starts_at_connect_before_hello(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binary, "HEARTBEAT_INTERVAL", 0.2)
    with chat_server() as server, connect(server) as client:
        assert client.receive() == chat.ServerPing(token=1)
        assert client.receive() == chat.ServerPing(token=2)


def test_a_silent_client_is_told_and_disconnected_at_the_idle_timeout() -> None:
    with chat_server(limits=actornet.Limits(idle_timeout=0.3)) as server:
        ann = register(server, "ann")
        messages = ann.receive_until_closed()
        assert isinstance(messages[-1], chat.Error)
        assert messages[-1].code == Code.IDLE_TIMEOUT
        assert messages[-1].subject == ""
        # The detail names the timeout the server runs with, not the default.
        assert "nothing received for 0.3 s" in messages[-1].detail


def test_shutdown_sends_a_notice_before_closing() -> None:
    with chat_server() as server:
        ann = register(server, "ann")
        server.shutdown()
        assert ann.receive_until_closed() == [chat.Notice(text="server shutting down")]


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


HOSTILE = {
    "unknown tag": (_frame(b"\x77"), Code.MALFORMED),
    "truncated": (_frame(b"\x05\x02#r\x00\x10hi"), Code.MALFORMED),
    "trailing bytes": (_frame(b"\x03\x02#r" + b"junk"), Code.MALFORMED),
    "invalid utf-8": (_frame(b"\x05\x02#r\x00\x02\xff\xfe"), Code.MALFORMED),
    "oversize": (struct.pack(">I", chat.MAX_FRAME_SIZE + 1), Code.FRAME_TOO_LARGE),
    "server message": (chat.WIRE.encode(chat.Notice(text="hi")), Code.UNEXPECTED_MESSAGE),
    "cut-short server message": (_frame(b"\x8f\x00"), Code.MALFORMED),
    "second hello": (chat.WIRE.encode(chat.Hello(version=1, nick="mal")), Code.UNEXPECTED_MESSAGE),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_answered_with_an_error_and_only_that_client_is_closed(
    name: str,
) -> None:
    data, code = HOSTILE[name]
    with chat_server() as server:
        ann, mal = register(server, "ann"), register(server, "mal")
        join(ann, "#r", "ann")
        join(mal, "#r", "mal")
        receive_until(ann, lambda m: m == chat.Joined(room="#r", nick="mal"))
        mal.send_bytes(data)
        replies = mal.receive_until_closed()
        assert isinstance(replies[-1], chat.Error)
        assert replies[-1].code == code
        assert replies[-1].detail
        quitted = ann.receive()
        assert isinstance(quitted, chat.Quitted)
        assert quitted.nick == "mal"
        # The room hears the fatal error's name, in words ("frame too large").
        assert quitted.reason == code.name.lower().replace("_", " ")
        ann.send(chat.Say(room="#r", text="still fine"))
        assert said_texts(ann, 1) == ["ann:still fine"]


def test_a_member_that_never_reads_is_cut_off_while_the_room_flows() -> None:
    limits = actornet.Limits(idle_timeout=None, write_queue_bytes=64 * 1024)
    with chat_server(limits=limits) as server:
        ann, ben = register(server, "ann"), register(server, "ben")
        hog = track(socket.create_connection(("127.0.0.1", server.port), timeout=WAIT))
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.sendall(chat.WIRE.encode(chat.Hello(version=1, nick="hog")))
        hog.sendall(chat.WIRE.encode(chat.Join(room="#r")))
        join(ann, "#r", "ann")
        join(ben, "#r", "ben")
        text = "x" * 900
        quitted = None
        for n in range(5000):
            ann.send(chat.Say(room="#r", text=f"{n} {text}"))
            if n % 50 == 49:  # the well-behaved members read as they go

                def is_last(message: Any, n: int = n) -> bool:
                    return isinstance(message, chat.Said) and message.text.startswith(f"{n} ")

                receive_until(ann, is_last)
                seen = receive_until(ben, is_last)
                quitted = next((m for m in seen if isinstance(m, chat.Quitted)), quitted)
                if quitted is not None:
                    break
        assert quitted is not None
        assert quitted.nick == "hog"
        assert quitted.reason == "slow consumer"
        ann.send(chat.Say(room="#r", text="after"))
        assert said_texts(ben, 1) == ["ann:after"]
        read_until_closed(hog)
        hog.close()
