r"""`python -m examples.chat client`: a terminal chat client, interactive or scripted.

Usage::

    python -m examples.chat client --nick alice [--host 127.0.0.1] [--port 7070]
                                   [--room '#lobby' ...] [--script]

`--room` may be given several times (quote it, or drop the `#`: the shell reads
`#lobby` as a comment); the rooms are joined once the server says `Welcome`,
and the first becomes the current room.

Interactive mode (the default) shows a prompt naming the current room
(`#lobby> `); what arrives prints above it while you type. A line that does not
start with `/` is said in the current room (`//text` says `/text`). Commands::

    /join #room              join a room, or switch to one you are in; it becomes current
    /leave [#room] [reason]  leave a room (default: the current one)
    /msg nick text           whisper to one person
    /nick newnick            change your nick
    /rooms                   list the rooms, with member counts and topics
    /names [#room]           list who is in a room (default: the current one)
    /topic [#room] text      set a room's topic (default: the current one)
    /quit [reason]           leave the chat; Ctrl-D and Ctrl-C do the same
    /help                    list these commands

Connections: if the connection drops the client says why, waits 1 s, 2 s, 4 s
... (at most 30 s) between attempts, then registers again and rejoins the rooms
it was in; if its nick was taken meanwhile it appends `_` and tries again. It
does not reconnect after `/quit`, nor after a fatal server error other than
`IDLE_TIMEOUT` (`MALFORMED`, `FRAME_TOO_LARGE`, `UNEXPECTED_MESSAGE`,
`UNSUPPORTED_VERSION`: trying again would fail the same way); then it exits
with status 1. If the server cannot be reached at start, interactive mode keeps
retrying on the same schedule, while `--script` mode prints
`chat client: cannot connect to HOST:PORT: REASON` on stderr and exits with
status 1. A nick that is taken at start is reported, not changed: choose
another with `/nick`, which sends `Hello` again while unregistered.

`--script` mode reads the same lines (commands or text) from stdin and writes
one event per line to stdout, flushed at once. On end of input (or `/quit`) it
sends `Quit`, waits at most 5 s for the server to close, and exits with status
0. Each line is a keyword, then space-separated fields; the last field marked
TEXT is the rest of the line and may contain spaces; when it is empty the line
ends after the field before it (`quit #lobby bob`). In every field
a backslash, a line break and any other unprintable character are escaped as
`\\`, `\n`, `\r`, `\t`, `\xHH`, `\uHHHH` or `\UHHHHHHHH`, and a space
inside a one-word field as `\x20`; an empty one-word field is `-`. The lines:

    connected HOST:PORT                TCP is up; Hello was sent
    welcome NICK SERVER                registered as NICK
    renick OLD NEW                     OLD was taken on reconnect; trying NEW
    joined ROOM NICK                   NICK (you too) joined ROOM
    left ROOM NICK TEXT                NICK left ROOM, with a reason
    quit ROOM NICK TEXT                NICK disconnected while in ROOM
    nick ROOM OLD NEW                  OLD is now NEW (one line per shared room; ROOM - if none)
    said ROOM NICK TEXT                live message
    history ROOM NICK TEXT             message said before you joined, oldest first
    whisper SENDER TO TEXT             private message, to you or your own echo
    topic ROOM SET_BY TEXT             topic on join and on change (SET_BY - if never set)
    names ROOM [NICK ...]              members of ROOM (one or more lines per answer)
    room ROOM MEMBERS TEXT             one room of a /rooms answer, TEXT its topic
    rooms COUNT                        end of a /rooms answer
    pong TOKEN                         answer to a Ping
    notice TEXT                        text from the server
    error CODE SUBJECT TEXT            a refusal: CODE is the ErrorCode name (or number);
                                       client-side: USAGE, NO_ROOM, NOT_CONNECTED
    help TEXT                          one line of /help
    disconnected RETRY TEXT            the connection ended for reason TEXT; RETRY is the
                                       seconds until reconnecting, or - if the client stops
    unreachable RETRY HOST:PORT TEXT   a reconnection attempt failed; next in RETRY s

For example `said #lobby bob hi there`, `error NICK_IN_USE alice alice is taken;
pick another`, `disconnected - peer closed the connection`.
"""

