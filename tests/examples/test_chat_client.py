"""The chat client, run as a user runs it: `python -m examples.chat client` against a real server.

The server and the clients are subprocesses on 127.0.0.1. Script-mode clients
are read line by line; the interactive client runs in a pseudo-terminal and is
read as a screen. Every wait polls output against a deadline.
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import struct
import subprocess
import termios
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from _processes import ROOT, ChatServer, ScriptClient, client_command
from _support import WAIT, free_port

import actornet
from actornet.testing import SessionHarness
from examples.chat import client
from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Iterator


#: Longest a reconnection may take: the server restarts in well under a second,
#: and the client retries after 1 s, then 2 s, then 4 s.
RECONNECT_WAIT = 15.0

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


# -- processes -------------------------------------------------------------------


class Terminal:
    """The interactive client in a pseudo-terminal of 30 x 100, read as a screen."""

    def __init__(self, port: int, nick: str) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
        self.process = subprocess.Popen(
            client_command(port, nick),
            cwd=ROOT,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self._raw = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO once the client closed its side
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk

    def screen(self) -> str:
        """Everything the terminal showed, escape sequences and carriage returns removed."""
        with self._lock:
            raw = self._raw
        return _ANSI.sub("", raw.decode(errors="replace")).replace("\r", "")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, text: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never shown; screen:\n{self.screen()}")
            time.sleep(0.05)  # polling the screen against the deadline

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)
        os.close(self.master)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    running = ChatServer()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def terminal(port: int, nick: str) -> Iterator[Terminal]:
    term = Terminal(port, nick)
    try:
        yield term
    finally:
        term.close()


# -- (a) two scripted clients ---------------------------------------------------


def test_two_script_clients_chat_whisper_rename_list_and_quit(server: ChatServer) -> None:
    with ScriptClient(server.port, "alice") as alice, ScriptClient(server.port, "bob") as bob:
        alice.expect("welcome alice actornet-chat")
        alice.type("/join #lobby")
        alice.expect("joined #lobby alice")
        alice.expect("topic #lobby -")
        alice.expect("names #lobby alice")

        bob.expect("welcome bob actornet-chat")
        bob.type("/join lobby")  # the '#' is optional
        bob.expect("names #lobby alice bob")
        alice.expect("joined #lobby bob")

        bob.type("hi")
        alice.expect("said #lobby bob hi")
        bob.expect("said #lobby bob hi")

        bob.type("/msg alice psst, a secret")
        alice.expect("whisper bob alice psst, a secret")
        bob.expect("whisper bob alice psst, a secret")

        bob.type("/nick alice")
        bob.expect("error NICK_IN_USE alice alice is taken; pick another")
        bob.type("/nick robert")
        alice.expect("nick #lobby bob robert")
        bob.expect("nick #lobby bob robert")

        alice.type("/topic be nice")
        alice.expect("topic #lobby alice be nice")
        bob.expect("topic #lobby alice be nice")

        alice.type("/names")
        alice.expect("names #lobby alice robert")
        alice.type("/rooms")
        alice.expect("rooms 1")
        assert any(line.startswith("room #lobby 2") for line in alice.lines)

        bob.type("/quit gone fishing")
        alice.expect("quit #lobby robert gone fishing")
        assert bob.wait_exit() == 0
        assert bob.lines[-1] == "disconnected - peer closed the connection"

        alice.end_input()
        assert alice.wait_exit() == 0


def test_script_client_reports_its_own_mistakes_and_refusals(server: ChatServer) -> None:
    with ScriptClient(server.port, "carol") as carol:
        carol.expect("welcome carol actornet-chat")
        carol.type("hello?")
        carol.expect("error NO_ROOM - you are in no room; /join #room first")
        carol.type("/frobnicate")
        carol.expect("error USAGE - unknown command /frobnicate; /help lists the commands")
        carol.type("/msg nobody")
        carol.expect("error USAGE - usage: /msg nick text")
        carol.type("/msg nobody hi")
        carol.expect("error NO_SUCH_NICK nobody nobody is called nobody")
        carol.type("/join bad room")  # one word is read: '#bad'
        carol.expect("joined #bad carol")
        carol.type("/leave #bad see\tyou")
        carol.expect("left #bad carol see\\tyou")
        carol.type("/help")
        carol.expect("help /quit [reason]           leave the chat (Ctrl-D, Ctrl-C)")
        carol.end_input()
        assert carol.wait_exit() == 0


def test_script_client_exits_with_status_1_when_nothing_listens() -> None:
    port = free_port()
    result = subprocess.run(
        client_command(port, "alice", "--script"),
        cwd=ROOT,
        input="",
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused" in result.stderr


# -- (b) the interactive client in a terminal ----------------------------------


def test_interactive_client_shows_own_and_others_messages_and_quits(server: ChatServer) -> None:
    with terminal(server.port, "carol") as term:
        term.wait_for("* you are carol on actornet-chat")
        term.type("/join #lobby\r")
        term.wait_for("* carol joined #lobby")
        term.wait_for("#lobby>")  # the prompt names the current room
        with ScriptClient(server.port, "bob", "#lobby") as bob:
            term.wait_for("* bob joined #lobby")
            term.type("hello bob\r")
            term.wait_for("[#lobby] <carol> hello bob")
            bob.expect("said #lobby carol hello bob")
            bob.type("hi carol", "/msg carol psst")
            term.wait_for("[#lobby] <bob> hi carol")
            term.wait_for("-bob- psst")
            term.type("/quit off to lunch\r")
            assert term.process.wait(WAIT) == 0
            bob.expect("quit #lobby carol off to lunch")


def test_interactive_client_quits_on_ctrl_d(server: ChatServer) -> None:
    with terminal(server.port, "dora") as term:
        term.wait_for("* you are dora on actornet-chat")
        term.type("\x04")
        assert term.process.wait(WAIT) == 0


# -- (c) reconnecting ----------------------------------------------------------


def test_script_client_reconnects_and_rejoins_after_a_server_restart() -> None:
    first = ChatServer()
    port = first.port
    try:
        with ScriptClient(port, "dave", "#lobby", "#dev") as dave:
            dave.expect("joined #lobby dave")
            dave.expect("joined #dev dave")
            started = time.monotonic()
            first.stop()
            dave.expect("disconnected 1 peer closed the connection")
            second = ChatServer(port)
            try:
                dave.lines.clear()
                dave.expect("welcome dave actornet-chat", RECONNECT_WAIT)
                dave.expect("joined #lobby dave")
                dave.expect("joined #dev dave")
                assert time.monotonic() - started < 20
                with ScriptClient(port, "erin", "#lobby") as erin:
                    erin.expect("names #lobby dave erin")
                    erin.type("welcome back")
                    dave.expect("said #lobby erin welcome back")
                dave.type("still here")  # the current room survived the reconnection
                dave.expect("said #lobby dave still here")
                dave.end_input()
                assert dave.wait_exit() == 0
            finally:
                second.stop()
    finally:
        first.stop()


class _NewerServerSession(actornet.Session[chat.ChatMessage]):
    """Refuses every client's version, as a server of a later protocol would."""

    def on_event(self, event: chat.ChatMessage) -> None:
        if isinstance(event, chat.Hello):
            detail = "this server speaks version 2"
            self.send(
                chat.Error(code=chat.ErrorCode.UNSUPPORTED_VERSION, subject="", detail=detail)
            )
            self.close()


