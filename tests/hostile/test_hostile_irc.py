"""Hostile IRC clients against the chat's IRC door over raw sockets, while calm IRC clients chat.

Each scenario runs the IRC door (`examples.chat.irc.IrcChatSession`) in-process on 127.0.0.1,
with the chat's rate limit on unless the test is about turning it off, next to calm traffic
(`CalmIrc`): three registered IRC clients in `#calm`, each saying a numbered PRIVMSG every
round, and each hearing the other two (the door does not echo a client's own lines) exactly
once, with no numeric, NOTICE or ERROR meant for them. The hostile lines are written here by
hand as bytes; what the server answers is parsed with `protocols.irc` and compared with what
the door documents. Afterwards a fresh client must register, join `#calm`, hear and be heard,
and the process must be back near its baseline of descriptors, threads, actors and memory.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Self

import pytest
from _hostile import (
    Background,
    Usage,
    assert_back_to,
    errors_logged,
    rss_bytes,
    sendall_ignoring_reset,
)
from _support import WAIT, raw_socket, wait_until

import actornet
from examples.chat.directory import ChatStatistics, Directory
from examples.chat.irc import SERVER_NAME, IrcChatSession
from examples.chat.limits import DEFAULT_MAX_ROOMS_PER_USER
from examples.chat.rate import RATE_BURST, RATE_PER_SECOND
from examples.chat.user import MAX_HELD_WHILE_JOINING
from protocols import irc

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterable
    from types import TracebackType

    import pykka

Message = irc.Message

MIB = 1024 * 1024

#: Seconds between two calm rounds: each calm client sends one PRIVMSG a round, so at most
#: 1 / PACE a second, within the rate limit's RATE_PER_SECOND however fast the rounds go.
PACE = 1 / RATE_PER_SECOND

#: The idle and registration timeouts of the servers whose slow clients are under test.
TIMEOUT = 0.5


# -- an IRC peer over a raw socket ---------------------------------------------


def line(text: str | bytes) -> bytes:
    """Return one line with its CRLF."""
    return (text.encode() if isinstance(text, str) else text) + b"\r\n"


def source_nick(message: Message) -> str:
    """Return the nick of a message's source ("" for none)."""
    return (message.source or "").partition("!")[0]


class IrcPeer:
    """A raw socket speaking IRC: lines written as bytes, the server's lines parsed."""

    def __init__(self, server: actornet.Server[Any]) -> None:
        self.sock = raw_socket(server)
        self._decoder = irc.WIRE.decoder()
        self._pending: list[Message] = []
        self.ended = ""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.sock.close()

    def send(self, *lines: str | bytes) -> None:
        """Send lines, each with its CRLF, in one write."""
        self.sock.sendall(b"".join(line(text) for text in lines))

    def _fill(self, deadline: float) -> bool:
        """Read once; return False once the server has closed (`ended` says how)."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"nothing more from the server within {WAIT} s")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.ended = "reset"
            return False
        except TimeoutError:
            return True
        if not data:
            self.ended = "eof"
            return False
        self._decoder.receive_data(data)
        self._pending.extend(e for e in self._decoder.events() if isinstance(e, Message))
        return True

    def receive(self, timeout: float = WAIT) -> Message:
        """Return the server's next message; fail if it closes or says nothing in time."""
        deadline = time.monotonic() + timeout
        while not self._pending:
            assert not self.ended, f"the server closed the connection ({self.ended})"
            assert self._fill(deadline), f"the server closed the connection ({self.ended})"
        return self._pending.pop(0)

    def until(self, want: Callable[[Message], bool], limit: int = 100_000) -> list[Message]:
        """Receive up to and including the first message `want` accepts (at most `limit`)."""
        seen: list[Message] = []
        for _ in range(limit):
            seen.append(self.receive())
            if want(seen[-1]):
                return seen
        raise AssertionError(f"no wanted message among {limit}; last {seen[-3:]}")

    def read_to_close(self, timeout: float = WAIT) -> tuple[list[Message], str]:
        """Read until the server closes; return every message not yet received, and how it ended.

        How it ended is "eof" or "reset". Fails if the server has not closed within `timeout`.
        """
        deadline = time.monotonic() + timeout
        while not self.ended and self._fill(deadline):
            pass
        messages, self._pending = self._pending, []
        return messages, self.ended


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """Read `size` bytes from a socket (each read within WAIT); fail if it closes first."""
    sock.settimeout(WAIT)
    data = bytearray()
    for _ in range(size):
        if len(data) >= size:
            break
        chunk = sock.recv(min(65536, size - len(data)))
        assert chunk, f"closed after {len(data)} of {size} bytes"
        data += chunk
    return bytes(data)


