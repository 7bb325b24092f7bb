"""Chat users of the three doors, for the tests that put them in one room.

- `WebUser`: the browser door's protocol spoken by an independent WebSocket client, the
  `websockets` library (sync client), on `/chat` with the subprotocol `actornet-chat.v1`;
  each binary message is one `protocols.chat` payload.
- `BinaryUser`: the binary door, `actornet.testing.BlockingClient` with `protocols.chat.WIRE`.
- `IrcUser`: the IRC door over a raw socket: lines typed as a client sends them, replies parsed
  with `protocols.irc`.

Every receive waits at most `WAIT` seconds. The server's heartbeats (`ServerPing`, IRC `PING`)
are answered and not returned, so a slow run cannot lose its users to the idle timeout.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Self, TypeVar

from _support import WAIT, track
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

import actornet.testing
from examples.chat.browser import CHAT_PATH, SUBPROTOCOL
from protocols import chat, irc

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

#: Most messages a wait reads before it gives up (besides its deadline).
MAX_MESSAGES = 2000

T = TypeVar("T")


def _until(receive: Callable[[], T], want: Callable[[T], bool], what: str) -> list[T]:
    """Receive until `want` holds for a message; return all received, the wanted one last."""
    seen: list[T] = []
    for _ in range(MAX_MESSAGES):
        message = receive()
        seen.append(message)
        if want(message):
            return seen
    raise AssertionError(f"{what} not among {MAX_MESSAGES} messages; last {seen[-5:]}")


def _matches(want: Any) -> Callable[[Any], bool]:
    return want if callable(want) else lambda message: message == want


class _Closing:
    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class WebUser(_Closing):
    """A WebSocket user of the browser door, registered as `nick` on opening."""

    def __init__(self, http_port: int, nick: str) -> None:
        self.nick = nick
        self._exits = contextlib.ExitStack()  # websockets wants its connection in a `with`
        self.ws: ClientConnection = self._exits.enter_context(
            connect(
                f"ws://127.0.0.1:{http_port}{CHAT_PATH}",
                subprotocols=[Subprotocol(SUBPROTOCOL)],
                proxy=None,
                open_timeout=WAIT,
                close_timeout=WAIT,
                ping_interval=None,
            )
        )
        assert self.ws.subprotocol == SUBPROTOCOL

    def send(self, message: chat.ChatMessage) -> None:
        self.ws.send(chat.CODEC.encode(message))

    def receive(self) -> chat.ChatMessage:
        while True:
            data = self.ws.recv(timeout=WAIT)
            assert isinstance(data, bytes), f"the chat sent a text message: {data!r}"
            message = chat.CODEC.decode(data)
            if not isinstance(message, chat.ServerPing):
                return message
            self.send(chat.Pong(token=message.token))

    def until(self, want: Any) -> list[chat.ChatMessage]:
        """Receive up to the message equal to `want` (or for which `want(message)` holds)."""
        return _until(self.receive, _matches(want), f"{want!r} (for {self.nick})")

    def hello(self) -> chat.Welcome:
        self.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=self.nick))
        welcome = self.receive()
        assert isinstance(welcome, chat.Welcome), welcome
        return welcome

    def close(self) -> None:
        self._exits.close()


class BinaryUser(_Closing):
    """A user of the binary door (TCP, `protocols.chat.WIRE`)."""

    def __init__(self, port: int, nick: str) -> None:
        self.nick = nick
        self.client = actornet.testing.BlockingClient("127.0.0.1", port, chat.WIRE, timeout=WAIT)
        track(self.client.sock)

    def send(self, message: chat.ChatMessage) -> None:
        self.client.send(message)

    def receive(self) -> chat.ChatMessage:
        while True:
            message = self.client.receive()
            if not isinstance(message, chat.ServerPing):
                return message
            self.send(chat.Pong(token=message.token))

    def until(self, want: Any) -> list[chat.ChatMessage]:
        """Receive up to the message equal to `want` (or for which `want(message)` holds)."""
        return _until(self.receive, _matches(want), f"{want!r} (for {self.nick})")

    def hello(self) -> chat.Welcome:
        self.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=self.nick))
        welcome = self.receive()
        assert isinstance(welcome, chat.Welcome), welcome
        return welcome

    def close(self) -> None:
        self.client.close()


class IrcUser(_Closing):
    """A user of the IRC door over a raw socket."""

    def __init__(self, port: int, nick: str) -> None:
        self.nick = nick
        self.client = actornet.testing.BlockingClient("127.0.0.1", port, irc.WIRE, timeout=WAIT)
        track(self.client.sock)

    def send(self, line: str) -> None:
        """Send one line as typed, CRLF added."""
        self.client.sock.sendall(line.encode() + b"\r\n")

    def receive(self) -> irc.Message:
        while True:
            message = self.client.receive()
            assert isinstance(message, irc.Message), message
            if message.command != "PING":
                return message
            self.send(f"PONG :{message.params[-1] if message.params else ''}")

    def until(self, want: Any) -> list[irc.Message]:
        """Receive up to the message equal to `want`, for which `want(message)` holds, or
        (a string) whose command is `want`."""
        test = (lambda m: m.command == want) if isinstance(want, str) else _matches(want)
        return _until(self.receive, test, f"{want!r} (for {self.nick})")

    def register(self) -> list[irc.Message]:
        """Send NICK and USER; return the lines up to 422 (the end of registration)."""
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick} 0 * :{self.nick} of the tests")
        return self.until("422")

    def source(self, nick: str | None = None) -> str:
        """Return the source the door gives `nick`'s lines (this user's by default)."""
        who = self.nick if nick is None else nick
        return f"{who}!{who}@actornet-chat"

    def close(self) -> None:
        self.client.close()