from __future__ import annotations

import contextlib
import io
import queue
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pykka import ActorDeadError, Timeout

import actornet
from examples.chat import rules
from protocols import chat

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from prompt_toolkit import PromptSession
    from pykka import ActorRef

#: The server's documented port.
DEFAULT_PORT = 7070
#: Seconds before the first reconnection attempt; doubled after each failure...
FIRST_RETRY_DELAY = 1.0
#: ...up to this many (a restarting server is back well within half a minute).
MAX_RETRY_DELAY = 30.0
#: Seconds to wait for the server to close after Quit before closing ourselves.
QUIT_TIMEOUT = 5.0

#: Ping token `settle()` uses as a barrier; its Pong is not shown.
SETTLE_TOKEN = 0xFFFF_FFFF

#: Seconds `settle()` waits after the barrier: room broadcasts trail the
#: session's own answers by a moment.
SETTLE_GRACE = 0.3
#: Events held for the screen; when full the session blocks, so it stops reading
#: and TCP slows the server down (10,000 is minutes of a busy room).
MAX_PENDING_EVENTS = 10_000

#: Server errors after which the connection is closed and retrying cannot help.
FATAL_ERRORS = frozenset(
    {
        chat.ErrorCode.MALFORMED,
        chat.ErrorCode.FRAME_TOO_LARGE,
        chat.ErrorCode.UNEXPECTED_MESSAGE,
        chat.ErrorCode.UNSUPPORTED_VERSION,
    }
)

#: How each command that takes arguments is typed.
USAGE = {
    "join": "/join #room",
    "leave": "/leave [#room] [reason]",
    "msg": "/msg nick text",
    "nick": "/nick newnick",
    "names": "/names [#room]",
    "topic": "/topic [#room] text",
}

HELP = (
    "/join #room              join a room, or switch to one you are in",
    "/leave [#room] [reason]  leave a room (default: the current one)",
    "/msg nick text           whisper to one person",
    "/nick newnick            change your nick",
    "/rooms                   list the rooms",
    "/names [#room]           list who is in a room",
    "/topic [#room] text      set a room's topic",
    "/quit [reason]           leave the chat (Ctrl-D, Ctrl-C)",
    "/help                    this list",
    "anything else            said in the current room (//text says /text)",
)


# -- what the screen is told, besides server messages ------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The TCP connection to `address` is up and `Hello` was sent."""

    address: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    """Told by the session: the connection ended (`fatal`: after that server error)."""

    reason: actornet.DisconnectReason
    why: str
    fatal: chat.ErrorCode | None


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The connection ended; reconnecting in `retry_in` seconds, or never if None."""

    why: str
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """A connection attempt to `address` failed; the next in `retry_in` seconds."""

    address: str
    why: str
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class Renamed:
    """`old` was taken when registering again; the session tries `new`."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A line refused by the client itself: `kind` is USAGE, NO_ROOM or NOT_CONNECTED."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Info:
    """Lines for the user from the client itself (the help)."""

    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """Told to the session: send `message` to the server."""

    message: chat.ClientMessage


ClientEvent = (
    chat.ChatMessage
    | Connected
    | Disconnected
    | ConnectionLost
    | ConnectFailed
    | Renamed
    | Problem
    | Info
)


# -- the connection -----------------------------------------------------------


