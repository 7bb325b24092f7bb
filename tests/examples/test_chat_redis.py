"""Chat processes joined by one real Redis (`--redis`): one chat across processes and doors.

Every test starts its own `redis-server` on a free loopback port (tests/_redis.py) and
two or three `python -m examples.chat serve --redis URL` subprocesses on free ports,
with a short lease (`--redis-lease`) so that a killed process's nicks and memberships
lapse within the test's waits. Checked: lines cross processes once each, in each
sender's order; nicks are one namespace; history, topics and the room list are shared;
private messages and WHOIS reach other processes' users; a SIGKILLed process's users
quit for the others and its nicks free themselves; a Redis restart, a hung Redis and
dropped subscriptions split the rooms (a `Notice`) and make them whole again (another),
after which lines cross again, and local users are served meanwhile; a Redis that is not
there at start does not stop the server; `--workers 2` on one port share rooms.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import pytest
from _chat_users import BinaryUser, IrcUser, WebUser
from _processes import ChatServer
from _redis import RedisServer, redis_server_program
from _support import WAIT, free_port
from _workers import ESTABLISHED, kill_workers, sockets_in, wait_for_workers

from protocols import chat, irc

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: Seconds a process's nicks and memberships outlive it in these tests.
LEASE = 1.5
#: Lines each user sends in the ordering test: within the rate limit's burst.
LINES = 12


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    redis_server_program()
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _chats(redis: RedisServer, count: int) -> Iterator[list[ChatServer]]:
    servers: list[ChatServer] = []
    try:
        servers.extend(
            ChatServer(0, "--redis", redis.url, "--redis-lease", str(LEASE)) for _ in range(count)
        )
        yield servers
    finally:
        for server in servers:
            server.stop()


def _is_notice(words: str) -> object:
    return lambda m: isinstance(m, chat.Notice) and words in m.text


def _join(
    user: BinaryUser | WebUser, room: str, *, seen_by: Sequence[BinaryUser | WebUser] = ()
) -> list[chat.ChatMessage]:
    """Join `room`; return once `user` has the member list and each of `seen_by` saw the join.

    Another process learns of a join a moment after the joiner does: a test that
    needs every process to know the member waits for the others' `Joined`.
    """
    user.send(chat.Join(room=room))
    seen = user.until(lambda m: isinstance(m, chat.NamesEnd) and m.room == room)
    for other in seen_by:
        other.until(chat.Joined(room=room, nick=user.nick))
    return seen


@contextlib.contextmanager
def _alice_and_bob_in_the_lobby(
    redis: RedisServer,
) -> Iterator[tuple[BinaryUser, BinaryUser, ChatServer]]:
    """Two chat processes on `redis`, alice on the first and bob on the second, in #lobby.

    Yields alice, bob and alice's process.
    """
    with (
        _chats(redis, 2) as (first, second),
        BinaryUser(first.port, "alice") as alice,
        BinaryUser(second.port, "bob") as bob,
    ):
        alice.hello()
        bob.hello()
        _join(alice, "#lobby")
        _join(bob, "#lobby", seen_by=[alice])
        yield alice, bob, first


def test_the_start_up_line_names_the_backplane(redis_server: RedisServer) -> None:
    with _chats(redis_server, 1) as (server,):
        assert f" with rooms shared through Redis at {redis_server.url}: " in server.line
    single = ChatServer()
    try:
        assert " with rooms in this process: " in single.line
    finally:
        single.stop()


@pytest.mark.parametrize("processes", [2, 3])
def test_every_line_reaches_every_process_once_in_each_senders_order(
    redis_server: RedisServer, processes: int
) -> None:
    with _chats(redis_server, processes) as servers, contextlib.ExitStack() as stack:
        users = []
        for index, server in enumerate(servers):
            user = stack.enter_context(BinaryUser(server.port, f"user{index}"))
            user.hello()
            users.append(user)
        for index, user in enumerate(users):
            _join(user, "#lobby", seen_by=users[:index])
        for number in range(LINES):
            for user in users:
                user.send(chat.Say(room="#lobby", text=f"{user.nick} {number}"))
        for user in users:
            # Each sender's lines arrive once each, in order; own lines come back once too.
            heard: dict[str, list[int]] = {other.nick: [] for other in users}
            while any(len(numbers) < LINES for numbers in heard.values()):
                message = user.receive()
                if isinstance(message, chat.Said):
                    nick, said = message.text.split()
                    assert nick == message.nick
                    heard[nick].append(int(said))
            assert heard == {other.nick: list(range(LINES)) for other in users}
            # Nothing more arrives: a process never delivers its own lines twice.
            user.send(chat.Ping(token=7))
            assert user.until(lambda m: isinstance(m, chat.ServerPong | chat.Said))[-1] == (
                chat.ServerPong(token=7)
            )


def test_a_nick_taken_on_one_process_is_refused_on_another_at_every_door(
    redis_server: RedisServer,
) -> None:
    with _chats(redis_server, 2) as (first, second), BinaryUser(first.port, "alice") as alice:
        alice.hello()
        with BinaryUser(second.port, "alice") as again:
            again.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="ALICE"))
            refused = again.receive()
            assert isinstance(refused, chat.Error)
            assert refused.code == chat.ErrorCode.NICK_IN_USE
        with IrcUser(second.irc_port, "alice") as ircy:
            ircy.send("NICK alice")
            ircy.send("USER alice 0 * :alice")
            assert ircy.until("433")[-1].params[1] == "alice"
        # Once alice has gone, her nick is free on the other process at once.
        alice.close()
        with BinaryUser(second.port, "alice") as later:
            deadline = time.monotonic() + WAIT
            while True:
                later.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="alice"))
                answer = later.receive()
                if isinstance(answer, chat.Welcome):
                    break
                assert time.monotonic() < deadline, answer


def test_history_topic_names_and_room_list_are_shared(redis_server: RedisServer) -> None:
    with (
        _chats(redis_server, 2) as (first, second),
        BinaryUser(first.port, "alice") as alice,
        WebUser(second.http_port, "webby") as webby,
    ):
        alice.hello()
        with redis_server.watching("chat:room:#lobby") as published:
            _join(alice, "#lobby")
            alice.send(chat.SetTopic(room="#lobby", topic="shared topic"))
            alice.until(lambda m: isinstance(m, chat.Topic) and m.topic == "shared topic")
            for number in range(3):
                alice.send(chat.Say(room="#lobby", text=f"line {number}"))
            alice.until(lambda m: isinstance(m, chat.Said) and m.text == "line 2")
            published(b"line 2")  # so the topic and the lines are in Redis
        webby.hello()
        # The room list and a room's names, asked of a process with nobody in the room.
        webby.send(chat.ListRooms())
        listed = webby.until(lambda m: isinstance(m, chat.RoomListEnd))
        assert chat.RoomInfo(room="#lobby", members=1, topic="shared topic") in listed
        webby.send(chat.ListNames(room="#lobby"))
        assert chat.Names(room="#lobby", nicks="alice") in webby.until(
            chat.NamesEnd(room="#lobby", count=1)
        )
        # Joining there: the topic, both members and the history said on the other process.
        webby.send(chat.Join(room="#LOBBY"))
        joined = webby.until(lambda m: isinstance(m, chat.History) and m.text == "line 2")
        topic = next(m for m in joined if isinstance(m, chat.Topic))
        assert (topic.topic, topic.set_by) == ("shared topic", "alice")
        assert chat.Names(room="#lobby", nicks="alice webby") in joined
        assert [m.text for m in joined if isinstance(m, chat.History)] == [
            "line 0",
            "line 1",
            "line 2",
        ]
        alice.until(chat.Joined(room="#lobby", nick="webby"))


def test_a_killed_process_frees_its_nicks_and_its_users_quit_for_the_others(
    redis_server: RedisServer,
) -> None:
    with _chats(redis_server, 2) as (doomed, survivor):
        with (
            BinaryUser(doomed.port, "alice") as alice,
            IrcUser(survivor.irc_port, "ircy") as ircy,
        ):
            alice.hello()
            for room in ("#lobby", "#den"):
                with redis_server.watching(f"chat:room:{room}") as published:
                    _join(alice, room)
                    published(b"MemberJoined")  # so the survivor loads alice as a member
            ircy.register()
            for room in ("#lobby", "#den"):
                ircy.send(f"JOIN {room}")
                assert "alice" in ircy.until("353")[-1].params[-1].split()
            doomed.process.kill()
            doomed.process.wait(WAIT)
            started = time.monotonic()
            quit_ = ircy.until("QUIT")[-1]
            assert quit_.source == ircy.source("alice")
            assert time.monotonic() - started < WAIT
            # One QUIT for both rooms, as IRC has it, not one per room.
            ircy.send("PING :after")
            answered = ircy.until("PONG")
            assert [m for m in answered if m.command == "QUIT"] == []
        with BinaryUser(survivor.port, "alice") as again:
            welcome = again.hello()
            assert welcome.nick == "alice"


def test_a_redis_restart_splits_the_rooms_and_they_become_whole_again(
    redis_server: RedisServer,
) -> None:
    with _alice_and_bob_in_the_lobby(redis_server) as (alice, bob, first):
        alice.send(chat.Say(room="#lobby", text="before"))
        bob.until(lambda m: isinstance(m, chat.Said) and m.text == "before")
        redis_server.stop()
        for user in (alice, bob):
            user.until(_is_notice("#lobby is split"))
        # Split, each process still serves its own users.
        alice.send(chat.Say(room="#lobby", text="while split"))
        alice.until(lambda m: isinstance(m, chat.Said) and m.text == "while split")
        redis_server.start()
        for user in (alice, bob):
            user.until(_is_notice("#lobby is whole again"))
        deadline = time.monotonic() + WAIT
        number = 0
        # The subscription of one process may come back a moment after the other's.
        while True:
            alice.send(chat.Say(room="#lobby", text=f"after {number}"))
            seen = bob.until(lambda m: isinstance(m, chat.Said | chat.ServerPong))
            if any(isinstance(m, chat.Said) and m.text.startswith("after") for m in seen):
                break
            assert time.monotonic() < deadline
            number += 1
            bob.send(chat.Ping(token=number))
        # The nicks were claimed again in the new Redis: bob is still bob everywhere.
        with BinaryUser(first.port, "bob") as impostor:
            impostor.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick="bob"))
            refused = impostor.receive()
            assert isinstance(refused, chat.Error), refused


def test_a_server_starts_and_serves_while_redis_is_away_then_joins_it() -> None:
    redis_server_program()
    port = free_port()
    early = ChatServer(0, "--redis", f"redis://127.0.0.1:{port}/0", "--redis-lease", str(LEASE))
    redis: RedisServer | None = None
    try:
        with BinaryUser(early.port, "alice") as alice:
            alice.hello()
            joined = [*_join(alice, "#lobby"), alice.receive()]
            assert any(isinstance(m, chat.Notice) and "is split" in m.text for m in joined)
            alice.send(chat.Say(room="#lobby", text="alone"))
            alice.until(lambda m: isinstance(m, chat.Said) and m.text == "alone")
            redis = RedisServer(port)
            alice.until(_is_notice("#lobby is whole again"))
            with _chats(redis, 1) as (late,), BinaryUser(late.port, "bob") as bob:
                bob.hello()
                _join(bob, "#lobby", seen_by=[alice])
                alice.send(chat.Say(room="#lobby", text="together"))
                bob.until(lambda m: isinstance(m, chat.Said) and m.text == "together")
    finally:
        early.stop()
        if redis is not None:
            redis.stop()


def test_an_irc_user_and_a_binary_user_on_different_processes_talk(
    redis_server: RedisServer,
) -> None:
    with (
        _chats(redis_server, 2) as (first, second),
        IrcUser(first.irc_port, "ircy") as ircy,
        BinaryUser(second.port, "binny") as binny,
    ):
        ircy.register()
        ircy.send("JOIN #lobby")
        ircy.until("366")
        binny.hello()
        _join(binny, "#lobby")
        ircy.until(irc.Message(command="JOIN", params=("#lobby",), source=ircy.source("binny")))
        binny.send(chat.Say(room="#lobby", text="hello irc"))
        said = ircy.until("PRIVMSG")[-1]
        assert (said.source, said.params) == (ircy.source("binny"), ("#lobby", "hello irc"))
        ircy.send("PRIVMSG #lobby :hello binary")
        said_back = binny.until(lambda m: isinstance(m, chat.Said) and m.nick == "ircy")[-1]
        assert isinstance(said_back, chat.Said)
        assert said_back.text == "hello binary"


def test_a_hung_redis_splits_the_rooms_and_local_users_are_served_meanwhile(
    redis_server: RedisServer,
) -> None:
    with _alice_and_bob_in_the_lobby(redis_server) as (alice, bob, _):
        redis_server.pause()  # SIGSTOP: connections stay open, nothing answers
        try:
            # Local service does not wait on Redis: a line comes back at once.
            started = time.monotonic()
            alice.send(chat.Say(room="#lobby", text="while hung"))
            alice.until(lambda m: isinstance(m, chat.Said) and m.text == "while hung")
            assert time.monotonic() - started < 1.0
            for user in (alice, bob):
                user.until(_is_notice("#lobby is split"))
        finally:
            redis_server.resume()
        for user in (alice, bob):
            user.until(_is_notice("#lobby is whole again"))
        alice.send(chat.Say(room="#lobby", text="after"))
        bob.until(lambda m: isinstance(m, chat.Said) and m.text == "after")


def test_a_dropped_subscription_is_taken_up_again(redis_server: RedisServer) -> None:
    with _alice_and_bob_in_the_lobby(redis_server) as (alice, bob, _):
        # What Redis does to a subscriber that falls behind (client-output-buffer-limit).
        killed = redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")
        assert killed == b":2"
        for user in (alice, bob):
            user.until(_is_notice("#lobby is split"))
            user.until(_is_notice("#lobby is whole again"))
        bob.send(chat.Say(room="#lobby", text="resubscribed"))
        alice.until(lambda m: isinstance(m, chat.Said) and m.text == "resubscribed")


def test_private_messages_and_whois_reach_users_of_other_processes(
    redis_server: RedisServer,
) -> None:
    with (
        _chats(redis_server, 2) as (first, second),
        IrcUser(first.irc_port, "ircy") as ircy,
        BinaryUser(second.port, "binny") as binny,
    ):
        ircy.register()
        binny.hello()
        ircy.send("PRIVMSG BINNY :psst")
        whispered = binny.until(lambda m: isinstance(m, chat.Whispered))[-1]
        assert isinstance(whispered, chat.Whispered)
        assert (whispered.sender, whispered.to, whispered.text) == ("ircy", "binny", "psst")
        binny.send(chat.Whisper(to="ircy", text="back"))
        assert ircy.until("PRIVMSG")[-1].params == ("ircy", "back")
        # The sender's own copy (the binary door echoes whispers).
        echoed = binny.until(lambda m: isinstance(m, chat.Whispered) and m.text == "back")[-1]
        assert isinstance(echoed, chat.Whispered)
        binny.send(chat.Whisper(to="nobody", text="hello?"))
        refused = binny.until(lambda m: isinstance(m, chat.Error))[-1]
        assert isinstance(refused, chat.Error)
        assert (refused.code, refused.subject) == (chat.ErrorCode.NO_SUCH_NICK, "nobody")
        ircy.send("WHOIS binny")
        assert ircy.until(lambda m: m.command in {"311", "401"})[-1].command == "311"
        ircy.send("WHOIS nobody")
        assert ircy.until(lambda m: m.command in {"311", "401"})[-1].command == "401"


def test_two_workers_on_one_port_share_rooms_through_redis(redis_server: RedisServer) -> None:
    server = ChatServer(0, "--workers", "2", "--redis", redis_server.url)
    workers: set[int] = set()
    try:
        workers = wait_for_workers(server.process.pid, 2)
        assert " with rooms shared through Redis at " in server.line
        with contextlib.ExitStack() as stack:
            users: list[BinaryUser] = []
            for number in range(16):
                user = stack.enter_context(BinaryUser(server.port, f"user{number}"))
                user.hello()
                _join(user, "#lobby", seen_by=users)
                users.append(user)
            served = {pid: len(sockets_in(pid, server.port, ESTABLISHED)) for pid in workers}
            assert sum(served.values()) == 16, served
            assert min(served.values()) > 0, served  # 2 in 2**16 that one worker takes all
            users[0].send(chat.Say(room="#lobby", text="to every worker"))
            for user in users:
                said = user.until(lambda m: isinstance(m, chat.Said))[-1]
                assert isinstance(said, chat.Said)
                assert (said.nick, said.text) == ("user0", "to every worker")
    finally:
        server.stop()
        kill_workers(workers)