def test_client_gives_up_with_status_1_after_a_fatal_error() -> None:
    server = actornet.serve_tcp(_NewerServerSession, chat.WIRE, host="127.0.0.1", port=0)
    try:
        lines: list[str] = []
        chat_client = client.ChatClient(
            "127.0.0.1", server.port, "zoe", [], script=True, write=lines.append
        )
        chat_client.connect()
        thread = threading.Thread(target=chat_client.run, daemon=True)
        thread.start()
        assert chat_client.finished.wait(WAIT)
        thread.join(WAIT)
        assert chat_client.exit_code == 1
        assert lines == [
            f"connected 127.0.0.1:{server.port}",
            "error UNSUPPORTED_VERSION - this server speaks version 2",
            "disconnected - peer closed the connection",
        ]
    finally:
        server.shutdown()


# -- the session alone ------------------------------------------------------------


class _Deliveries:
    def __init__(self) -> None:
        self.events: queue.Queue[client.ClientEvent] = queue.Queue()

    def next(self) -> client.ClientEvent:
        return self.events.get(timeout=WAIT)


def _harness(
    deliveries: _Deliveries, *, rename_if_taken: bool = False
) -> SessionHarness[chat.ChatMessage]:
    return SessionHarness(
        client.ClientSession,
        chat.WIRE,
        session_args=("dave", ["#lobby", "#dev"], deliveries.events.put),
        session_kwargs={"rename_if_taken": rename_if_taken},
    )