class ClientSession(actornet.Session[chat.ChatMessage]):
    """Session of one connection to a chat server: registers, answers heartbeats, reports.

    Every server message but `ServerPing` (answered here with `Pong`) goes to
    `deliver`, as does a `Disconnected` when the connection ends. Hooks run in
    this actor on a dispatcher thread; `deliver` must be thread-safe and may
    block (a full screen queue then pauses reading).
    """

    def __init__(
        self,
        nick: str,
        rooms: Sequence[str],
        deliver: Callable[[ClientEvent], None],
        *,
        rename_if_taken: bool = False,
    ) -> None:
        super().__init__()
        #: The nick asked for (and, once registered, held).
        self.nick = nick
        self.rooms = tuple(rooms)
        self.deliver = deliver
        self.rename_if_taken = rename_if_taken
        self.registered = False
        self.fatal: chat.ErrorCode | None = None

    def on_connect(self) -> None:
        """Say `Hello`."""
        self.deliver(Connected(_address(self.conn_peer)))
        self.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=self.nick))

    def on_event(self, event: chat.ChatMessage) -> None:
        """Answer a heartbeat, join the rooms on `Welcome`, pass everything on."""
        if isinstance(event, chat.ServerPing):
            self.send(chat.Pong(token=event.token))
            return
        self.deliver(event)
        if isinstance(event, chat.Welcome):
            self.registered, self.nick = True, event.nick
            for room in self.rooms:
                self.send(chat.Join(room=room))
        elif isinstance(event, chat.Error):
            self._error(event)

    def on_receive(self, message: Any) -> None:
        """Send what the user typed (`Outgoing`); `SetNick` is a new `Hello` until registered."""
        if not isinstance(message, Outgoing):
            super().on_receive(message)
            return
        outgoing = message.message
        if isinstance(outgoing, chat.SetNick) and not self.registered:
            self.nick = outgoing.nick
            outgoing = chat.Hello(version=chat.PROTOCOL_VERSION, nick=outgoing.nick)
        try:
            self.send(outgoing)
        except actornet.ClosedConnectionError:
            self.deliver(Problem("NOT_CONNECTED", "not connected; the line was not sent"))

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:
        """Tell the screen why the connection ended."""
        error = self.conn_disconnect_error
        why = reason.value if error is None else f"{reason.value} ({error})"
        self.deliver(Disconnected(reason, why, self.fatal))

    def _error(self, error: chat.Error) -> None:
        if error.code in FATAL_ERRORS:
            self.fatal = chat.ErrorCode(error.code)
        elif error.code == chat.ErrorCode.NICK_IN_USE and self.rename_if_taken:
            new = (self.nick + "_")[: rules.MAX_NICK_LENGTH]
            if not self.registered and new != self.nick:
                self.deliver(Renamed(self.nick, new))
                self.nick = new
                self.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=new))


# -- the client: state, commands, reconnection ---------------------------------


