"""An asyncio-streams chat relay speaking protocols.chat, the baseline for bench/chat.py.

Run: python -m bench.peers.asyncio_chat --port N [--host H] [--rate-limit PER_SECOND]

Written the way most asyncio servers are: a task per connection,
`readexactly()` per header and per payload, `struct` for the fields. It
implements what the chat benchmark exercises, with the chat's own rules
(examples/chat/rules.py) for nicks, rooms and text:

* `Hello` registers a unique nick and is answered with `Welcome`;
* `Join` adds the client to a room, broadcasts `Joined` to its members and
  sends the joiner the room's `Topic` and `Names` (no history is kept);
* `Say` is broadcast as one `Said` frame, built once per message and written
  with `writer.write` to every member, the sender included;
* `Ping` is answered with `ServerPong`; `Pong` is accepted; `Quit` disconnects;
* anything else a client may send is answered with an `Error`.

`--rate-limit` mirrors the chat server's: a bucket of 20 commands per client,
refilled at PER_SECOND; commands beyond it are dropped with at most one
`RATE_LIMITED` error a second. 0, the default, turns limiting off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import struct
import time

from examples.chat import rules

_LENGTH = struct.Struct(">I")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_ERROR_HEAD = struct.Struct(">IBH")  # frame length, tag, code

MAX_FRAME_SIZE = 8 * 1024
PROTOCOL_VERSION = 1
SERVER_NAME = "asyncio-chat"
RATE_BURST = 20

# Tags (protocols/chat.py).
HELLO, JOIN, SAY, PING, PONG, QUIT = 0x01, 0x03, 0x05, 0x0A, 0x0B, 0x0C
WELCOME, JOINED, SAID, NAMES, TOPIC, SERVER_PONG, QUITTED, ERROR = (
    0x81, 0x83, 0x85, 0x89, 0x8A, 0x8D, 0x8E, 0x8F
)
# Error codes.
MALFORMED, UNEXPECTED_MESSAGE, UNSUPPORTED_VERSION, NOT_REGISTERED = 1, 3, 4, 5
INVALID_NICK, NICK_IN_USE, INVALID_ROOM, NOT_IN_ROOM, INVALID_TEXT, RATE_LIMITED = (
    6, 7, 8, 9, 11, 12
)


class MalformedError(Exception):
    """The payload does not parse as the message its tag names."""


def _str8(payload: bytes, offset: int) -> tuple[str, int]:
    if offset >= len(payload):
        raise MalformedError
    end = offset + 1 + payload[offset]
    if end > len(payload):
        raise MalformedError
    return payload[offset + 1 : end].decode(), end


def _str16(payload: bytes, offset: int) -> tuple[str, int]:
    if offset + 2 > len(payload):
        raise MalformedError
    end = offset + 2 + _U16.unpack_from(payload, offset)[0]
    if end > len(payload):
        raise MalformedError
    return payload[offset + 2 : end].decode(), end


def _enc8(text: str) -> bytes:
    data = text.encode()
    return bytes((len(data),)) + data


def _enc16(text: str) -> bytes:
    data = text.encode()
    return _U16.pack(len(data)) + data


def _frame(tag: int, body: bytes) -> bytes:
    return _LENGTH.pack(len(body) + 1) + bytes((tag,)) + body


def _error(code: int, subject: str, detail: str) -> bytes:
    body = _enc8(subject) + _enc16(detail)
    return _ERROR_HEAD.pack(len(body) + 3, ERROR, code) + body


def _strings8(payload: bytes, count: int) -> list[str]:
    """Parse `count` Str8 fields after the tag; nothing may follow them."""
    values, offset = [], 1
    for _ in range(count):
        value, offset = _str8(payload, offset)
        values.append(value)
    if offset != len(payload):
        raise MalformedError
    return values


class _Client:
    __slots__ = ("limited_at", "nick", "rooms", "stamp", "tokens", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.nick: str | None = None
        self.rooms: dict[str, str] = {}  # key -> display name
        self.tokens = float(RATE_BURST)
        self.stamp = time.monotonic()
        self.limited_at = 0.0


class ChatRelay:
    """Every room and nick; one `handle` task per connection."""

    def __init__(self, rate_per_second: float) -> None:
        self.rate = rate_per_second
        self.nicks: dict[str, _Client] = {}
        self.rooms: dict[str, dict[_Client, str]] = {}  # key -> member -> nick
        self.names: dict[str, str] = {}  # key -> the room's name as its creator wrote it

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        try:
            while True:
                header = await reader.readexactly(4)
                (size,) = _LENGTH.unpack(header)
                if size == 0 or size > MAX_FRAME_SIZE:
                    writer.write(_error(MALFORMED, "", f"bad frame length {size}"))
                    break
                payload = await reader.readexactly(size)
                try:
                    if not self.command(client, payload):
                        break
                except (MalformedError, UnicodeDecodeError, struct.error):
                    writer.write(_error(MALFORMED, "", "malformed frame"))
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.leave_all(client)
            writer.close()

    def command(self, client: _Client, payload: bytes) -> bool:  # noqa: PLR0911, PLR0912
        """Handle one payload; return False to disconnect."""
        tag = payload[0]
        if tag == PONG:
            return True
        if tag == PING:
            if len(payload) != 5:
                raise MalformedError
            client.writer.write(_frame(SERVER_PONG, payload[1:]))
            return True
        if self.rate and not self.take_token(client):
            return True
        if tag == SAY:
            room, offset = _str8(payload, 1)
            text, offset = _str16(payload, offset)
            if offset != len(payload):
                raise MalformedError
            self.say(client, room, text)
        elif tag == HELLO:
            nick, offset = _str8(payload, 2)
            if offset != len(payload):
                raise MalformedError
            return self.hello(client, payload[1], nick)
        elif tag == JOIN:
            (room,) = _strings8(payload, 1)
            self.join(client, room)
        elif tag == QUIT:
            return False
        elif tag >= 0x80:
            client.writer.write(_error(UNEXPECTED_MESSAGE, "", "servers send that, not clients"))
            return False
        elif tag > QUIT:
            raise MalformedError
        else:
            client.writer.write(_error(UNEXPECTED_MESSAGE, "", "not supported by this relay"))
        return True

    def take_token(self, client: _Client) -> bool:
        now = time.monotonic()
        client.tokens = min(RATE_BURST, client.tokens + (now - client.stamp) * self.rate)
        client.stamp = now
        if client.tokens >= 1:
            client.tokens -= 1
            return True
        if now - client.limited_at >= 1.0:
            client.limited_at = now
            client.writer.write(_error(RATE_LIMITED, "", "too many commands; slow down"))
        return False

    def hello(self, client: _Client, version: int, nick: str) -> bool:
        if client.nick is not None:
            client.writer.write(_error(UNEXPECTED_MESSAGE, "", "Hello was already accepted"))
            return False
        if version != PROTOCOL_VERSION:
            client.writer.write(_error(UNSUPPORTED_VERSION, "", f"version {version}"))
            return False
        if (problem := rules.nick_problem(nick)) is not None:
            client.writer.write(_error(INVALID_NICK, nick, problem))
        elif rules.key(nick) in self.nicks:
            client.writer.write(_error(NICK_IN_USE, nick, "nick in use"))
        else:
            client.nick = nick
            self.nicks[rules.key(nick)] = client
            body = bytes((PROTOCOL_VERSION,)) + _enc8(nick) + _enc8(SERVER_NAME)
            client.writer.write(_frame(WELCOME, body))
        return True

    def join(self, client: _Client, room: str) -> None:
        if client.nick is None:
            client.writer.write(_error(NOT_REGISTERED, "", "send Hello with your nick first"))
            return
        if (problem := rules.room_problem(room)) is not None:
            client.writer.write(_error(INVALID_ROOM, room, problem))
            return
        key = rules.key(room)
        if key in client.rooms:
            return
        members = self.rooms.setdefault(key, {})
        name = self.names.setdefault(key, room)
        members[client] = client.nick
        client.rooms[key] = name
        joined = _frame(JOINED, _enc8(name) + _enc8(client.nick))
        for member in members:
            member.writer.write(joined)
        client.writer.write(_frame(TOPIC, _enc8(name) + _enc16("") + _enc8("")))
        nicks = " ".join(sorted(members.values(), key=str.casefold))
        client.writer.write(_frame(NAMES, _enc8(name) + _enc16(nicks)))

    def say(self, client: _Client, room: str, text: str) -> None:
        key = rules.key(room)
        members = self.rooms.get(key)
        if client.nick is None:
            client.writer.write(_error(NOT_REGISTERED, "", "send Hello with your nick first"))
        elif members is None or client not in members:
            client.writer.write(_error(NOT_IN_ROOM, room, f"join {room} first"))
        elif (problem := rules.text_problem(text)) is not None:
            client.writer.write(_error(INVALID_TEXT, room, problem))
        else:
            said = _frame(
                SAID,
                _enc8(client.rooms[key])
                + _enc8(client.nick)
                + _enc16(text)
                + _U64.pack(time.time_ns() // 1_000_000),
            )
            for member in members:
                member.writer.write(said)

    def leave_all(self, client: _Client) -> None:
        if client.nick is not None:
            self.nicks.pop(rules.key(client.nick), None)
        for key, room in client.rooms.items():
            members = self.rooms.get(key, {})
            nick = members.pop(client, None)
            if nick is None:
                continue
            if not members:
                del self.rooms[key], self.names[key]
                continue
            quitted = _frame(QUITTED, _enc8(room) + _enc8(nick) + _enc16("disconnected"))
            for member in members:
                member.writer.write(quitted)


async def _serve(host: str, port: int, rate_per_second: float) -> None:
    relay = ChatRelay(rate_per_second)
    server = await asyncio.start_server(relay.handle, host, port, backlog=4096)
    print(f"asyncio chat relay listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description="asyncio-streams chat relay (protocols.chat)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        metavar="PER_SECOND",
        help="commands per second per client after a burst of 20; 0 (default) turns it off",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.rate_limit))


if __name__ == "__main__":
    main()
