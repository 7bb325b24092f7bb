"""Helpers for the hostile-client tests: a chat server, calm background traffic, resource checks.

Every wait here has a deadline and every loop a bound, so a stuck server fails
a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from _support import WAIT, open_fds, thread_count, track, wait_until

import actornet
import actornet.testing
from examples.chat.binary import BinaryChatSession
from examples.chat.directory import Directory
from protocols import chat

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator
    from types import TracebackType

    import pytest

ChatClient = actornet.testing.BlockingClient[chat.ChatMessage]
Code = chat.ErrorCode

#: Growth of the resident set a scenario may leave behind (allocator slack, caches).
RSS_SLACK = 50 * 1024 * 1024

#: Threads beyond the baseline a scenario may leave (a spare the pool keeps parked).
THREAD_SLACK = 2

#: Seconds the process may take to return to its baseline after a scenario.
RECOVERY = 30.0

#: Rounds the background traffic may run at most (about 100 a second): a bound, not a target.
MAX_ROUNDS = 100_000

#: Seconds between two rounds of background traffic, so it leaves the CPU to the scenario.
PACE = 0.01

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Return this process's resident set size in bytes, from /proc/self/statm."""
    with open("/proc/self/statm", encoding="ascii") as statm:  # noqa: PTH123 - a proc file
        return int(statm.read().split()[1]) * _PAGE_SIZE


@dataclass(frozen=True, slots=True)
class Usage:
    """What the process holds at one moment: descriptors, threads, actors, memory."""

    fds: int
    threads: int
    actors: int
    rss: int

    @classmethod
    def now(cls) -> Usage:
        """Measure the process as it is."""
        return cls(open_fds(), thread_count(), actornet.live_actor_count(), rss_bytes())

    def within(self, baseline: Usage) -> bool:
        """Return whether this is back near `baseline`."""
        return (
            self.fds <= baseline.fds
            and self.actors <= baseline.actors
            and self.threads <= baseline.threads + THREAD_SLACK
            and self.rss <= baseline.rss + RSS_SLACK
        )


def assert_back_to(baseline: Usage, timeout: float = RECOVERY) -> None:
    """Poll until the process is back near `baseline`; fail with both figures if it is not."""
    wait_until(lambda: Usage.now().within(baseline), timeout=timeout)
    now = Usage.now()
    assert now.within(baseline), f"still {now} after {timeout} s; baseline {baseline}"


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return the ERROR (and worse) log lines captured so far."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- the chat ----------------------------------------------------------------


@contextmanager
def chat_server(
    limits: actornet.Limits | None = None, rate: float = 0
) -> Iterator[actornet.Server[chat.ChatMessage]]:
    """Run the chat in-process on an ephemeral loopback port (rate limiting off by default)."""
    directory = Directory.start()
    try:
        server = actornet.serve_tcp(
            BinaryChatSession,
            chat.WIRE,
            host="127.0.0.1",
            limits=limits or actornet.Limits(idle_timeout=None),
            session_args=(directory, rate),
        )
        try:
            yield server
        finally:
            server.shutdown(timeout=WAIT)
    finally:
        directory.stop()


def connect(server: actornet.Server[Any], timeout: float = WAIT) -> ChatClient:
    """Open a blocking chat client."""
    client = actornet.testing.BlockingClient("127.0.0.1", server.port, chat.WIRE, timeout=timeout)
    track(client.sock)
    return client


def receive_until(
    client: ChatClient, want: Callable[[Any], bool], limit: int = 100_000
) -> list[Any]:
    """Receive until a message matches `want` (at most `limit` messages); return them all."""
    seen = []
    for _ in range(limit):
        message = client.receive()
        seen.append(message)
        if want(message):
            return seen
    raise AssertionError(f"no wanted message among {limit}; last {seen[-3:]}")