class ChatClient:
    """The user's side of the chat: who they are, where they talk, and the connection.

    Two threads use it: the input thread calls `handle_line()` and `quit()`;
    the event thread runs `run()`, which applies and shows what the session
    delivers and reconnects when the connection drops. `write` is called with
    each line to show, under a lock.
    """

    def __init__(  # noqa: PLR0913 - every argument is a command-line option or a hook
        self,
        host: str,
        port: int,
        nick: str,
        rooms: Sequence[str],
        *,
        script: bool,
        write: Callable[[str], None],
        on_change: Callable[[], None] = lambda: None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        #: The client TLS context (`--tls`, `--ca`), or None for plain TCP.
        self.tls = tls
        self.address = f"{host}:{port}"
        self.format = ScriptFormat() if script else HumanFormat()
        self.write = write
        self.on_change = on_change
        #: Set when the client is done: after quitting, or a fatal error.
        self.finished = threading.Event()
        #: 0 after a quit, 1 after a fatal error.
        self.exit_code = 0
        self._events: queue.Queue[ClientEvent] = queue.Queue(MAX_PENDING_EVENTS)
        self._lock = threading.Lock()
        self._output_lock = threading.Lock()
        self._quitting = threading.Event()
        self._session_ref: ActorRef[ClientSession] | None = None
        self._me = nick
        self._joined: dict[str, str] = {}
        self._wanted = [_room_name(room) for room in rooms]
        self._current: str | None = None
        self._registered = False
        self._settled = threading.Event()
        self._retry_delay = FIRST_RETRY_DELAY

    # -- input thread --------------------------------------------------------

    def prompt(self) -> str:
        """Return the prompt: the current room, then `> `."""
        with self._lock:
            return f"{self._current or ''}> "

    def handle_line(self, line: str) -> bool:
        """Act on one typed line; return False once it was `/quit`."""
        line = line.rstrip("\r\n")
        with self._lock:
            current, joined = self._current, dict(self._joined)
        action = parse_line(line, current)
        if action is None:
            return True
        if isinstance(action, chat.Quit):
            self.quit(action.reason)
            return False
        if isinstance(action, Problem | Info):
            self.show(action)
            return True
        if isinstance(action, chat.Join):
            with self._lock:
                self._current = joined.get(rules.key(action.room), action.room)
            self.on_change()
            if rules.key(action.room) in joined:
                return True  # already there: only switch
        self.send(action)
        return True

    def send(self, message: chat.ClientMessage) -> None:
        """Have the session send `message`, or say why it cannot."""
        ref = self._session_ref
        if ref is not None:
            with contextlib.suppress(ActorDeadError):
                ref.tell(Outgoing(message))
                return
        self.show(Problem("NOT_CONNECTED", "not connected; the line was not sent"))

    def settle(self, timeout: float = QUIT_TIMEOUT) -> None:
        """Wait until the server has handled every line sent so far and answered.

        Script mode calls it at the end of its input, so the answers to the last
        commands are shown before `Quit` closes the connection.
        """
        deadline = time.monotonic() + timeout
        while not self._registered and not self.finished.is_set():
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)
        self._settled.clear()
        self.send(chat.Ping(token=SETTLE_TOKEN))
        if self._settled.wait(max(deadline - time.monotonic(), 0.0)):
            time.sleep(SETTLE_GRACE)

    def quit(self, reason: str) -> None:
        """Send `Quit`, wait at most `QUIT_TIMEOUT` for the server to close, and finish."""
        self._quitting.set()
        ref = self._session_ref
        if ref is not None:
            with contextlib.suppress(ActorDeadError):
                ref.tell(Outgoing(chat.Quit(reason=reason)))
        if not self.finished.wait(QUIT_TIMEOUT) and ref is not None:
            with contextlib.suppress(ActorDeadError):
                ref.stop(block=False)  # the server did not close: close ourselves
            self.finished.wait(QUIT_TIMEOUT)
        self.finished.set()

    # -- event thread --------------------------------------------------------

    def connect(self) -> None:
        """Open the first connection.

        Raises:
            OSError: if the server cannot be reached.
        """
        self._open(rename_if_taken=False)

    def run(self, *, connected: bool = True) -> None:
        """Show events and reconnect until the client is finished.

        With `connected=False`, connect first, retrying until it works.
        """
        try:
            if not connected and not self._retry(None):
                return
            while not self.finished.is_set():
                event = self._events.get()
                if isinstance(event, Disconnected):
                    if not self._disconnected(event):
                        return
                elif isinstance(event, chat.ServerPong) and event.token == SETTLE_TOKEN:
                    self._settled.set()
                else:
                    self._apply(event)
        finally:
            self.finished.set()

    def show(self, event: ClientEvent) -> None:
        """Write the lines that show `event`."""
        with self._lock:
            me = self._me
        with self._output_lock:
            for line in self.format.lines(event, me):
                self.write(line)

    def _open(self, *, rename_if_taken: bool) -> None:
        with self._lock:
            nick, rooms = self._me, list(self._wanted)
            self._registered = False
        ref = actornet.connect_tcp(
            ClientSession,
            chat.WIRE,
            self.host,
            self.port,
            session_args=(nick, rooms, self._events.put),
            session_kwargs={"rename_if_taken": rename_if_taken},
            ssl=self.tls,
        )
        with self._lock:
            self._session_ref = ref

    def _disconnected(self, event: Disconnected) -> bool:
        with self._lock:
            self._session_ref = None
            if self._registered:
                self._wanted = list(self._joined.values())
            self._joined.clear()
        if self._quitting.is_set():
            self.show(ConnectionLost(event.why, None))
            return False
        if event.fatal is not None or event.reason is actornet.DisconnectReason.PROTOCOL_ERROR:
            self.exit_code = 1
            self.show(ConnectionLost(event.why, None))
            return False
        return self._retry(event.why)

    def _retry(self, why: str | None) -> bool:
        """Connect again after a growing delay; return False if the user quit meanwhile."""
        delay = 0.0  # the very first attempt waits for nothing
        if why is not None:
            delay = self._next_delay()
            self.show(ConnectionLost(why, delay))
        while not self._quitting.wait(delay):
            try:
                self._open(rename_if_taken=why is not None)
            except OSError as exc:
                delay = self._next_delay()
                self.show(ConnectFailed(self.address, _os_reason(exc), delay))
            else:
                return True
        return False

    def _next_delay(self) -> float:
        delay = self._retry_delay
        self._retry_delay = min(delay * 2, MAX_RETRY_DELAY)
        return delay

    def _apply(self, event: ClientEvent) -> None:
        with self._lock:
            match event:
                case chat.Welcome(nick=nick):
                    self._me, self._registered = nick, True
                    self._retry_delay = FIRST_RETRY_DELAY
                case chat.Joined(room=room, nick=nick) if _same(nick, self._me):
                    self._joined[rules.key(room)] = room
                    if self._current is None or _same(self._current, room):
                        self._current = room
                case chat.Left(room=room, nick=nick) if _same(nick, self._me):
                    self._joined.pop(rules.key(room), None)
                    if self._current is not None and _same(self._current, room):
                        self._current = next(reversed(self._joined.values()), None)
                case chat.NickChanged(old=old, new=new) if _same(old, self._me):
                    self._me = new
                case Renamed(new=new):
                    self._me = new
                case chat.Error(
                    code=chat.ErrorCode.INVALID_ROOM | chat.ErrorCode.LIMIT_REACHED, subject=room
                ) if (
                    self._current is not None
                    and _same(self._current, room)
                    and rules.key(room) not in self._joined
                ):
                    self._current = next(reversed(self._joined.values()), None)
                case _:
                    pass
        self.show(event)
        self.on_change()