def test_session_says_hello_answers_pings_and_joins_its_rooms_on_welcome() -> None:
    deliveries = _Deliveries()
    harness = _harness(deliveries)
    assert harness.next_sent() == chat.Hello(version=chat.PROTOCOL_VERSION, nick="dave")
    assert deliveries.next() == client.Connected("127.0.0.1:0")
    harness.feed(chat.ServerPing(token=7))
    assert harness.next_sent() == chat.Pong(token=7)
    welcome = chat.Welcome(version=1, nick="dave", server="test")
    harness.feed(welcome)
    assert deliveries.next() == welcome
    assert harness.next_sent() == chat.Join(room="#lobby")
    assert harness.next_sent() == chat.Join(room="#dev")
    harness.end(actornet.DisconnectReason.PEER_CLOSED)
    assert deliveries.next() == client.Disconnected(
        actornet.DisconnectReason.PEER_CLOSED, "peer closed the connection", None
    )


def test_session_appends_underscore_when_its_nick_is_taken_on_reconnect() -> None:
    deliveries = _Deliveries()
    harness = _harness(deliveries, rename_if_taken=True)
    assert harness.next_sent() == chat.Hello(version=1, nick="dave")
    taken = chat.Error(code=chat.ErrorCode.NICK_IN_USE, subject="dave", detail="taken")
    harness.feed(taken)
    assert harness.next_sent() == chat.Hello(version=1, nick="dave_")
    assert deliveries.next() == client.Connected("127.0.0.1:0")
    assert deliveries.next() == taken
    assert deliveries.next() == client.Renamed("dave", "dave_")


def test_session_sends_hello_for_a_nick_change_before_it_is_registered() -> None:
    deliveries = _Deliveries()
    harness = _harness(deliveries)
    assert harness.next_sent() == chat.Hello(version=1, nick="dave")
    harness.feed(chat.Error(code=chat.ErrorCode.NICK_IN_USE, subject="dave", detail="taken"))
    harness.session_ref.tell(client.Outgoing(chat.SetNick(nick="davy")))
    assert harness.next_sent() == chat.Hello(version=1, nick="davy")


def test_session_remembers_a_fatal_error_so_the_client_does_not_reconnect() -> None:
    deliveries = _Deliveries()
    harness = _harness(deliveries)
    harness.next_sent()
    harness.feed(chat.Error(code=chat.ErrorCode.UNSUPPORTED_VERSION, subject="", detail="no"))
    harness.end(actornet.DisconnectReason.PEER_CLOSED)
    while not isinstance(event := deliveries.next(), client.Disconnected):
        pass
    assert event.fatal is chat.ErrorCode.UNSUPPORTED_VERSION


