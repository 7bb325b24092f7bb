r"""IRC lines: the framing (LF or CRLF, size checked before buffering) and the codec.

Theory of operation: `IrcFraming` cuts the stream at each LF with `Delimited(b"\n")`, which
refuses a line longer than `MAX_LINE_BYTES` before buffering it, and writes CRLF. `IrcCodec`
then takes one line without its LF, and in this order:

1. drops one CR before the LF (so CRLF and a bare LF both end a line, as modern servers accept);
2. returns `EmptyLine` for an empty line (or one of spaces only): RFC 1459 section 2.3.1 says
   empty messages are silently ignored, and a generic `Decoder` cannot drop a frame, so the door
   skips the event;
3. refuses NUL and a CR left inside the line (RFC 1459 forbids both in a message);
4. measures the tags (`@` to the space after them, at most `MAX_TAGS_BYTES`) and the rest (at
   most `MAX_MESSAGE_BYTES` with its CRLF) in bytes, before any decoding;
5. decodes both parts as UTF-8, replacing invalid sequences with U+FFFD, and parses them.

UTF-8 policy: IRC is bytes and old clients still send Latin-1 or CP1252. Replacing keeps such a
client connected and everything relayed valid UTF-8; Ergo's UTF8ONLY instead refuses such lines
(with FAIL INVALID_UTF8). A door that wants that can compare the text with U+FFFD; this codec
chooses replacement so a stray byte never costs a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, final

from protocols._errors import FrameTooLarge, LocalProtocolError, RemoteProtocolError
from protocols._framing import Delimited
from protocols._irc._message import Message, build_message, build_tags, parse_message

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "EMPTY_LINE",
    "MAX_LINE_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_TAGS_BYTES",
    "EmptyLine",
    "IrcCodec",
    "IrcEvent",
    "IrcFraming",
    "LineTooLong",
]

MAX_MESSAGE_BYTES: Final = 512
"""Longest message without its tags, CRLF included, in bytes (RFC 1459 section 2.3)."""

MAX_TAGS_BYTES: Final = 8191
"""Longest tags section, its `@` and the space after it included, in bytes (IRCv3 message-tags:
the limit for tags a server sends; clients get 4094 of it)."""

MAX_LINE_BYTES: Final = MAX_TAGS_BYTES + MAX_MESSAGE_BYTES
"""Longest line, tags and CRLF included: 8703 bytes. Longer is refused before it is buffered."""

_CRLF = b"\r\n"
_CONTENT_LIMIT = MAX_MESSAGE_BYTES - len(_CRLF)  # 510 bytes of message between tags and CRLF

Part = Literal["line", "tags", "message"]

_SETTINGS: Final[Mapping[Part, str]] = {
    "line": "MAX_LINE_BYTES",
    "tags": "MAX_TAGS_BYTES",
    "message": "MAX_MESSAGE_BYTES",
}
_WHAT: Final[Mapping[Part, str]] = {
    "line": "line with its line ending",
    "tags": "tags section with its '@' and space",
    "message": "message without its tags, with CRLF",
}


class LineTooLong(FrameTooLarge):
    """Error raised when the peer sends a line, its tags or its message part over the limit.

    A line over `MAX_LINE_BYTES` is refused before it is buffered; the parts are measured once
    the line is whole. Modern servers (Ergo, Solanum, UnrealIRCd) answer ERR_INPUTTOOLONG (417)
    and drop the line; here it ends the connection, as every `RemoteProtocolError` does, and
    `reply_hint` is None because the reply needs the client's nick: the door builds it with
    `reply()` and sends it first if it likes.

    Args:
        size: Bytes of the part (a lower bound if `at_least`), counted as the limit counts them.
        part: `"line"`, `"tags"` or `"message"`: which limit it exceeds.
        at_least: True if the line ending has not arrived yet.
    """

    def __init__(self, size: int, part: Part, *, at_least: bool = False) -> None:
        limit = {"line": MAX_LINE_BYTES, "tags": MAX_TAGS_BYTES, "message": MAX_MESSAGE_BYTES}
        super().__init__(size, limit[part], setting=_SETTINGS[part], at_least=at_least)
        bound = "at least " if at_least else ""
        message = (
            f"IRC {_WHAT[part]} of {bound}{size} bytes exceeds {_SETTINGS[part]}={limit[part]}; "
            "servers answer ERR_INPUTTOOLONG (417)"
        )
        self.args = (message,)
        self.part: Part = part
        """Which limit was exceeded: the whole line's, the tags' or the message's."""

    def reply(self, *, server: str, nick: str) -> Message:
        """Build the ERR_INPUTTOOLONG (417) reply modern servers send for such a line.

        Args:
            server: The server's name, for the source.
            nick: The client's nick, or `*` before registration.
        """
        return Message(command="417", params=(nick, "Input line was too long"), source=server)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmptyLine:
    """An empty line from the peer, which IRC ignores (RFC 1459 section 2.3.1): skip it."""


EMPTY_LINE: Final = EmptyLine()
"""The one `EmptyLine` the codec returns."""

IrcEvent = Message | EmptyLine
"""What an IRC decoder yields: a message, or an empty line to ignore."""