# -- typed lines ---------------------------------------------------------------


def parse_line(  # noqa: C901, PLR0911, PLR0912 - one branch per command
    line: str, current: str | None
) -> chat.ClientMessage | Problem | Info | None:
    """Turn one typed line into what to send, or a problem to show (None: nothing to do).

    `current` is the current room, for plain text and commands whose room is optional.
    """
    if not line.strip():
        return None
    if not line.startswith("/") or line.startswith("//"):
        text = line[1:] if line.startswith("//") else line
        if current is None:
            return Problem("NO_ROOM", "you are in no room; /join #room first")
        return chat.Say(room=current, text=text)
    command, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    first, _, tail = rest.partition(" ")
    room, after_room = (first, tail.strip()) if first.startswith("#") else (current, rest)
    match command.lower():
        case "join" if first:
            return chat.Join(room=_room_name(first))
        case "leave" if room is not None:
            return chat.Leave(room=room, reason=after_room)
        case "msg" if first and tail.strip():
            return chat.Whisper(to=first, text=tail.strip())
        case "nick" if first:
            return chat.SetNick(nick=first)
        case "rooms":
            return chat.ListRooms()
        case "names" if room is not None:
            return chat.ListNames(room=room)
        case "topic" if room is not None and after_room:
            return chat.SetTopic(room=room, topic=after_room)
        case "quit":
            return chat.Quit(reason=rest)
        case "help":
            return Info(HELP)
        case "join" | "msg" | "nick" | "topic" | "leave" | "names" as name:
            return Problem("USAGE", f"usage: {USAGE[name]}")
    return Problem("USAGE", f"unknown command /{command}; /help lists the commands")


