"""A real IRC client, Debian's irssi, on the chat's IRC door, next to users of the other doors.

irssi runs in a detached tmux session on a socket of its own (`tmux -L`), with a home
directory of its own: a config naming no server, network or channel (and `--noconnect`), no
scripts, a log of every window in the temporary directory. The test types into it with
`tmux send-keys` and reads its screen with `tmux capture-pane`. The server is
`python -m examples.chat serve` as a subprocess; the other users are the terminal client in
script mode (binary door) and a `websockets` client (browser door). Every wait polls against a
deadline. Without irssi or tmux the tests are skipped, except in CI (`CI=true`), where that
fails. A second test checks that irssi shows a rename once in each channel window.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

import pytest
from _chat_users import BinaryUser, WebUser
from _processes import ChatServer, ScriptClient
from _support import WAIT

from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

#: Seconds between two looks at irssi's screen or log while waiting.
POLL = 0.05


def tool_path(name: str) -> str:
    """Return the path of the program `name`, or skip (fail in CI) if it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{name} is not installed, and the irssi test needs it: .ci/run installs irssi "
            "and tmux with apt (apt-get install irssi tmux) before running the tests"
        )
    pytest.skip(f"{name} is not installed (apt-get install irssi tmux); skipping the irssi test")


def _quoted(text: str) -> str:
    """Return `text` as a string of irssi's config syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def irssi_config(nick: str, log: Path) -> str:
    """Return a config with nothing to connect to or join by itself, logging every window."""
    return f"""servers = ( );