def is_command(command: str) -> Callable[[Message], bool]:
    return lambda m: m.command == command


def pong(token: str) -> Message:
    """Return the door's answer to `PING :token`."""
    return Message(command="PONG", params=(SERVER_NAME, token), source=SERVER_NAME)


def is_pong(token: str) -> Callable[[Message], bool]:
    return lambda m: m == pong(token)


def quit_reason(reason: str) -> Callable[[Message], bool]:
    return lambda m: m.command == "QUIT" and m.params == (reason,)


def hears_quit(calm: CalmIrc, nick: str, reason: str) -> Callable[[], bool]:
    """Return a test for every calm client having heard `nick` quit for `reason`."""
    return lambda: calm.heard(nick, quit_reason(reason))


def register(server: actornet.Server[Any], nick: str) -> IrcPeer:
    """Connect and register `nick`; return the peer, past its 001 to 005 and 422."""
    peer = IrcPeer(server)
    try:
        peer.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        welcome = peer.until(is_command("422"))
        assert [m.command for m in welcome] == ["001", "002", "003", "004", "005", "422"]
        assert all(m.params[0] == nick for m in welcome), welcome
    except BaseException:
        peer.sock.close()
        raise
    return peer


def join(peer: IrcPeer, channel: str, nick: str) -> list[Message]:
    """Join `channel`; return what arrived up to its 366 (end of names)."""
    peer.send(f"JOIN {channel}")
    seen = peer.until(lambda m: m.command == "366" and m.params[1] == channel)
    assert Message(command="JOIN", params=(channel,), source=f"{nick}!{nick}@{SERVER_NAME}") in (
        seen
    ), seen
    return seen


def too_long(nick: str) -> Message:
    """Return the ERR_INPUTTOOLONG the door sends before it closes on a line too long."""
    return Message(command="417", params=(nick, "Input line was too long"), source=SERVER_NAME)