def register(server: actornet.Server[Any], nick: str) -> ChatClient:
    """Connect and register `nick`; return the client, past its Welcome."""
    client = connect(server)
    try:
        client.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=nick))
        assert client.receive() == chat.Welcome(
            version=chat.PROTOCOL_VERSION, nick=nick, server="actornet-chat"
        )
    except BaseException:
        client.close()
        raise
    return client


def join(client: ChatClient, room: str, nick: str) -> list[Any]:
    """Join `room`; return what arrived up to the member list."""
    client.send(chat.Join(room=room))
    seen = receive_until(client, lambda m: m == chat.Joined(room=room, nick=nick))
    seen += receive_until(client, lambda m: isinstance(m, chat.Names))
    return seen


def is_said(room: str, text: str) -> Callable[[Any], bool]:
    """Return a test for the Said message of `text` in `room`."""
    return lambda m: isinstance(m, chat.Said) and m.room == room and m.text == text


def read_replies(sock: socket.socket, timeout: float = WAIT) -> tuple[list[Any], str]:
    """Read a raw socket until the server closes it; return the decoded replies and how it ended.

    How it ended is "eof" or "reset". Fails if the server has not closed it within `timeout`.
    """
    decoder = chat.WIRE.decoder()
    deadline = time.monotonic() + timeout
    ended = ""
    while not ended:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the server did not close the connection within {timeout} s")
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            ended = "reset"
            continue
        except TimeoutError:
            continue
        if not data:
            ended = "eof"
            continue
        decoder.receive_data(data)
    return decoder.events(), ended


def sendall_ignoring_reset(sock: socket.socket, data: bytes) -> int:
    """Send as much of `data` as the server takes before closing; return how much that was."""
    sent = 0
    view = memoryview(data)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        while sent < len(data):
            sent += sock.send(view[sent : sent + 256 * 1024])
    return sent


# -- calm background traffic ------------------------------------------------