# -- what the user sees ----------------------------------------------------------


class HumanFormat:
    """Lines for a person: `[#lobby] <alice> hello`, `* bob joined #lobby`, ..."""

    def __init__(self) -> None:
        # One rename or quit reaches us once per shared room: show it once.
        self._last_repeatable: str | None = None

    def lines(self, event: ClientEvent, me: str) -> list[str]:
        """Return the lines that show `event` to `me`."""
        line = self._line(event, me)
        if line is None:
            return []
        if isinstance(event, chat.NickChanged | chat.Quitted):
            if line == self._last_repeatable:
                return []
            self._last_repeatable = line
        else:
            self._last_repeatable = None
        return line.split("\n")

    def _line(  # noqa: C901, PLR0911, PLR0912 - one case per event
        self, event: ClientEvent, me: str
    ) -> str | None:
        e = _escape
        match event:
            case chat.Said(room=room, nick=nick, text=text):
                return f"[{room}] <{nick}> {e(text)}"
            case chat.History(room=room, nick=nick, text=text, time_ms=time_ms):
                stamp = time.strftime("%H:%M", time.localtime(time_ms / 1000))
                return f"[{room}] {stamp} <{nick}> {e(text)}"
            case chat.Whispered(sender=sender, to=to, text=text):
                if _same(sender, me):
                    return f"-> {to}: {e(text)}"
                return f"-{sender}- {e(text)}"
            case chat.Joined(room=room, nick=nick):
                return f"* {nick} joined {room}"
            case chat.Left(room=room, nick=nick, reason=reason):
                return f"* {nick} left {room}{_because(reason)}"
            case chat.Quitted(nick=nick, reason=reason):
                return f"* {nick} quit{_because(reason)}"
            case chat.NickChanged(old=old, new=new):
                if _same(new, me):
                    return f"* you are now known as {new}"
                return f"* {old} is now known as {new}"
            case chat.Topic(room=room, topic=topic, set_by=set_by):
                if topic:
                    return f"* topic of {room}: {e(topic)} (set by {set_by})"
                if set_by:
                    return f"* {set_by} cleared the topic of {room}"
                return f"* {room} has no topic"
            case chat.Names(room=room, nicks=nicks):
                return f"* in {room}: {nicks}" if nicks else f"* nobody is in {room}"
            case chat.RoomInfo(room=room, members=members, topic=topic):
                return f"*   {room} ({members}){': ' + e(topic) if topic else ''}"
            case chat.RoomListEnd(count=count):
                return f"* {count} room{'' if count == 1 else 's'}"
            case chat.Error(code=code, subject=subject, detail=detail):
                return f"! {_error_name(code).lower().replace('_', ' ')}: {e(detail or subject)}"
            case chat.Notice(text=text):
                return f"* notice: {e(text)}"
            case chat.Welcome(nick=nick, server=server):
                return f"* you are {nick} on {e(server)}; /help lists the commands"
            case chat.ServerPong(token=token):
                return f"* pong {token}"
            case Connected(address=address):
                return f"* connected to {address}"
            case ConnectionLost(why=why, retry_in=retry_in):
                return f"* disconnected: {why}{_retrying(retry_in, 'reconnecting')}"
            case ConnectFailed(address=address, why=why, retry_in=retry_in):
                return f"* cannot connect to {address}: {why}{_retrying(retry_in, 'retrying')}"
            case Renamed(old=old, new=new):
                return f"* {old} is taken; trying {new}"
            case Problem(detail=detail):
                return f"! {detail}"
            case Info(lines=lines):
                return "\n".join(lines)
        return None  # client-to-server messages never come from a server