# -- parsing and formatting -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello there", chat.Say(room="#lobby", text="hello there")),
        ("//slash", chat.Say(room="#lobby", text="/slash")),
        ("/join dev", chat.Join(room="#dev")),
        ("/leave", chat.Leave(room="#lobby", reason="")),
        ("/leave bye all", chat.Leave(room="#lobby", reason="bye all")),
        ("/leave #dev bye", chat.Leave(room="#dev", reason="bye")),
        ("/msg bob hi  there", chat.Whisper(to="bob", text="hi  there")),
        ("/nick robert", chat.SetNick(nick="robert")),
        ("/rooms", chat.ListRooms()),
        ("/names", chat.ListNames(room="#lobby")),
        ("/names #dev", chat.ListNames(room="#dev")),
        ("/topic be nice", chat.SetTopic(room="#lobby", topic="be nice")),
        ("/topic #dev ship it", chat.SetTopic(room="#dev", topic="ship it")),
        ("/quit", chat.Quit(reason="")),
        ("/QUIT gone", chat.Quit(reason="gone")),
        ("   ", None),
        ("/topic", client.Problem("USAGE", "usage: /topic [#room] text")),
        ("/nope", client.Problem("USAGE", "unknown command /nope; /help lists the commands")),
    ],
)
def test_lines_parse_into_commands(line: str, expected: object) -> None:
    assert client.parse_line(line, "#lobby") == expected


def test_text_and_room_defaulted_commands_need_a_current_room() -> None:
    assert client.parse_line("hi", None) == client.Problem(
        "NO_ROOM", "you are in no room; /join #room first"
    )
    assert client.parse_line("/names", None) == client.Problem("USAGE", "usage: /names [#room]")


def test_script_format_keeps_every_event_on_one_parseable_line() -> None:
    script = client.ScriptFormat()
    said = chat.Said(room="#lobby", nick="bob", text="a\nb \\ \x1b[2J\u2028", time_ms=0)
    assert script.lines(said, "me") == ["said #lobby bob a\\nb \\\\ \\x1b[2J\\u2028"]
    error = chat.Error(code=chat.ErrorCode.RATE_LIMITED, subject="", detail="slow down")
    assert script.lines(error, "me") == ["error RATE_LIMITED - slow down"]
    assert script.lines(chat.Error(code=999, subject="x y", detail=""), "me") == [
        "error 999 x\\x20y"
    ]
    assert script.lines(chat.Topic(room="#a", topic="", set_by=""), "me") == ["topic #a -"]
    assert script.lines(client.ConnectionLost("reset", 4.0), "me") == ["disconnected 4 reset"]


def test_human_format_reads_like_a_chat() -> None:
    human = client.HumanFormat()

    def show(event: client.ClientEvent) -> list[str]:
        return human.lines(event, "alice")

    assert show(chat.Said(room="#lobby", nick="alice", text="hello", time_ms=0)) == [
        "[#lobby] <alice> hello"
    ]
    assert show(chat.Left(room="#lobby", nick="bob", reason="bye")) == ["* bob left #lobby (bye)"]
    assert show(chat.Whispered(sender="bob", to="alice", text="psst", time_ms=0)) == ["-bob- psst"]
    assert show(chat.Whispered(sender="alice", to="bob", text="psst", time_ms=0)) == [
        "-> bob: psst"
    ]
    error = chat.Error(code=chat.ErrorCode.NICK_IN_USE, subject="bob", detail="bob is taken")
    assert show(error) == ["! nick in use: bob is taken"]
    # One quit or rename arrives once per shared room; a person sees it once.
    assert show(chat.Quitted(room="#a", nick="bob", reason="\x1b[2J")) == ["* bob quit (\\x1b[2J)"]
    assert show(chat.Quitted(room="#b", nick="bob", reason="\x1b[2J")) == []
    assert show(chat.NickChanged(room="#a", old="carol", new="alice")) == [
        "* you are now known as alice"
    ]
    assert show(client.ConnectionLost("peer closed the connection", 2.0)) == [
        "* disconnected: peer closed the connection; reconnecting in 2 s"
    ]
