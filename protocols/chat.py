"""The chat protocol: every message, both directions, declared once with construct.

The wire spec is docs/chat-protocol.md; this module is its single source of
truth, and a test builds every example of the spec from these definitions.

A frame is a 4-byte big-endian payload length, then the payload (at most
`MAX_FRAME_SIZE` bytes). A payload is a 1-byte tag, then the fields of the
message that tag names, in order; nothing may follow them. Strings are UTF-8
behind a big-endian length: `Str8` (1-byte length) for names, `Str16` (2-byte
length) for text. Integers are big-endian and unsigned.

Client to server (tags 0x01-0x0C) and server to client (0x81-0x91):

| tag  | message        | fields                                             |
|------|----------------|----------------------------------------------------|
| 0x01 | `Hello`        | version u8, nick Str8                              |
| 0x02 | `SetNick`      | nick Str8                                          |
| 0x03 | `Join`         | room Str8                                          |
| 0x04 | `Leave`        | room Str8, reason Str16                            |
| 0x05 | `Say`          | room Str8, text Str16                              |
| 0x06 | `Whisper`      | to Str8, text Str16                                |
| 0x07 | `ListRooms`    | (none)                                             |
| 0x08 | `ListNames`    | room Str8                                          |
| 0x09 | `SetTopic`     | room Str8, topic Str16                             |
| 0x0A | `Ping`         | token u32                                          |
| 0x0B | `Pong`         | token u32                                          |
| 0x0C | `Quit`         | reason Str16                                       |
| 0x81 | `Welcome`      | version u8, nick Str8, server Str8                 |
| 0x82 | `NickChanged`  | room Str8, old Str8, new Str8                      |
| 0x83 | `Joined`       | room Str8, nick Str8                               |
| 0x84 | `Left`         | room Str8, nick Str8, reason Str16                 |
| 0x85 | `Said`         | room Str8, nick Str8, text Str16, time_ms u64      |
| 0x86 | `Whispered`    | sender Str8, to Str8, text Str16, time_ms u64      |
| 0x87 | `RoomInfo`     | room Str8, members u32, topic Str16                |
| 0x88 | `RoomListEnd`  | count u32                                          |
| 0x89 | `Names`        | room Str8, nicks Str16 (space-separated)           |
| 0x8A | `Topic`        | room Str8, topic Str16, set_by Str8                |
| 0x8B | `History`      | room Str8, nick Str8, text Str16, time_ms u64      |
| 0x8C | `ServerPing`   | token u32                                          |
| 0x8D | `ServerPong`   | token u32                                          |
| 0x8E | `Quitted`      | room Str8, nick Str8, reason Str16                 |
| 0x8F | `Error`        | code u16, subject Str8, detail Str16               |
| 0x90 | `Notice`       | text Str16                                         |
| 0x91 | `NamesEnd`     | room Str8, count u32                               |

The chat's rules (which nicks are valid, rate limits) are not the wire
format's business: they live with the chat. This module checks only what the
bytes can carry: lengths, UTF-8, known tags, nothing trailing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from construct import (  # type: ignore[import-untyped]
    Int8ub,
    Int16ub,
    Int32ub,
    Int64ub,
    PascalString,
    Struct,
)

from protocols._framing import LengthPrefixed
from protocols._tagged import TaggedUnion
from protocols._wire import Wire

__all__ = [
    "MAX_FRAME_SIZE",
    "PROTOCOL_VERSION",
    "WIRE",
    "ChatMessage",
    "ClientMessage",
    "Error",
    "ErrorCode",
    "Hello",
    "History",
    "Join",
    "Joined",
    "Leave",
    "Left",
    "ListNames",
    "ListRooms",
    "Names",
    "NamesEnd",
    "NickChanged",
    "Notice",
    "Ping",
    "Pong",
    "Quit",
    "Quitted",
    "RoomInfo",
    "RoomListEnd",
    "Said",
    "Say",
    "ServerMessage",
    "ServerPing",
    "ServerPong",
    "SetNick",
    "SetTopic",
    "Tag",
    "Topic",
    "Welcome",
    "Whisper",
    "Whispered",
]

#: Version a client announces in `Hello` and the server confirms in `Welcome`.
PROTOCOL_VERSION = 1

#: Largest payload either side sends or accepts: 8 KiB holds the longest
#: message (a Names list of a busy room is cut to fit) with room to spare.
MAX_FRAME_SIZE = 8 * 1024

Str8 = PascalString(Int8ub, "utf8")
Str16 = PascalString(Int16ub, "utf8")


class Tag(enum.Enum):
    """The first byte of every payload: which message follows."""

    HELLO = 0x01
    SET_NICK = 0x02
    JOIN = 0x03
    LEAVE = 0x04
    SAY = 0x05
    WHISPER = 0x06
    LIST_ROOMS = 0x07
    LIST_NAMES = 0x08
    SET_TOPIC = 0x09
    PING = 0x0A
    PONG = 0x0B
    QUIT = 0x0C
    WELCOME = 0x81
    NICK_CHANGED = 0x82
    JOINED = 0x83
    LEFT = 0x84
    SAID = 0x85
    WHISPERED = 0x86
    ROOM_INFO = 0x87
    ROOM_LIST_END = 0x88
    NAMES = 0x89
    TOPIC = 0x8A
    HISTORY = 0x8B
    SERVER_PING = 0x8C
    SERVER_PONG = 0x8D
    QUITTED = 0x8E
    ERROR = 0x8F
    NOTICE = 0x90
    NAMES_END = 0x91


class ErrorCode(enum.IntEnum):
    """Why the server refused something, in `Error.code`."""

    #: The frame could not be parsed (unknown tag, truncated, trailing bytes,
    #: invalid UTF-8). The server closes the connection after sending it.
    MALFORMED = 1
    #: A frame declared more than MAX_FRAME_SIZE bytes. Fatal, as MALFORMED.
    FRAME_TOO_LARGE = 2
    #: The client sent a server-to-client message, or `Hello` twice. Fatal.
    UNEXPECTED_MESSAGE = 3
    #: The client's `Hello.version` is not supported. Fatal.
    UNSUPPORTED_VERSION = 4
    #: A command other than `Hello`, `Ping`, `Pong` or `Quit` before `Hello`.
    NOT_REGISTERED = 5
    #: The nick is not valid; `detail` says which rule it breaks.
    INVALID_NICK = 6
    #: Another connection holds that nick.
    NICK_IN_USE = 7
    #: The room name is not valid; `detail` says which rule it breaks.
    INVALID_ROOM = 8
    #: The command names a room the client has not joined.
    NOT_IN_ROOM = 9
    #: Nobody holds that nick.
    NO_SUCH_NICK = 10
    #: The text is empty, too long, or contains control characters.
    INVALID_TEXT = 11
    #: Too many commands too fast; this one was dropped. Slow down.
    RATE_LIMITED = 12
    #: The client was silent for too long. Fatal.
    IDLE_TIMEOUT = 13
    #: A `Join` would pass a server limit: the rooms a client may be in, the
    #: rooms the server holds, or the members a room holds; `detail` says which.
    LIMIT_REACHED = 14


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """Client, first: announce the protocol version and register a nick."""

    version: int
    nick: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetNick:
    """Client: change nick."""

    nick: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    """Client: join a room, creating it if nobody is in it."""

    room: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Leave:
    """Client: leave a room, telling its members why."""

    room: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Say:
    """Client: send text to every member of a room."""

    room: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Whisper:
    """Client: send text to one nick."""

    to: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRooms:
    """Client: ask for every room with its member count and topic."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListNames:
    """Client: ask for the members of a room."""

    room: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTopic:
    """Client: set the topic of a room it is in."""

    room: str
    topic: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """Client: ask for a `ServerPong` with the same token."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """Client: answer a `ServerPing` with its token."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Quit:
    """Client: leave every room with a reason, and disconnect."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    """Server: the nick is registered; commands may follow."""

    version: int
    nick: str
    server: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NickChanged:
    """Server: a member of `room` (possibly you) changed nick from `old` to `new`."""

    room: str
    old: str
    new: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined:
    """Server: `nick` (possibly you) joined `room`."""

    room: str
    nick: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Left:
    """Server: `nick` (possibly you) left `room`."""

    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Said:
    """Server: `nick` said `text` in `room` at `time_ms` (Unix time, milliseconds)."""

    room: str
    nick: str
    text: str
    time_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Whispered:
    """Server: a private message; sent to the recipient and echoed to the sender."""

    sender: str
    to: str
    text: str
    time_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomInfo:
    """Server: one room of a `ListRooms` answer."""

    room: str
    members: int
    topic: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomListEnd:
    """Server: the end of a `ListRooms` answer, after `count` `RoomInfo`s."""

    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Names:
    """Server: the members of `room`, space-separated (one or more per room)."""

    room: str
    nicks: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NamesEnd:
    """Server: the end of a member list of `room`, after `count` nicks in `Names` frames."""

    room: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Topic:
    """Server: the topic of `room` and who set it ("" if nobody has)."""

    room: str
    topic: str
    set_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """Server: a message said in `room` before you joined, oldest first."""

    room: str
    nick: str
    text: str
    time_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPing:
    """Server: heartbeat; answer with `Pong` and the same token."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerPong:
    """Server: the answer to a client's `Ping`."""

    token: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Quitted:
    """Server: `nick` disconnected (quit, dropped, timed out) while in `room`."""

    room: str
    nick: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """Server: a refusal. `subject` is the nick or room concerned, or ""."""

    code: int
    subject: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """Server: text for the user from the server itself (such as a shutdown notice)."""

    text: str