class ScriptFormat:
    """Lines for a program: `said #lobby alice hello`; the module docstring lists them."""

    def lines(self, event: ClientEvent, me: str) -> list[str]:  # noqa: ARG002 - same as HumanFormat
        """Return the lines that show `event`."""
        fields = self._fields(event)
        if fields is None:
            return []
        if isinstance(event, Info):
            return [f"help {_escape(line)}" for line in event.lines]
        if fields[-1] == "":
            fields.pop()  # an empty TEXT: the line ends after the field before it
        return [" ".join(fields)]

    def _fields(  # noqa: C901, PLR0911, PLR0912 - one case per event
        self, event: ClientEvent
    ) -> list[str] | None:
        w, t = _word, _escape
        match event:
            case chat.Said(room=room, nick=nick, text=text):
                return ["said", w(room), w(nick), t(text)]
            case chat.History(room=room, nick=nick, text=text):
                return ["history", w(room), w(nick), t(text)]
            case chat.Whispered(sender=sender, to=to, text=text):
                return ["whisper", w(sender), w(to), t(text)]
            case chat.Joined(room=room, nick=nick):
                return ["joined", w(room), w(nick)]
            case chat.Left(room=room, nick=nick, reason=reason):
                return ["left", w(room), w(nick), t(reason)]
            case chat.Quitted(room=room, nick=nick, reason=reason):
                return ["quit", w(room), w(nick), t(reason)]
            case chat.NickChanged(room=room, old=old, new=new):
                return ["nick", w(room), w(old), w(new)]
            case chat.Topic(room=room, topic=topic, set_by=set_by):
                return ["topic", w(room), w(set_by), t(topic)]
            case chat.Names(room=room, nicks=nicks):
                return ["names", w(room), *(w(nick) for nick in nicks.split())]
            case chat.RoomInfo(room=room, members=members, topic=topic):
                return ["room", w(room), str(members), t(topic)]
            case chat.RoomListEnd(count=count):
                return ["rooms", str(count)]
            case chat.Error(code=code, subject=subject, detail=detail):
                return ["error", _error_name(code), w(subject), t(detail)]
            case chat.Notice(text=text):
                return ["notice", t(text)]
            case chat.Welcome(nick=nick, server=server):
                return ["welcome", w(nick), w(server)]
            case chat.ServerPong(token=token):
                return ["pong", str(token)]
            case Connected(address=address):
                return ["connected", w(address)]
            case ConnectionLost(why=why, retry_in=retry_in):
                return ["disconnected", _seconds(retry_in), t(why)]
            case ConnectFailed(address=address, why=why, retry_in=retry_in):
                return ["unreachable", _seconds(retry_in), w(address), t(why)]
            case Renamed(old=old, new=new):
                return ["renick", w(old), w(new)]
            case Problem(kind=kind, detail=detail):
                return ["error", kind, "-", t(detail)]
            case Info():
                return []
        return None


def _escape(text: str) -> str:
    """Escape backslashes and unprintable characters, so text stays on one line and inert."""
    out: list[str] = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        else:
            out.append(ascii(char)[1:-1] if ord(char) > 0xFF else f"\\x{ord(char):02x}")
    return "".join(out)


def _word(text: str) -> str:
    return _escape(text).replace(" ", "\\x20") or "-"


def _seconds(delay: float | None) -> str:
    return "-" if delay is None else f"{delay:g}"


def _retrying(delay: float | None, verb: str) -> str:
    return "" if delay is None else f"; {verb} in {delay:g} s"


def _because(reason: str) -> str:
    return f" ({_escape(reason)})" if reason else ""


def _error_name(code: int) -> str:
    try:
        return chat.ErrorCode(code).name
    except ValueError:
        return str(code)