@dataclass
class Background:
    """Well-behaved traffic in a thread: `one_round` runs until stopped, each checked.

    `one_round(n)` sends round n and returns the seconds each expected message
    took to arrive; it raises if anything arrived out of order, twice, wrong or
    not at all. The first failure stops the thread and is raised by `stop()`.
    """

    one_round: Callable[[int], list[float]]
    name: str
    #: Seconds between two rounds (a rate-limited door needs more than `PACE`).
    pace: float = PACE
    rounds: int = 0
    latencies: list[float] = field(default_factory=list)
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Run rounds in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for n in range(MAX_ROUNDS):
                if self._stop.is_set():
                    return
                self.latencies.extend(self.one_round(n))
                self.rounds += 1
                self._stop.wait(self.pace)
        except BaseException as exc:  # handed to the test by stop()
            self.error = exc

    def check(self) -> None:
        """Raise the first failure of the traffic, if any."""
        if self.error is not None:
            raise AssertionError(f"{self.name} failed after {self.rounds} rounds") from self.error

    def wait_rounds(self, more: int, timeout: float = WAIT) -> None:
        """Wait until `more` further rounds completed, failing if they do not in time."""
        target = self.rounds + more
        wait_until(lambda: self.rounds >= target or self.error is not None, timeout=timeout)
        self.check()
        assert self.rounds >= target, (
            f"{self.name} stalled at round {self.rounds}; wanted {target} within {timeout} s"
        )

    def stop(self) -> None:
        """Stop after the current round and raise its failure, if any."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2 * WAIT)
            assert not self._thread.is_alive(), f"{self.name} did not stop"
        self.check()


class CalmChat:
    """Three registered clients in `#calm`, each saying a numbered line every round.

    Every round each client must receive the round's three lines, exactly once
    and in the same order as the others (the room orders them): nothing lost,
    repeated or reordered while the scenario next to it misbehaves. Messages of
    other nicks and notices (joins, quits) are skipped.
    """

    ROOM = "#calm"
    NICKS = ("calm1", "calm2", "calm3")

    def __init__(self, server: actornet.Server[chat.ChatMessage]) -> None:
        self.server = server
        self.clients: list[ChatClient] = []
        self.background = Background(self._round, "calm-chat")
        self.others: list[Any] = []

    def __enter__(self) -> Self:
        try:
            for nick in self.NICKS:
                self.clients.append(register(self.server, nick))
            for client, nick in zip(self.clients, self.NICKS, strict=True):
                join(client, self.ROOM, nick)
            last = self.NICKS[-1]
            for client in self.clients[:-1]:
                receive_until(client, lambda m: m == chat.Joined(room=self.ROOM, nick=last))
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
        for client in self.clients:
            client.close()

    def _round(self, n: int) -> list[float]:
        sent_at = time.monotonic()
        for client, nick in zip(self.clients, self.NICKS, strict=True):
            client.send(chat.Say(room=self.ROOM, text=f"{nick} {n}"))
        want = {f"{nick} {n}" for nick in self.NICKS}
        orders = []
        latencies = []
        for client in self.clients:
            got: list[str] = []
            for _ in range(10_000):
                if len(got) == len(want):
                    break
                message = client.receive()
                if (
                    isinstance(message, chat.Said)
                    and message.room == self.ROOM
                    and message.nick in self.NICKS
                ):
                    got.append(message.text)
                else:
                    self.others.append(message)
            latencies.append(time.monotonic() - sent_at)
            assert sorted(got) == sorted(want), f"round {n}: got {got}, want {sorted(want)}"
            orders.append(got)
        assert all(order == orders[0] for order in orders), f"round {n}: orders differ {orders}"
        return latencies


class Scenario:
    """A chat server with calm traffic, a warmed-up baseline, and the checks after misbehaviour.

    Use as `with Scenario(limits) as s:`; do the hostile part, then call
    `s.assert_recovered()`.
    """

    def __init__(self, limits: actornet.Limits | None = None) -> None:
        self.limits = limits or actornet.Limits(idle_timeout=None)
        self._stack = contextlib.ExitStack()
        self.server: actornet.Server[chat.ChatMessage]
        self.calm: CalmChat
        self.baseline: Usage
        self._fresh = 0

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self.server = stack.enter_context(chat_server(self.limits))
            self.calm = stack.enter_context(CalmChat(self.server))
            # One full client lifetime first, so what the runtime creates lazily
            # (spare threads, allocator arenas) is part of the baseline.
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
        """Return how many connections the calm traffic holds."""
        return len(CalmChat.NICKS)

    def fresh_client_chats(self) -> None:
        """Register a new nick, join the calm room, hear it and be heard, then quit."""
        self._fresh += 1
        nick = f"fresh{self._fresh}"
        wait_until(lambda: self.server.connection_count() <= self.calm_connections())
        with register(self.server, nick) as client:
            join(client, CalmChat.ROOM, nick)
            # The calm traffic reaches the newcomer...
            receive_until(
                client,
                lambda m: isinstance(m, chat.Said) and m.nick in CalmChat.NICKS,
            )
            # ...and the newcomer reaches the room.
            client.send(chat.Say(room=CalmChat.ROOM, text=f"hello from {nick}"))
            receive_until(client, is_said(CalmChat.ROOM, f"hello from {nick}"))
            client.send(chat.Quit(reason="done"))
            client.receive_until_closed()
        assert wait_until(
            lambda: self.server.connection_count() == self.calm_connections(), timeout=WAIT
        ), f"{self.server.connection_count()} connections left; want the calm ones only"

    def assert_recovered(self) -> None:
        """Check the calm traffic flowed throughout and still does, then the resources."""
        background = self.calm.background
        # Each round waits at most WAIT for its messages, so a stall during the
        # scenario has already failed the traffic; it must also still flow.
        background.check()
        background.wait_rounds(5)
        self.fresh_client_chats()
        assert_back_to(self.baseline)
        background.check()