ClientMessage = (
    Hello | SetNick | Join | Leave | Say | Whisper | ListRooms | ListNames | SetTopic | Ping | Pong
    | Quit
)
ServerMessage = (
    Welcome | NickChanged | Joined | Left | Said | Whispered | RoomInfo | RoomListEnd | Names
    | NamesEnd | Topic | History | ServerPing | ServerPong | Quitted | Error | Notice
)
ChatMessage = ClientMessage | ServerMessage

CODEC = TaggedUnion[ChatMessage](
    Int8ub,
    {
        Tag.HELLO: (Hello, Struct("version" / Int8ub, "nick" / Str8)),
        Tag.SET_NICK: (SetNick, Struct("nick" / Str8)),
        Tag.JOIN: (Join, Struct("room" / Str8)),
        Tag.LEAVE: (Leave, Struct("room" / Str8, "reason" / Str16)),
        Tag.SAY: (Say, Struct("room" / Str8, "text" / Str16)),
        Tag.WHISPER: (Whisper, Struct("to" / Str8, "text" / Str16)),
        Tag.LIST_ROOMS: (ListRooms, Struct()),
        Tag.LIST_NAMES: (ListNames, Struct("room" / Str8)),
        Tag.SET_TOPIC: (SetTopic, Struct("room" / Str8, "topic" / Str16)),
        Tag.PING: (Ping, Struct("token" / Int32ub)),
        Tag.PONG: (Pong, Struct("token" / Int32ub)),
        Tag.QUIT: (Quit, Struct("reason" / Str16)),
        Tag.WELCOME: (Welcome, Struct("version" / Int8ub, "nick" / Str8, "server" / Str8)),
        Tag.NICK_CHANGED: (NickChanged, Struct("room" / Str8, "old" / Str8, "new" / Str8)),
        Tag.JOINED: (Joined, Struct("room" / Str8, "nick" / Str8)),
        Tag.LEFT: (Left, Struct("room" / Str8, "nick" / Str8, "reason" / Str16)),
        Tag.SAID: (
            Said,
            Struct("room" / Str8, "nick" / Str8, "text" / Str16, "time_ms" / Int64ub),
        ),
        Tag.WHISPERED: (
            Whispered,
            Struct("sender" / Str8, "to" / Str8, "text" / Str16, "time_ms" / Int64ub),
        ),
        Tag.ROOM_INFO: (RoomInfo, Struct("room" / Str8, "members" / Int32ub, "topic" / Str16)),
        Tag.ROOM_LIST_END: (RoomListEnd, Struct("count" / Int32ub)),
        Tag.NAMES: (Names, Struct("room" / Str8, "nicks" / Str16)),
        Tag.TOPIC: (Topic, Struct("room" / Str8, "topic" / Str16, "set_by" / Str8)),
        Tag.HISTORY: (
            History,
            Struct("room" / Str8, "nick" / Str8, "text" / Str16, "time_ms" / Int64ub),
        ),
        Tag.SERVER_PING: (ServerPing, Struct("token" / Int32ub)),
        Tag.SERVER_PONG: (ServerPong, Struct("token" / Int32ub)),
        Tag.QUITTED: (Quitted, Struct("room" / Str8, "nick" / Str8, "reason" / Str16)),
        Tag.ERROR: (Error, Struct("code" / Int16ub, "subject" / Str8, "detail" / Str16)),
        Tag.NOTICE: (Notice, Struct("text" / Str16)),
        Tag.NAMES_END: (NamesEnd, Struct("room" / Str8, "count" / Int32ub)),
    },
)
"""Parse and build every chat message; the construct definitions are the spec."""

#: What a chat connection speaks: 4-byte big-endian length + tagged payload.
WIRE: Wire[ChatMessage] = Wire(
    LengthPrefixed(width=4, byteorder="big", max_frame_size=MAX_FRAME_SIZE), CODEC
)