def _same(a: str, b: str) -> bool:
    return rules.key(a) == rules.key(b)


def _room_name(name: str) -> str:
    return name if name.startswith("#") else f"#{name}"


def _address(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# -- command line ---------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the client's options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="server address (default: loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="server port")
    parser.add_argument("--nick", required=True, help="the nick to register")
    parser.add_argument(
        "--room",
        action="append",
        default=[],
        help="a room to join on connecting, '#' optional; repeatable; the first becomes current",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="speak TLS, checking the server's certificate against the system's CAs",
    )
    parser.add_argument(
        "--ca",
        metavar="FILE",
        default=None,
        help="PEM file of CA certificates to trust as well (for a local or test CA); implies --tls",
    )
    parser.add_argument(
        "--script",
        action="store_true",
        help="read lines from stdin, write one parseable event per line to stdout",
    )


def tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """Return the client TLS context --tls and --ca ask for, or None for plain TCP.

    Raises:
        SystemExit: the --ca file does not load; the message says why.
    """
    if not args.tls and args.ca is None:
        return None
    context = ssl.create_default_context()
    if args.ca is not None:
        try:
            context.load_verify_locations(cafile=args.ca)
        except (OSError, ssl.SSLError) as exc:
            raise SystemExit(f"cannot load --ca {args.ca}: {exc}; it must be a PEM file") from exc
    return context


def main(args: argparse.Namespace) -> None:
    """Run the client until the user quits; exit with status 1 after a fatal error."""
    code = _run_script(args) if args.script else _run_interactive(args)
    with contextlib.suppress(Timeout):
        actornet.stop_all(timeout=1.0)  # a session stuck closing is left to exit with us
    raise SystemExit(code)


def _run_script(args: argparse.Namespace) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")

    def write(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    client = ChatClient(
        args.host, args.port, args.nick, args.room, script=True, write=write, tls=tls_context(args)
    )
    try:
        client.connect()
    except OSError as exc:
        print(
            f"chat client: cannot connect to {client.address}: {_os_reason(exc)}", file=sys.stderr
        )
        return 1
    threading.Thread(target=client.run, name="chat-events", daemon=True).start()

    def read_input() -> None:
        while line := sys.stdin.readline():
            if not client.handle_line(line) or client.finished.is_set():
                return
        client.settle()
        client.quit("")

    threading.Thread(target=read_input, name="chat-input", daemon=True).start()
    client.finished.wait()
    return client.exit_code


def _run_interactive(args: argparse.Namespace) -> int:
    from prompt_toolkit import PromptSession  # noqa: PLC0415 - only interactive mode needs it
    from prompt_toolkit.patch_stdout import patch_stdout  # noqa: PLC0415

    prompt: PromptSession[str] = PromptSession()

    def write(line: str) -> None:
        print(line, flush=True)

    client = ChatClient(
        args.host,
        args.port,
        args.nick,
        args.room,
        script=False,
        write=write,
        on_change=prompt.app.invalidate,
        tls=tls_context(args),
    )

    def run_events() -> None:
        try:
            client.run(connected=False)
        finally:
            _exit_prompt(prompt)

    with patch_stdout():
        threading.Thread(target=run_events, name="chat-events", daemon=True).start()
        while not client.finished.is_set():
            try:
                line = prompt.prompt(client.prompt)
            except (EOFError, KeyboardInterrupt):
                if not client.finished.is_set():
                    client.quit("")
                break
            if not client.handle_line(line):
                break
    return client.exit_code


def _exit_prompt(prompt: PromptSession[str]) -> None:
    """End a running prompt from another thread, as if Ctrl-D was pressed."""
    app, loop = prompt.app, prompt.app.loop

    def exit_now() -> None:
        if app.is_running and app.future is not None and not app.future.done():
            app.exit(exception=EOFError)

    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(exit_now)