def closing(reason: str) -> Message:
    """Return the ERROR line the door sends before it closes a connection for `reason`."""
    return Message(command="ERROR", params=(f"Closing link: {reason}",))


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Check nothing was logged at ERROR or above, and nothing with a traceback."""
    assert errors_logged(caplog) == []
    with_traceback = [r.getMessage() for r in caplog.records if r.exc_info]
    assert with_traceback == []


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """Return the records whose message holds `text`."""
    return [r for r in caplog.records if text in r.getMessage()]


# -- the door under attack, and the calm clients next to it --------------------


class CalmIrc:
    """Three registered IRC clients in `#calm`, each saying a numbered PRIVMSG every round.

    Every round each client must hear the round's lines of the two others exactly once (the
    door does not echo one's own lines). Other users' PRIVMSG, JOIN, PART and QUIT lines are
    kept in `others`, by client; any other message (a numeric, a NOTICE such as the rate
    limit's, an ERROR) fails the round: the calm clients do nothing to deserve one.
    """

    ROOM = "#calm"
    NICKS = ("calm1", "calm2", "calm3")
    BYSTANDER_LINES = frozenset({"PRIVMSG", "JOIN", "PART", "QUIT", "NICK"})

    def __init__(self, server: actornet.Server[Any]) -> None:
        self.server = server
        self.peers: list[IrcPeer] = []
        self.background = Background(self._round, "calm-irc", pace=PACE)
        self.others: dict[str, list[Message]] = {nick: [] for nick in self.NICKS}

    def __enter__(self) -> Self:
        try:
            for nick in self.NICKS:
                self.peers.append(register(self.server, nick))
            for peer, nick in zip(self.peers, self.NICKS, strict=True):
                join(peer, self.ROOM, nick)
            last = self.NICKS[-1]
            for peer in self.peers[:-1]:
                peer.until(lambda m: m.command == "JOIN" and source_nick(m) == last)
            self.background.start()
            self.background.wait_rounds(5)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.background.stop()
        self.close()

    def close(self) -> None:
        """Stop the traffic (ignoring its failure) and close the clients."""
        with contextlib.suppress(AssertionError):
            self.background.stop()
        for peer in self.peers:
            peer.sock.close()

    def heard(self, nick: str, want: Callable[[Message], bool]) -> bool:
        """Return whether every calm client has heard a line of `nick` that `want` accepts."""
        return all(
            any(source_nick(m) == nick and want(m) for m in list(others))
            for others in self.others.values()
        )

    def _round(self, n: int) -> list[float]:
        sent_at = time.monotonic()
        for peer, nick in zip(self.peers, self.NICKS, strict=True):
            peer.send(f"PRIVMSG {self.ROOM} :{nick} {n}")
        latencies = []
        for peer, nick in zip(self.peers, self.NICKS, strict=True):
            want = sorted(f"{other} {n}" for other in self.NICKS if other != nick)
            got: list[str] = []
            for _ in range(10_000):
                if len(got) == len(want):
                    break
                message = peer.receive()
                if message.command not in self.BYSTANDER_LINES:
                    raise AssertionError(f"round {n}: {nick} was sent {message}")
                if (
                    message.command == "PRIVMSG"
                    and message.params[0] == self.ROOM
                    and source_nick(message) in self.NICKS
                ):
                    got.append(message.params[1])
                else:
                    self.others[nick].append(message)
            latencies.append(time.monotonic() - sent_at)
            assert sorted(got) == want, f"round {n}: {nick} got {got}, want {want}"
        return latencies


class IrcScenario:
    """The IRC door with calm traffic, a warmed-up baseline, and the checks afterwards.

    Use as `with IrcScenario(limits) as s:`; misbehave on `s.server`, then
    `s.assert_recovered()`. `rate` is the door's rate limit (0: off); `session_kwargs` go to
    each `IrcChatSession`. `s.stats.rooms` is the directory's room count.
    """

    def __init__(
        self,
        limits: actornet.Limits | None = None,
        *,
        rate: float = RATE_PER_SECOND,
        session_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.limits = limits or actornet.Limits(idle_timeout=None)
        self.rate = rate
        self.session_kwargs = session_kwargs
        self.stats = ChatStatistics()
        self.directory: pykka.ActorRef[Directory]
        self._stack = contextlib.ExitStack()
        self.server: actornet.Server[irc.IrcEvent]
        self.calm: CalmIrc
        self.baseline: Usage
        self._fresh = 0

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            directory = self.directory = Directory.start(stats=self.stats)
            stack.callback(directory.stop)
            self.server = actornet.serve_tcp(
                IrcChatSession,
                irc.WIRE,
                host="127.0.0.1",
                limits=self.limits,
                session_args=(directory, self.rate),
                session_kwargs=self.session_kwargs,
            )
            stack.callback(self.server.shutdown, timeout=WAIT)
            self.calm = stack.enter_context(CalmIrc(self.server))
            # One full client lifetime first, so what is made lazily is in the baseline.
            self.fresh_client_chats()
            self.baseline = Usage.now()
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.__exit__(exc_type, exc_value, traceback)

    def calm_connections(self) -> int:
        return len(CalmIrc.NICKS)

    def directory_caught_up(self) -> None:
        """Return once the directory has handled everything told to it before this call."""
        self.directory.proxy().limits.get(timeout=WAIT)

    def fresh_client_chats(self) -> None:
        """Register a new nick, join #calm, hear it and be heard, then QUIT."""
        self._fresh += 1
        nick = f"fresh{self._fresh}"
        assert wait_until(lambda: self.server.connection_count() <= self.calm_connections())
        with register(self.server, nick) as peer:
            join(peer, CalmIrc.ROOM, nick)
            peer.until(
                lambda m: (
                    m.command == "PRIVMSG"
                    and m.params[0] == CalmIrc.ROOM
                    and source_nick(m) in CalmIrc.NICKS
                )
            )
            text = f"hello from {nick}"
            peer.send(f"PRIVMSG {CalmIrc.ROOM} :{text}")
            assert wait_until(
                lambda: (
                    self.calm.heard(nick, lambda m: m.params == (CalmIrc.ROOM, text))
                    or self.calm.background.error is not None
                )
            ), f"the calm clients did not hear {nick}"
            self.calm.background.check()
            peer.send("QUIT :done")
            rest, ended = peer.read_to_close()
            assert rest[-1:] == [closing("closed by the session")], rest
            assert ended == "eof"
        assert wait_until(lambda: self.calm.heard(nick, is_command("QUIT")))
        assert wait_until(lambda: self.server.connection_count() == self.calm_connections()), (
            f"{self.server.connection_count()} connections left; want the calm ones only"
        )

    def assert_recovered(self) -> None:
        """Check the calm traffic flowed throughout and still does, then the resources."""
        background = self.calm.background
        background.check()
        background.wait_rounds(5)
        self.fresh_client_chats()
        assert wait_until(lambda: self.stats.rooms == 1), f"{self.stats.rooms} rooms left"
        assert_back_to(self.baseline)
        background.check()


# -- lines over the limit --------------------------------------------------------

HUGE = 100_000


def test_a_100_kb_line_gets_417_and_a_clean_close_in_bounded_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    long_line = b"PRIVMSG #calm :" + b"x" * HUGE
    with IrcScenario() as s:
        rss_before = rss_bytes()
        for n, data in enumerate([long_line, long_line + b"\r\n"] * 2):
            # Unregistered: the reply names "*".
            with IrcPeer(s.server) as peer:
                sendall_ignoring_reset(peer.sock, data)
                replies, ended = peer.read_to_close()
            assert replies == [too_long("*")]
            assert ended == "eof", n
            # Registered and in #calm: the reply names the nick, and the room hears why it left.
            nick = f"long{n}"
            with register(s.server, nick) as peer:
                join(peer, CalmIrc.ROOM, nick)
                sendall_ignoring_reset(peer.sock, data)
                replies, ended = peer.read_to_close()
            # What #calm said meanwhile, then the 417 last.
            assert [m for m in replies if m.command != "PRIVMSG"] == [too_long(nick)], replies
            assert replies[-1] == too_long(nick)
            assert ended == "eof", nick
            assert wait_until(hears_quit(s.calm, nick, "line too long")), (
                f"#calm did not hear why {nick} left"
            )
        # Each connection buffered at most one recv of the line before refusing it.
        assert rss_bytes() - rss_before < 10 * MIB
        refused = logged(caplog, "exceeds MAX_LINE_BYTES=8703")
        assert len(refused) == 8
        assert {r.levelno for r in refused} == {logging.INFO}
        s.assert_recovered()
        assert s.server.statistics().disconnects["protocol_error"] == 8
    assert_no_traceback(caplog)


# -- NUL and bare CR -------------------------------------------------------------

#: Lines RFC 1459 forbids: name, bytes, what the codec logs.
FORBIDDEN = {
    "a NUL inside a line": (b"PRIVMSG #calm :a\x00b", "line holds NUL at byte 16"),
    "a NUL as the whole line": (b"\x00", "line holds NUL at byte 0"),
    "a bare CR inside a line": (b"PRIVMSG #calm :a\rb", "line holds a bare CR at byte 16"),
    "a bare CR ending a command": (b"PING\r:x", "line holds a bare CR at byte 4"),
}


def test_nul_or_a_bare_cr_closes_with_an_error_line_logged_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with IrcScenario() as s:
        for n, (name, (data, _)) in enumerate(FORBIDDEN.items()):
            # Unregistered, with a good line before it: answered, then the ERROR, then EOF.
            with IrcPeer(s.server) as peer:
                peer.send(b"PING :before", data, b"PING :after")
                replies, ended = peer.read_to_close()
            assert replies == [
                Message(command="PONG", params=(SERVER_NAME, "before"), source=SERVER_NAME),
                closing("protocol error"),
            ], name
            assert ended == "eof", name
            # Registered and in #calm: the same, and the room hears it went.
            nick = f"bad{n}"
            with register(s.server, nick) as peer:
                join(peer, CalmIrc.ROOM, nick)
                peer.send(data)
                replies, ended = peer.read_to_close()
            assert [m for m in replies if m.command != "PRIVMSG"] == [closing("protocol error")]
            assert ended == "eof", name
            assert wait_until(hears_quit(s.calm, nick, "protocol error")), (
                f"#calm did not hear why {nick} left"
            )
        s.assert_recovered()
    for name, (_, reason) in FORBIDDEN.items():
        records = logged(caplog, reason)
        assert len(records) == 2, (name, [r.getMessage() for r in caplog.records])
        assert all(r.levelno == logging.INFO for r in records), name
    assert_no_traceback(caplog)


# -- ten thousand JOINs --------------------------------------------------------

JOINS = 10_000


def count(messages: Iterable[Message], command: str) -> int:
    return sum(1 for m in messages if m.command == command)


WELCOME = ("001", "002", "003", "004", "005", "422")


def read_room_answers(s: IrcScenario, peer: IrcPeer, replies: list[Message]) -> int:
    """Receive onto `replies` until every room made for `peer` answered; return how many.

    Refusals go out in the session's turn, the rooms' answers (JOIN, 331, 353, 366) from the
    rooms. Call once every JoinRoom was told to the directory (the session's reply to a later
    line arrived): once the directory has handled them, the room count is final.
    """
    s.directory_caught_up()
    joined = count(replies, "366")
    for _ in range(10_000):
        if joined == s.stats.rooms - 1:
            break
        replies.append(peer.receive())
        joined = count(replies, "366")
    return joined


@pytest.mark.parametrize(
    ("rate", "registered_first"),
    [(RATE_PER_SECOND, True), (0, True), (0, False)],
    ids=["rate limited", "no rate limit", "no rate limit, right behind NICK and USER"],
)
def test_ten_thousand_joins_hold_the_client_to_its_rooms_and_the_rate_limit(
    rate: float, registered_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with IrcScenario(rate=rate) as s:
        if registered_first:
            peer, registration = register(s.server, "joiner"), []
        else:
            peer, registration = IrcPeer(s.server), ["NICK joiner", "USER joiner 0 * :joiner"]
        try:
            started = time.monotonic()
            # Pipelined: every JOIN is written before anything is read.
            peer.send(*registration, *(f"JOIN #r{n}" for n in range(JOINS)), "PING :done")
            replies = peer.until(is_pong("done"))
            elapsed = time.monotonic() - started
            if registration and count(replies, "422") == 0:
                # Granted after the last JOIN was read: the held JOINs go out with the 422.
                replies += peer.until(is_command("422"))
            joined = read_room_answers(s, peer, replies)
            assert count(replies, "JOIN") == joined
            assert joined <= DEFAULT_MAX_ROOMS_PER_USER
            assert s.stats.rooms == 1 + joined
            too_many = [m for m in replies if m.command == "405"]
            assert all(m.params[0] == "joiner" and "30 rooms" in m.params[2] for m in too_many)
            not_registered = [m for m in replies if m.command == "451"]
            notices = [m for m in replies if m.command == "NOTICE"]
            if rate:
                # Each JOIN past the burst waits for a token; the refusal is said once a second.
                admitted = joined + len(too_many)
                assert RATE_BURST - 2 <= admitted <= RATE_BURST + rate * elapsed, (
                    admitted,
                    elapsed,
                )
                assert 1 <= len(notices) <= elapsed + 1, notices
                assert "commands are dropped" in notices[0].params[1]
            elif registered_first:
                assert joined == DEFAULT_MAX_ROOMS_PER_USER
                assert [m.params[1] for m in too_many] == [
                    f"#r{n}" for n in range(DEFAULT_MAX_ROOMS_PER_USER, JOINS)
                ]
            else:
                # Held while the nick is claimed (MAX_HELD_WHILE_JOINING), refused with 451
                # past that until it is granted, then as if registered first.
                assert MAX_HELD_WHILE_JOINING <= joined <= DEFAULT_MAX_ROOMS_PER_USER
                assert joined + len(not_registered) + len(too_many) == JOINS
            if rate or registered_first:
                assert not_registered == []
            else:
                assert notices == []
            # Nothing else: every JOIN got one answer (or none, past the rate limit).
            welcome = [m for m in replies if m.command in WELCOME]
            assert [m.command for m in welcome] == (list(WELCOME) if registration else [])
            assert (
                len(replies)
                == 4 * joined
                + len(too_many)
                + len(not_registered)
                + len(notices)
                + len(welcome)
                + 1
            ), Counter(m.command for m in replies)
            s.calm.background.wait_rounds(3)
            # The client keeps its rooms, and its connection.
            peer.send("PING :still")
            peer.until(is_pong("still"))
            peer.send("QUIT :enough")
            rest, ended = peer.read_to_close()
            assert (rest[-1:], ended) == ([closing("closed by the session")], "eof")
        finally:
            peer.sock.close()
        # Its rooms go with it.
        assert wait_until(lambda: s.stats.rooms == 1), f"{s.stats.rooms} rooms"
        s.assert_recovered()
    assert_no_traceback(caplog)


# -- registrations that never finish, and silence ------------------------------


def test_a_registration_that_never_finishes_is_closed_after_the_registration_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with IrcScenario(session_kwargs={"registration_timeout": TIMEOUT}) as s:
        nick_only, user_only, silent, capped, pinger = peers = [IrcPeer(s.server) for _ in range(5)]
        try:
            started = time.monotonic()
            nick_only.send("NICK lingerer")
            user_only.send("USER lingerer 0 * :never a nick")
            capped.send("CAP LS 302", "NICK capper", "USER capper 0 * :no CAP END")
            assert capped.receive().command == "CAP"
            # The pinger keeps the connection busy, a tenth of the timeout apart.
            pongs = 0
            for n in range(100):
                pinger.send(f"PING :{n}")
                reply = pinger.receive()
                if reply == closing("registration timed out"):
                    break
                assert is_pong(str(n))(reply), reply
                pongs += 1
                time.sleep(TIMEOUT / 10)  # pacing the pings, not synchronising
            else:
                raise AssertionError("the pinger was never timed out")
            assert pongs >= 3, pongs
            for peer in (nick_only, user_only, silent, capped):
                replies, ended = peer.read_to_close(timeout=TIMEOUT + WAIT)
                assert replies == [closing("registration timed out")], replies
                assert ended == "eof"
            rest, ended = pinger.read_to_close()
            assert (rest, ended) == ([], "eof")
            assert time.monotonic() - started >= TIMEOUT
        finally:
            for peer in peers:
                peer.sock.close()
        # The calm clients registered in time, and stay.
        s.calm.background.wait_rounds(3)
        s.assert_recovered()
    assert_no_traceback(caplog)


def test_connections_that_go_silent_are_closed_by_the_idle_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with IrcScenario(actornet.Limits(idle_timeout=TIMEOUT)) as s:
        silent = IrcPeer(s.server)
        nick_only = IrcPeer(s.server)
        half_line = IrcPeer(s.server)
        try:
            registered = register(s.server, "sleepy")
        except BaseException:
            for peer in (silent, nick_only, half_line):
                peer.sock.close()
            raise
        peers = [silent, nick_only, half_line, registered]
        try:
            started = time.monotonic()
            nick_only.send("NICK dozer")
            half_line.sock.sendall(b"PRIVMSG #calm :no line ending")
            for peer in peers:
                replies, ended = peer.read_to_close(timeout=TIMEOUT + WAIT)
                assert replies == [closing("idle timeout")], replies
                assert ended == "eof"
            assert time.monotonic() - started >= TIMEOUT
        finally:
            for peer in peers:
                peer.sock.close()
        assert wait_until(
            lambda: s.server.statistics().disconnects.get("idle_timeout", 0) == len(peers)
        ), s.server.statistics()
        s.assert_recovered()
    assert_no_traceback(caplog)


# -- a flood of PINGs, never read -------------------------------------------------

PINGS = 100_000
#: PINGs in the flood that is answered in full: 37-byte PONGs, 0.7 MB, under the write queue.
SHORT_PINGS = 20_000


def test_a_flood_of_pings_written_without_reading_is_answered_or_cut_off_never_buffered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 20,000 short PINGs: their PONGs (0.7 MB) fit the 1 MiB write queue whatever the kernel
    # buffers, so each is answered.
    short = line("PING :x") * SHORT_PINGS + line("PING :end")
    # 100,000 PINGs of 100 bytes (10 MB): their PONGs (13 MB) outgrow the kernel's buffers and
    # the 1 MiB write queue well before the flood ends: the slow-consumer policy cuts it off.
    long = b"".join(line(f"PING :{n:08}" + "y" * 92) for n in range(PINGS))
    with IrcScenario() as s:
        rss_before = rss_bytes()
        with IrcPeer(s.server) as peer:
            peer.sock.sendall(short)  # as fast as the kernel takes it, nothing read
            s.calm.background.wait_rounds(3)  # the others were served meanwhile
            # Compared as bytes, written out by hand: cheaper than parsing 100,000 lines.
            want = f":{SERVER_NAME} PONG {SERVER_NAME} x\r\n".encode() * SHORT_PINGS
            want += f":{SERVER_NAME} PONG {SERVER_NAME} end\r\n".encode()
            assert read_exactly(peer.sock, len(want)) == want
        assert "slow_consumer" not in s.server.statistics().disconnects
        with IrcPeer(s.server) as peer:
            sent = sendall_ignoring_reset(peer.sock, long)
            s.calm.background.wait_rounds(3)
            assert wait_until(
                lambda: s.server.statistics().disconnects.get("slow_consumer", 0) == 1
            ), s.server.statistics()
            # What the kernel held for the attacker before the reset: PONGs, in order.
            pongs, ended = peer.read_to_close()
        assert sent < len(long), "the server read the whole flood"
        assert ended in {"eof", "reset"}
        tokens = [m.params[1][:8] for m in pongs]
        assert all(m.command == "PONG" for m in pongs), pongs[:3]
        assert tokens == [f"{n:08}" for n in range(len(tokens))]
        # The server held at most its write queue and its reader's backlog, not the floods.
        assert rss_bytes() - rss_before < 20 * MIB
        s.assert_recovered()
    warnings = logged(caplog, "disconnecting slow consumer")
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "Limits.write_queue_bytes=1048576" in warnings[0].getMessage()
    assert_no_traceback(caplog)


# -- garbage -----------------------------------------------------------------------


def test_seeded_random_byte_lines_end_each_connection_with_an_error_line_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with IrcScenario() as s:
        peers: list[IrcPeer] = []
        try:
            for seed in range(40):
                rng = random.Random(seed)
                garbage = b"\r\n".join(rng.randbytes(rng.randrange(1, 200)) for _ in range(3))
                peer = register(s.server, f"g{seed}") if seed % 2 else IrcPeer(s.server)
                peers.append(peer)
                # The lines, then a QUIT: whichever ends the connection first, it ends.
                sendall_ignoring_reset(peer.sock, line(garbage) + line("QUIT :garbage"))
            for peer in peers:
                replies, ended = peer.read_to_close()
                assert replies, "closed without an ERROR line"
                assert replies[-1] in {closing("protocol error"), closing("closed by the session")}
                assert all(m.command != "ERROR" for m in replies[:-1]), replies
                assert ended == "eof"
        finally:
            for peer in peers:
                peer.sock.close()
        s.assert_recovered()
    assert_no_traceback(caplog)


def test_odd_but_valid_lines_are_answered_and_keep_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with IrcScenario() as s:
        with register(s.server, "odd") as odd, register(s.server, "ear") as ear:
            join(odd, "#side", "odd")
            join(ear, "#side", "ear")
            odd.until(lambda m: m.command == "JOIN" and source_nick(m) == "ear")
            # 16 and 100 parameters: folded into the 15th, the first ones as sent.
            params = [f"p{n}" for n in range(100)]
            odd.send("PING " + " ".join(params[:16]), "PING " + " ".join(params))
            assert odd.receive() == Message(
                command="PONG", params=(SERVER_NAME, "p0"), source=SERVER_NAME
            )
            assert is_pong("p0")(odd.receive())
            # Lines of spaces only are empty lines, which IRC ignores: no reply at all.
            odd.send(" ", " " * 400, " " * 8000, "PING :after the spaces")
            assert is_pong("after the spaces")(odd.receive())
            # Invalid UTF-8 is decoded with U+FFFD and relayed as valid UTF-8.
            odd.send(b"PRIVMSG #side :caf\xe9 \xff\xfe ok \xe2\x82")
            assert ear.receive() == Message(
                command="PRIVMSG",
                params=("#side", "caf\ufffd \ufffd\ufffd ok \ufffd"),
                source=f"odd!odd@{SERVER_NAME}",
            )
            odd.send(b"NICK b\xffd")
            refused = odd.receive()
            assert (refused.command, refused.params[:2]) == ("432", ("odd", "b\ufffdd"))
            odd.send(b"PING :\xc0\xaf")
            assert is_pong("\ufffd\ufffd")(odd.receive())
        s.assert_recovered()
    assert_no_traceback(caplog)


def test_a_flood_of_unknown_commands_gets_421s_only_within_the_rate_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    floods = 10_000
    with IrcScenario() as s:
        with register(s.server, "frob") as peer:
            started = time.monotonic()
            peer.send(*(f"FROBNICATE{'x' * (n % 7)} :{n}" for n in range(floods)), "PING :done")
            replies = peer.until(is_pong("done"))
            elapsed = time.monotonic() - started
            unknown = [m for m in replies if m.command == "421"]
            notices = [m for m in replies if m.command == "NOTICE"]
            assert len(replies) == len(unknown) + len(notices) + 1, Counter(
                m.command for m in replies
            )
            assert RATE_BURST - 2 <= len(unknown) <= RATE_BURST + RATE_PER_SECOND * elapsed
            assert all(
                m.params[0] == "frob" and m.params[1].startswith("FROBNICATE") for m in unknown
            )
            assert 1 <= len(notices) <= elapsed + 1
            peer.send("QUIT")
            peer.read_to_close()
        s.assert_recovered()
    assert_no_traceback(caplog)


def targets(prefix: str, budget: int) -> str:
    """Return a comma list of distinct targets `prefix0,prefix1,...` of at most `budget` bytes."""
    names: list[str] = []
    for n in range(10_000):
        name = f"{prefix}{n}"
        if len(",".join([*names, name])) > budget:
            break
        names.append(name)
    return ",".join(names)


def receive_until_count(peer: IrcPeer, replies: list[Message], command: str, want: int) -> None:
    """Receive onto `replies` until `want` of them are `command`; fail on anything else."""
    for _ in range(want):
        if count(replies, command) >= want:
            break
        reply = peer.receive()
        assert reply.command == command, reply
        replies.append(reply)
    assert count(replies, command) == want, replies


def assert_a_thousand_targets_are_too_long(s: IrcScenario) -> None:
    """A thousand targets cannot fit in 512 bytes: 417 and a close, whichever command."""
    thousand_channels = ",".join(f"#t{n}" for n in range(1000))
    thousand_nicks = ",".join(f"n{n}" for n in range(1000))
    for n, text in enumerate((f"JOIN {thousand_channels}", f"PRIVMSG {thousand_nicks} :hi")):
        with register(s.server, f"wide{n}") as peer:
            peer.send(text)
            replies, ended = peer.read_to_close()
        assert replies == [too_long(f"wide{n}")]
        assert ended == "eof"


#: TARGMAX for PRIVMSG (the door's 005 says so); JOIN's is the rooms per user.
PRIVMSG_TARGETS = 4


@pytest.mark.parametrize("rate", [RATE_PER_SECOND, 0], ids=["rate limited", "no rate limit"])
def test_a_thousand_targets_are_too_long_and_a_full_line_of_them_is_cut_to_targmax(
    rate: float, caplog: pytest.LogCaptureFixture
) -> None:
    with IrcScenario(rate=rate) as s:
        assert_a_thousand_targets_are_too_long(s)
        with register(s.server, "ear") as ear:
            started = time.monotonic()
            peer = register(s.server, "wide")
            try:
                # As many unknown nicks as one line holds: a 401 for each of the first four.
                nicks = targets("n", irc.MAX_MESSAGE_BYTES - len("PRIVMSG  :hi\r\n"))
                peer.send(f"PRIVMSG {nicks} :hi", "PING :whispered")
                replies = peer.until(is_pong("whispered"))
                # The 401s come from the directory: wait until it has answered each.
                s.directory_caught_up()
                assert all(m.command in {"401", "PONG"} for m in replies), replies
                receive_until_count(peer, replies, "401", PRIVMSG_TARGETS)
                missing = [m.params[1] for m in replies if m.command == "401"]
                assert missing == nicks.split(",")[:PRIVMSG_TARGETS]
                # One nick listed as often as fits, in any case: one target, one whisper.
                listed = ",".join(["ear", "EAR", "Ear"] * ((irc.MAX_MESSAGE_BYTES - 20) // 12))
                peer.send(f"PRIVMSG {listed} :psst", "PING :psst")
                peer.until(is_pong("psst"))
                s.directory_caught_up()  # every whisper is in ear's queue
                ear.send("PING :counted")
                heard = ear.until(is_pong("counted"))
                whisper = Message(
                    command="PRIVMSG", params=("ear", "psst"), source=f"wide!wide@{SERVER_NAME}"
                )
                assert heard[:-1] == [whisper]
                # As many channels as one line holds: cut to the rooms per user, and each
                # channel after the first spends the rate limit.
                channels = targets("#t", irc.MAX_MESSAGE_BYTES - len("JOIN \r\n"))
                peer.send(f"JOIN {channels}", "PING :joined")
                replies = peer.until(is_pong("joined"))
                joined = read_room_answers(s, peer, replies)
                elapsed = time.monotonic() - started
                assert count(replies, "JOIN") == joined
                assert s.stats.rooms == 1 + joined
                assert count(replies, "405") == 0
                notices = [m for m in replies if m.command == "NOTICE"]
                spent = 2 + PRIVMSG_TARGETS + 1 + joined  # NICK, USER, the targets, the rooms
                if rate:
                    assert RATE_BURST <= spent <= RATE_BURST + rate * elapsed, (spent, elapsed)
                    assert len(notices) == 1, notices
                else:
                    assert joined == DEFAULT_MAX_ROOMS_PER_USER
                    assert notices == []
                assert len(replies) == 4 * joined + len(notices) + 1, Counter(
                    m.command for m in replies
                )
                peer.send("QUIT")
                rest, ended = peer.read_to_close()
                assert (rest[-1:], ended) == ([closing("closed by the session")], "eof")
            finally:
                peer.sock.close()
        s.assert_recovered()
    assert_no_traceback(caplog)
