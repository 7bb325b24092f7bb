"""The chat's IRC door, over real sockets, next to the binary door on one directory."""

from __future__ import annotations

import calendar
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest.mock import ANY

from _processes import ChatServer
from _support import WAIT, track

import actornet
import actornet.testing
from examples.chat import irc as irc_door_module
from examples.chat import irc_lines
from examples.chat.binary import BinaryChatSession
from examples.chat.directory import Directory
from examples.chat.irc import IrcChatSession
from protocols import chat, irc

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

Client = actornet.testing.BlockingClient[chat.ChatMessage]


@dataclass
class Doors:
    binary: actornet.Server[chat.ChatMessage]
    irc: actornet.Server[irc.IrcEvent]


@contextmanager
def chat_doors(
    session_kwargs: dict[str, Any] | None = None, rate: float = 0
) -> Iterator[Doors]:
    directory = Directory.start()
    limits = actornet.Limits(idle_timeout=None)
    binary = actornet.serve_tcp(
        BinaryChatSession, chat.WIRE, limits=limits, session_args=(directory, 0)
    )
    irc_door = actornet.serve_tcp(
        IrcChatSession,
        irc.WIRE,
        limits=limits,
        session_args=(directory, rate),
        session_kwargs=session_kwargs,
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
            command="CAP",
            params=("*", "LS", "echo-message message-tags multi-prefix server-time"),
            source="actornet-chat",
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


def join_irc(client: IrcClient, room: str) -> list[irc.Message]:
    client.send(f"JOIN {room}")
    return client.until("366")


def ann_cid_and_bob(doors: Doors, *rooms: str) -> tuple[IrcClient, IrcClient, Client]:
    """IRC users ann and cid and binary user bob, registered and in each of `rooms`, in turn."""
    ann, cid = register_irc(doors, "ann"), register_irc(doors, "cid")
    bob = register_binary(doors, "bob")
    for room in rooms:
        join_irc(ann, room)
        join_irc(cid, room)
        bob.send(chat.Join(room=room))
        receive_until(bob, chat.NamesEnd(room=room, count=3))
    return ann, cid, bob


def mark(client: IrcClient, token: str = "mark") -> list[irc.Message]:
    """Everything queued for the client before the answer to a PING of ours."""
    client.send(f"PING :{token}")
    return client.until("PONG")[:-1]


def test_cap_req_acks_known_capabilities_and_naks_any_request_with_an_unknown_one() -> None:
    with chat_doors() as doors:
        client = IrcClient(doors.irc.port)
        client.send("CAP LS 302")
        client.send("NICK ann")
        client.send("USER ann 0 * :Ann")
        assert client.receive().params[1] == "LS"
        client.send("CAP REQ :server-time echo-message")
        assert client.receive().params[1:] == ("ACK", "server-time echo-message")
        client.send("CAP REQ :server-time sasl")
        assert client.receive().params[1:] == ("NAK", "server-time sasl")
        client.send("CAP LIST")
        assert client.receive().params[1:] == ("LIST", "echo-message server-time")
        client.send("CAP FROB")
        assert client.receive().command == "410"
        client.send("CAP END")
        assert client.until("422")[0].params[0] == "ann"
        client.send("CAP REQ :-echo-message")
        assert client.receive().params == ("ann", "ACK", "-echo-message")


def test_echo_message_and_server_time_change_what_one_user_gets() -> None:
    with chat_doors() as doors:
        bob = register_binary(doors, "bob")
        bob.send(chat.Join(room="#lobby"))
        receive_until(bob, chat.NamesEnd(room="#lobby", count=1))
        ann = IrcClient(doors.irc.port)
        ann.send("CAP REQ :echo-message server-time")
        ann.send("NICK ann")
        ann.send("USER ann 0 * :Ann")
        ann.until("CAP")
        ann.send("CAP END")
        ann.until("422")
        cid = register_irc(doors, "cid")
        join_irc(ann, "#lobby")
        join_irc(cid, "#lobby")
        ann.until("JOIN")  # cid's
        ann.send("PRIVMSG #lobby :one")
        echoed = ann.receive()
        assert (echoed.command, echoed.params, echoed.source) == (
            "PRIVMSG",
            ("#lobby", "one"),
            "ann!ann@actornet-chat",
        )
        stamp = echoed.tags["time"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp), stamp
        seen = cid.receive()
        assert (seen.params, seen.tags) == (("#lobby", "one"), {})
        said = receive_until(bob, chat.Said(room="#lobby", nick="ann", text="one", time_ms=ANY))
        stamp_s = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
        assert said[-1].time_ms // 1000 == stamp_s
        # Without echo-message, a whisper to someone else does not come back either.
        cid.send("PRIVMSG ann :psst")
        assert ann.receive().params == ("ann", "psst")
        assert mark(cid) == []


def test_history_is_replayed_on_join_with_its_time_in_a_tag_or_in_front_of_the_text() -> None:
    with chat_doors() as doors:
        bob = register_binary(doors, "bob")
        bob.send(chat.Join(room="#lobby"))
        receive_until(bob, chat.NamesEnd(room="#lobby", count=1))
        bob.send(chat.Say(room="#lobby", text="earlier"))
        said = bob.receive()
        assert isinstance(said, chat.Said)
        plain = register_irc(doors, "plain")
        replay = join_irc(plain, "#lobby")
        replay += mark(plain)
        lines = [m for m in replay if m.command == "PRIVMSG"]
        clock = time.strftime("%H:%M:%S", time.gmtime(said.time_ms // 1000))
        assert [(m.source, m.params) for m in lines] == [
            ("bob!bob@actornet-chat", ("#lobby", f"[{clock} UTC] earlier"))
        ]
        timed = IrcClient(doors.irc.port)
        timed.send("CAP REQ server-time")
        timed.send("CAP END")
        timed.send("NICK timed")
        timed.send("USER timed 0 * :T")
        timed.until("422")
        lines = [m for m in join_irc(timed, "#lobby") + mark(timed) if m.command == "PRIVMSG"]
        assert [m.params for m in lines] == [("#lobby", "earlier")]
        assert (
            lines[0]
            .tags["time"]
            .startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(said.time_ms // 1000)))
        )


def test_topic_changes_show_as_topic_and_joins_and_queries_get_332_and_333() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        assert [m.command for m in join_irc(ann, "#lobby")] == ["JOIN", "331", "353", "366"]
        bob = register_binary(doors, "bob")
        bob.send(chat.Join(room="#lobby"))
        receive_until(bob, chat.NamesEnd(room="#lobby", count=2))
        ann.until("JOIN")
        bob.send(chat.SetTopic(room="#lobby", topic="all about actors"))
        assert ann.receive() == irc.Message(
            command="TOPIC", params=("#lobby", "all about actors"), source="bob!bob@actornet-chat"
        )
        ann.send("TOPIC #lobby")
        topic, who_time = ann.receive(), ann.receive()
        assert (topic.command, topic.params) == ("332", ("ann", "#lobby", "all about actors"))
        assert (who_time.command, who_time.params[:3]) == ("333", ("ann", "#lobby", "bob"))
        assert abs(int(who_time.params[3]) - time.time()) < 60
        cid = register_irc(doors, "cid")
        assert [m.command for m in join_irc(cid, "#lobby")] == ["JOIN", "332", "333", "353", "366"]
        cid.send("TOPIC #elsewhere")
        assert cid.receive().command == "442"


def test_join_0_parts_every_channel_and_part_takes_a_comma_list() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        for room in ("#a", "#b", "#c"):
            join_irc(ann, room)
        ann.send("PART #a,#b :done")
        parted = [ann.receive(), ann.receive()]
        assert sorted(m.params for m in parted) == [("#a", "done"), ("#b", "done")]
        join_irc(ann, "#d")
        ann.send("JOIN 0")
        parted = [ann.receive(), ann.receive()]
        assert {m.params[0] for m in parted} == {"#c", "#d"}
        assert all(m.command == "PART" for m in parted)
        ann.send("PRIVMSG #c :gone?")
        assert ann.receive().command == "404"


def test_notice_relays_as_notice_and_is_never_answered_with_an_error() -> None:
    with chat_doors() as doors:
        ann, cid, bob = ann_cid_and_bob(doors, "#lobby")
        assert [m.command for m in mark(ann)] == ["JOIN", "JOIN"]
        ann.send("NOTICE #lobby :heads up")
        assert cid.until("NOTICE")[-1].params == ("#lobby", "heads up")
        said = receive_until(
            bob, chat.Said(room="#lobby", nick="ann", text="heads up", time_ms=ANY)
        )
        assert said[-1].text == "heads up"
        ann.send("NOTICE #nowhere :x")
        ann.send("NOTICE cid :direct")
        assert cid.receive() == irc.Message(
            command="NOTICE", params=("cid", "direct"), source="ann!ann@actornet-chat"
        )
        assert mark(ann) == []


def test_who_lists_members_of_a_channel_or_one_nick_with_their_away_flag() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        bob = register_binary(doors, "bob")
        join_irc(ann, "#lobby")
        bob.send(chat.Join(room="#lobby"))
        receive_until(bob, chat.NamesEnd(room="#lobby", count=2))
        ann.until("JOIN")
        ann.send("AWAY :lunch")
        assert ann.receive().command == "306"
        ann.send("WHO #lobby")
        lines = ann.until("315")
        assert [m.command for m in lines] == ["352", "352", "315"]
        rows = {m.params[5]: m.params for m in lines[:2]}
        assert rows["ann"][1:7] == ("#lobby", "ann", "actornet-chat", "actornet-chat", "ann", "G")
        assert rows["bob"][6] == "H"
        assert rows["bob"][7] == "0 bob"
        ann.send("WHO bob")
        lines = ann.until("315")
        assert [(m.command, m.params[1]) for m in lines] == [("352", "*"), ("315", "bob")]
        ann.send("WHO ghost")
        assert [m.command for m in ann.until("315")] == ["315"]


def test_whois_away_and_the_away_reply_to_private_messages() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        bob = register_binary(doors, "bob")
        join_irc(ann, "#lobby")
        join_irc(ann, "#Actors")
        ann.send("WHOIS bob")
        lines = ann.until("318")
        assert [m.command for m in lines] == ["311", "312", "318"]
        assert lines[0].params[1:] == ("bob", "bob", "actornet-chat", "*", "bob")
        cid = register_irc(doors, "cid")
        cid.send("WHOIS ann")
        lines = cid.until("318")
        assert [m.command for m in lines] == ["311", "319", "312", "318"]
        assert lines[1].params[2] == "#Actors #lobby"
        cid.send("WHOIS ghost")
        assert [m.command for m in cid.until("318")] == ["401", "318"]
        ann.send("AWAY :back soon")
        assert ann.receive().command == "306"
        cid.send("WHOIS ann")
        assert [m.command for m in cid.until("318")] == ["311", "319", "312", "301", "318"]
        cid.send("PRIVMSG ann :are you there?")
        assert cid.receive().params == ("cid", "ann", "back soon")
        bob.send(chat.Whisper(to="ann", text="and now?"))
        notice = receive_until(bob, chat.Notice(text="ann is away: back soon"))
        assert notice[-1] == chat.Notice(text="ann is away: back soon")
        ann.send("AWAY")
        assert ann.until("305")[-1].params == ("ann", "You are no longer marked as being away")
        cid.send("PRIVMSG ann :and now?")
        assert mark(cid) == []


def test_mode_answers_queries_and_refuses_changes_nobody_may_make() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        join_irc(ann, "#lobby")
        ann.send("MODE #lobby")
        assert ann.receive().params == ("ann", "#lobby", "+n")
        ann.send("MODE #lobby b")
        assert ann.receive().command == "368"
        ann.send("MODE #lobby +o ann")
        assert ann.receive().command == "482"
        ann.send("MODE ann +i")
        assert ann.receive() == irc.Message(
            command="MODE", params=("ann", "+i"), source="ann!ann@actornet-chat"
        )
        ann.send("MODE ann")
        assert ann.receive().params == ("ann", "+i")
        ann.send("MODE ann +x")
        assert ann.receive().command == "501"
        ann.send("MODE bob")
        assert ann.receive().command == "502"
        ann.send("MODE")
        assert ann.receive().command == "461"


def test_registration_errors_462_431_411_412() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        ann.send("USER again 0 * :x")
        ann.send("NICK")
        ann.send("PRIVMSG")
        ann.send("PRIVMSG #lobby")
        assert [m.command for m in mark(ann)] == ["462", "431", "411", "412"]


def test_a_nick_change_shows_as_nick_on_irc_and_nickchanged_on_binary() -> None:
    with chat_doors() as doors:
        ann, cid, bob = ann_cid_and_bob(doors, "#lobby")
        ann.send("NICK anna")
        assert cid.until("NICK")[-1] == irc.Message(
            command="NICK", params=("anna",), source="ann!ann@actornet-chat"
        )
        receive_until(bob, chat.NickChanged(room="#lobby", old="ann", new="anna"))
        ann.send("PRIVMSG #lobby :renamed")
        assert cid.receive().source == "anna!anna@actornet-chat"


def test_a_broadcast_is_rendered_once_for_all_irc_members_with_the_same_capabilities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with chat_doors() as doors:
        clients = [register_irc(doors, f"u{i}") for i in range(4)]
        for client in clients:
            join_irc(client, "#lobby")
        for client in clients:
            mark(client)
        calls: list[object] = []
        real = irc_lines.SharedLines.__call__

        def counting(self: irc_lines.SharedLines, event: Any) -> bytes:
            calls.append(event)
            return real(self, event)

        monkeypatch.setattr(irc_lines.SharedLines, "__call__", counting)
        clients[0].send("PRIVMSG #lobby :once")
        for client in clients[1:]:
            assert client.receive().params == ("#lobby", "once")
        assert len(calls) == 1


def test_the_server_pings_and_a_connection_that_never_registers_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(irc_door_module, "HEARTBEAT_INTERVAL", 0.2)
    with chat_doors(session_kwargs={"registration_timeout": 0.5}) as doors:
        ann = register_irc(doors, "ann")
        ping = ann.until("PING")[-1]
        assert ping == irc.Message(
            command="PING", params=("actornet-chat",), source="actornet-chat"
        )
        ann.send("PONG :actornet-chat")
        stranger = IrcClient(doors.irc.port)
        stranger.send("NICK halfway")
        lines = stranger.until("ERROR")
        assert lines[-1].params == ("Closing link: registration timed out",)
        assert stranger.client.sock.recv(1) == b""
        # Registered connections outlive the deadline; they only hear more PINGs.
        assert {m.command for m in mark(ann)} <= {"PING"}


def test_server_name_is_the_irc_prefix_and_the_server_of_welcome_on_every_door() -> None:
    server = ChatServer(0, "--server-name", "chat.test")
    try:
        ann = IrcClient(server.irc_port)
        ann.send("NICK ann")
        ann.send("USER ann 0 * :Ann")
        welcome = ann.until("422")
        assert {m.source for m in welcome} == {"chat.test"}
        bob = actornet.testing.BlockingClient("127.0.0.1", server.port, chat.WIRE, timeout=WAIT)
        track(bob.sock)
        bob.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="bob"))
        assert bob.receive() == chat.Welcome(
            version=chat.PROTOCOL_VERSION, nick="bob", server="chat.test"
        )
        ann.send("PRIVMSG bob :hi")
        assert bob.receive() == chat.Whispered(sender="ann", to="bob", text="hi", time_ms=ANY)
    finally:
        server.stop()


def test_an_action_crosses_doors_as_slash_me_and_formatting_and_other_ctcp_are_dropped() -> None:
    with chat_doors() as doors:
        ann, cid, bob = ann_cid_and_bob(doors, "#lobby")
        ann.send("PRIVMSG #lobby :\x01ACTION waves\x01")
        assert cid.until("PRIVMSG")[-1].params == ("#lobby", "\x01ACTION waves\x01")
        said = receive_until(bob, chat.Said(room="#lobby", nick="ann", text=ANY, time_ms=ANY))
        assert said[-1].text == "/me waves"
        bob.send(chat.Say(room="#lobby", text="/me waves back"))
        assert ann.until("PRIVMSG")[-1].params == ("#lobby", "\x01ACTION waves back\x01")
        assert cid.until("PRIVMSG")[-1].params == ("#lobby", "\x01ACTION waves back\x01")
        ann.send("PRIVMSG #lobby :\x02bold\x02 and \x0304,12colour\x03")
        assert cid.until("PRIVMSG")[-1].params == ("#lobby", "bold and colour")
        ann.send("PRIVMSG cid :\x01VERSION\x01")
        ann.send("PRIVMSG #lobby :\x07bell")  # a control character that is not formatting
        assert [m.command for m in mark(ann)] == ["412"]
        assert mark(cid) == []


def test_a_target_list_is_cut_to_targmax_and_each_target_spends_the_rate_limit() -> None:
    # A bucket that does not refill while the test runs: only the burst of 20 counts.
    with chat_doors(rate=0.001) as doors:
        ann = register_irc(doors, "ann")  # NICK and USER: 2 of the burst
        receivers = [register_irc(doors, f"r{i}") for i in range(5)]
        ann.send("PRIVMSG r0,r1,r2,r3,r4 :hi")  # cut to 4 targets: 4 more
        for i, receiver in enumerate(receivers[:4]):
            assert receiver.receive().params == (f"r{i}", "hi")
        assert mark(receivers[4]) == []
        # 14 left: a JOIN of 20 rooms joins 14, then the rate limit says stop.
        ann.send("JOIN " + ",".join(f"#r{i}" for i in range(20)))
        seen: list[irc.Message] = []
        while sum(m.command == "366" for m in seen) < 14:
            seen.append(ann.receive())
        if not any(m.command == "NOTICE" for m in seen):  # it may come after the rooms' answers
            seen += ann.until("NOTICE")
        assert next(m for m in seen if m.command == "NOTICE").params[-1].endswith("slow down")
        observer = receivers[4]
        observer.send("NAMES #r14")
        assert [m.command for m in observer.until("366")] == ["366"]  # nobody: never joined


def test_a_long_names_list_is_cut_into_lines_that_fit() -> None:
    with chat_doors() as doors:
        nicks = {f"member{i:02d}-padded"[:16] for i in range(40)}
        binaries = [register_binary(doors, nick) for nick in sorted(nicks)]
        for client in binaries:
            client.send(chat.Join(room="#big"))
        for client in binaries:
            receive_until(client, chat.NamesEnd(room="#big", count=ANY))
        ann = register_irc(doors, "ann")
        ann.send("NAMES #big")
        lines = ann.until("366")
        assert len(lines) > 2
        assert all(len(irc.encode(m)) <= irc.MAX_MESSAGE_BYTES for m in lines)
        assert {n for m in lines[:-1] for n in m.params[-1].split()} == nicks


def test_replies_that_echo_hostile_parameters_are_cut_to_fit_and_the_connection_stays() -> None:
    with chat_doors() as doors:
        ann = register_irc(doors, "ann")
        ann.send("JOIN :#a b")
        ann.send("NICK " + "n" * 400)
        ann.send("WHOIS " + "w" * 450)
        ann.send("CAP REQ :" + "x" * 490)
        ann.send("PING :" + "p" * 490)
        ann.send("FROB" + "B" * 450)
        replies = [ann.receive() for _ in range(6)]
        replies += mark(ann)
        commands = sorted(m.command for m in replies)
        assert commands == sorted(["403", "432", "401", "318", "CAP", "PONG", "421"])
        assert all(len(irc.encode(m)) <= irc.MAX_MESSAGE_BYTES for m in replies)
        assert next(m for m in replies if m.command == "403").params[1] == "#a_b"


def wait_for_all(client: Client, wanted: set[Any]) -> None:
    """Receive until every message in `wanted` has come, in any order."""
    while wanted:
        wanted.discard(client.receive())


def test_a_rename_or_quit_reaches_each_irc_user_once_however_many_rooms_they_share() -> None:
    rooms = ("#one", "#two", "#three")
    with chat_doors() as doors:
        ann, cid, bob = ann_cid_and_bob(doors, *rooms)
        mark(ann)
        mark(cid)
        ann.send("NICK anna")
        ann.send("NICK anna")  # the same nick again: nothing happens
        # Once bob, on the binary door, has each room's NickChanged, every room has queued
        # its copies for ann and cid: whatever they got comes before the answer to a PING.
        wait_for_all(bob, {chat.NickChanged(room=room, old="ann", new="anna") for room in rooms})
        assert [m.command for m in mark(cid)] == ["NICK"]
        assert [m.command for m in mark(ann)] == ["NICK"]
        cid.send("PRIVMSG anna,ANNA :one copy")  # a target named twice is one target
        assert [m.params for m in mark(ann)] == [("anna", "one copy")]
        cid.send("QUIT :bye")
        wait_for_all(bob, {chat.Quitted(room=room, nick="cid", reason="bye") for room in rooms})
        assert [m.command for m in mark(ann)] == ["QUIT"]