chatnets = {{ }};
channels = ( );
logs = {{ {_quoted(str(log))} = {{ auto_open = "yes"; level = "ALL"; }}; }};
settings = {{
  core = {{
    nick = {_quoted(nick)};
    user_name = {_quoted(nick)};
    real_name = "irssi in actornet's tests";
    hostname = "127.0.0.1";
    settings_autosave = "no";
  }};
  # No client-side flood control: irssi holds back all but a few commands for 2.2 s each,
  # and the test waits on every line it types.
  "irc/core" = {{ cmds_max_at_once = "100"; cmd_queue_speed = "0msec"; }};
  "fe-common/core" = {{ autolog = "no"; }};
}};
"""


class Irssi:
    """irssi in a detached tmux session, on a tmux server of its own."""

    def __init__(self, directory: Path, nick: str) -> None:
        self.irssi = tool_path("irssi")
        self.tmux = tool_path("tmux")
        self.nick = nick
        self.home = directory / "irssi-home"
        self.home.mkdir()
        #: The log of every irssi window: what irssi printed, as it printed it.
        self.log = directory / "irssi.log"
        assert not set(str(self.log)) & set('%$~"\\'), "irssi would expand the log's name"
        (self.home / "config").write_text(irssi_config(nick, self.log))
        self.socket = f"actornet-irssi-{os.getpid()}-{secrets.token_hex(4)}"
        self.socket_path = ""
        self.env = {key: value for key, value in os.environ.items() if key != "TMUX"}
        self.env["HOME"] = str(directory)

    def __enter__(self) -> Self:
        self._tmux(
            "new-session", "-d", "-s", "irssi", "-x", "200", "-y", "50",
            self.irssi, f"--home={self.home}", f"--nick={self.nick}", "--noconnect",
        )  # fmt: skip
        #: The tmux server's socket file, removed at the end (tmux leaves it behind).
        self.socket_path = self._tmux("display-message", "-p", "#{socket_path}").stdout.strip()
        self.wait(lambda: "[(status)]" in self.screen(), "irssi's status window")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._tmux("kill-server", check=False)
        if self.socket_path:
            Path(self.socket_path).unlink(missing_ok=True)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.tmux, "-L", self.socket, "-f", os.devnull, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=check,
        )

    def type(self, line: str) -> None:
        """Type `line` into irssi's prompt, then Enter."""
        self._tmux("send-keys", "-t", "irssi", "-l", line)
        self._tmux("send-keys", "-t", "irssi", "Enter")

    def screen(self) -> str:
        """Return irssi's screen with its scrollback, wrapped lines joined."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "irssi").stdout

    def logged(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def running(self) -> bool:
        return self._tmux("has-session", "-t", "irssi", check=False).returncode == 0

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        """Poll `condition` until it holds; fail after WAIT seconds, showing the screen."""
        deadline = time.monotonic() + WAIT
        while not condition():
            if time.monotonic() > deadline:
                screen = self.screen() if self.running() else "(irssi has exited)"
                raise AssertionError(f"no {what} within {WAIT} s; irssi's screen:\n{screen}")
            time.sleep(POLL)

    def wait_screen(self, text: str) -> None:
        self.wait(lambda: text in self.screen(), repr(text))

    def wait_logged(self, *texts: str) -> None:
        self.wait(lambda: all(text in self.logged() for text in texts), repr(texts))

    def connect(self, port: int) -> None:
        """Connect to the IRC door; wait until irssi has printed the end of registration."""
        self.type(f"/connect 127.0.0.1 {port}")
        self.wait_logged("MOTD File is missing")  # 422: registration ends there


@pytest.fixture
def server() -> Iterator[ChatServer]:
    running = ChatServer()
    try:
        yield running
    finally:
        running.stop()


def test_irssi_chats_with_a_terminal_client_and_a_websocket_user(
    server: ChatServer, tmp_path: Path
) -> None:
    irssi_in_tmux = Irssi(tmp_path, "irssiann")  # first: skips (or fails) without the tools
    with (
        ScriptClient(server.port, "termuser", "#lobby") as term,
        WebUser(server.http_port, "webuser") as web,
        irssi_in_tmux as irssi,
    ):
        term.expect("welcome termuser actornet-chat")
        term.expect("names #lobby termuser")
        web.hello()
        web.send(chat.Join(room="#lobby"))
        web.until(chat.NamesEnd(room="#lobby", count=2))
        term.expect("joined #lobby webuser")

        irssi.connect(server.irc_port)
        logged = irssi.logged()
        assert "Welcome to the chat, irssiann" in logged
        assert "Your host is actornet-chat" in logged
        assert "CHANTYPES=#" in logged
        assert "NICKLEN=16" in logged
        # irssi asked for the capabilities it knows of those offered, and got them.
        assert "Capabilities supported: echo-message message-tags multi-prefix server-time" in (
            logged
        )
        assert "Capabilities acknowledged: multi-prefix server-time" in logged

        irssi.type("/join #lobby")
        term.expect("joined #lobby irssiann")
        web.until(chat.Joined(room="#lobby", nick="irssiann"))
        irssi.wait_screen("irssiann [irssiann@actornet-chat] has joined #lobby")
        irssi.wait_screen("Total of 3 nicks")
        assert "#lobby No topic is set" in irssi.logged()

        irssi.type("hello from irssi")
        term.expect("said #lobby irssiann hello from irssi")
        said = web.until(lambda m: isinstance(m, chat.Said))[-1]
        assert isinstance(said, chat.Said)
        assert (said.room, said.nick, said.text) == ("#lobby", "irssiann", "hello from irssi")

        term.type("hi irssi, from the terminal")
        web.send(chat.Say(room="#lobby", text="hi irssi, from a websocket ✓"))
        irssi.wait_screen("< termuser> hi irssi, from the terminal")
        irssi.wait_screen("< webuser> hi irssi, from a websocket ✓")
        screen = irssi.screen()
        # Each once; irssi's own line once too: printed as typed, not echoed by the door.
        assert screen.count("< termuser> hi irssi, from the terminal") == 1
        assert screen.count("< webuser> hi irssi, from a websocket ✓") == 1
        assert screen.count("< irssiann> hello from irssi") == 1

        irssi.type("/quit leaving now")
        term.expect("quit #lobby irssiann leaving now")
        web.until(chat.Quitted(room="#lobby", nick="irssiann", reason="leaving now"))
        irssi.wait(lambda: not irssi.running(), "irssi's exit after /quit")
        assert "#lobby: < termuser> hi irssi, from the terminal" in irssi.logged()


def test_irssi_shows_a_rename_once_in_each_channel_window(
    server: ChatServer, tmp_path: Path
) -> None:
    irssi_in_tmux = Irssi(tmp_path, "irssiann")  # first: skips (or fails) without the tools
    with BinaryUser(server.port, "renamer") as renamer, irssi_in_tmux as irssi:
        irssi.connect(server.irc_port)
        irssi.type("/join #one,#two")
        irssi.wait_logged(
            "irssiann [irssiann@actornet-chat] has joined #one",
            "irssiann [irssiann@actornet-chat] has joined #two",
        )
        renamer.hello()
        for room in ("#one", "#two"):
            renamer.send(chat.Join(room=room))
            renamer.until(chat.NamesEnd(room=room, count=2))
        irssi.wait_logged(
            "renamer [renamer@actornet-chat] has joined #one",
            "renamer [renamer@actornet-chat] has joined #two",
        )

        renamer.send(chat.SetNick(nick="renamed"))
        renamer.until(lambda m: isinstance(m, chat.NickChanged))
        # A line in each room after the rename: once irssi shows both, it has had every line
        # the rename sent it, through either room.
        renamer.send(chat.Say(room="#one", text="renamed, in #one"))
        renamer.send(chat.Say(room="#two", text="renamed, in #two"))
        irssi.wait_logged("#one: < renamed> renamed, in #one", "#two: < renamed> renamed, in #two")
        renames = [line for line in irssi.logged().splitlines() if "now known as" in line]
        # One line in each of the two channel windows.
        assert len(renames) == 2, renames