@final
class IrcFraming:
    """Framing of IRC lines: cut at LF (a CR before it is the codec's to drop), write CRLF.

    A line longer than `MAX_LINE_BYTES` is refused with `LineTooLong` as soon as that many bytes
    arrive without a LF, so an unterminated line never holds more than that.
    """

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        # Payloads exclude the LF but include the CR: a CRLF line's payload is one byte longer.
        self._lines = Delimited(b"\n", max_frame_size=MAX_LINE_BYTES - 1)

    def __repr__(self) -> str:
        return "IrcFraming()"

    @property
    def max_frame_size(self) -> int:
        """Largest payload accepted, in bytes: `MAX_LINE_BYTES` less the LF."""
        return self._lines.max_frame_size

    def frame(self, payload: bytes) -> bytes:
        """Append CRLF to one line.

        Raises:
            LocalProtocolError: The line is over `MAX_LINE_BYTES` with its CRLF, or holds CR or LF.
        """
        if len(payload) + len(_CRLF) > MAX_LINE_BYTES:
            raise LocalProtocolError(
                f"line of {len(payload) + len(_CRLF)} bytes with CRLF exceeds "
                f"MAX_LINE_BYTES={MAX_LINE_BYTES}; shorten its text or tags"
            )
        if b"\r" in payload or b"\n" in payload:
            raise LocalProtocolError("line holds CR or LF; send each line as its own message")
        return payload + _CRLF

    def frame_bounds(
        self, buffer: bytes | bytearray, start: int, scanned: int
    ) -> tuple[int, int, int] | None:
        """Find the LF that ends the line at `start`.

        Raises:
            LineTooLong: `MAX_LINE_BYTES` arrived without a LF.
        """
        try:
            return self._lines.frame_bounds(buffer, start, scanned)
        except FrameTooLarge as exc:
            raise LineTooLong(exc.size + 1, "line", at_least=True) from None

    def resume_offset(self, buffer: bytes | bytearray, start: int) -> int:
        """Return where the search for the LF may go on."""
        return self._lines.resume_offset(buffer, start)

    def describe_partial(self, buffer: bytes | bytearray, start: int) -> str:
        """Say how many bytes of the unterminated line arrived."""
        return f"{len(buffer) - start} bytes without a line ending"


@final
class IrcCodec:
    """Codec between one IRC line (without its LF) and a `Message`, or `EmptyLine`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "IrcCodec()"

    def decode(self, payload: bytes) -> IrcEvent:
        """Parse one line, without its LF.

        Returns:
            The message, or `EMPTY_LINE` for a line that is empty or only spaces.

        Raises:
            LineTooLong: The tags or the message part is over its limit.
            RemoteProtocolError: The line holds NUL or a bare CR, or breaks the grammar.
        """
        if payload.endswith(b"\r"):
            payload = payload[:-1]
        if not payload.strip(b" "):
            return EMPTY_LINE
        nul = payload.find(b"\x00")
        if nul >= 0:
            raise RemoteProtocolError(
                f"line holds NUL at byte {nul}, which IRC forbids (RFC 1459 section 2.3.1)"
            )
        cr = payload.find(b"\r")
        if cr >= 0:
            raise RemoteProtocolError(
                f"line holds a bare CR at byte {cr}; only CRLF or LF may end a line"
            )
        tags = ""
        start = 0
        if payload[:1] == b"@":
            space = payload.find(b" ")
            if space < 0:
                raise RemoteProtocolError("line holds tags but no command after them")
            if space + 1 > MAX_TAGS_BYTES:
                raise LineTooLong(space + 1, "tags")
            tags = payload[1:space].decode("utf-8", "replace")
            start = space + 1
        size = len(payload) - start
        if size > _CONTENT_LIMIT:
            # Spaces between the tags and the rest count: servers cut at 512 after the tags.
            raise LineTooLong(size + len(_CRLF), "message")
        return parse_message(payload[start:].decode("utf-8", "replace"), tags=tags)

    def encode(self, message: IrcEvent) -> bytes:
        """Write one message as a line without its CRLF (the framing adds it).

        Returns:
            The line; b"" for `EmptyLine`, which frames to a lone CRLF.

        Raises:
            LocalProtocolError: The message breaks the grammar (see `build_message`), its tags
                exceed `MAX_TAGS_BYTES` or the rest exceeds `MAX_MESSAGE_BYTES` with CRLF.
        """
        if isinstance(message, EmptyLine):
            return b""
        body = build_message(message).encode()
        if len(body) > _CONTENT_LIMIT:
            raise LocalProtocolError(
                f"{message.command} message of {len(body) + len(_CRLF)} bytes with CRLF exceeds "
                f"MAX_MESSAGE_BYTES={MAX_MESSAGE_BYTES}; cut the text with fit_trailing()"
            )
        if not message.tags:
            return body
        tags = build_tags(message.tags).encode()
        if len(tags) + 1 > MAX_TAGS_BYTES:
            raise LocalProtocolError(
                f"tags of {len(tags) + 1} bytes with '@' and space exceed "
                f"MAX_TAGS_BYTES={MAX_TAGS_BYTES}; drop some tags"
            )
        return tags + b" " + body
