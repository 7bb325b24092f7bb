r"""IRC messages: the `Message` event, and one line of text to a message and back.

Theory of operation: the codec (`_codec.py`) has already checked the bytes (line ending, NUL,
bare CR, the size of each part) and decoded them as UTF-8, so `parse_message` sees a `str` with
no line ending. It reads left to right, once, with `str.find`:

1. `@` opens the tags, which run to the first space; they split on `;` into `key[=value]`, values
   are unescaped (`\:` `\s` `\\` `\r` `\n`; an unknown escape keeps its character, a lone
   trailing backslash is dropped) and a repeated key keeps its last value (IRCv3 message-tags).
2. `:` opens the source, which runs to the next space.
3. The command is one or more ASCII letters (upper-cased) or exactly three digits.
4. Parameters are separated by one or more spaces; one that begins with `:` is the trailing
   parameter and takes the rest of the line, spaces included. After 14 parameters the rest of the
   line is the 15th, with or without its `:` (RFC 2812 section 2.3.1), so no line has more than
   15 and none is refused for having more.

Runs of spaces between parts are accepted (servers send them); `build_message` writes one space.
Building is the strict direction: what this side sends must follow the grammar exactly, or
`LocalProtocolError` says which part breaks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from protocols._errors import LocalProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "MAX_PARAMS",
    "Message",
    "Source",
    "build_message",
    "build_tags",
    "escape_tag_value",
    "parse_message",
    "split_source",
    "unescape_tag_value",
]

MAX_PARAMS = 15
"""Most parameters a message holds, the trailing one included (RFC 1459 section 2.3.1)."""

_EMPTY_TAGS: Mapping[str, str] = MappingProxyType({})

# IRCv3 message-tags: key = [ '+' ] [ vendor '/' ] 1*( ALPHA / DIGIT / '-' ), vendor a host name.
_TAG_KEY = re.compile(r"\+?(?:[A-Za-z0-9][A-Za-z0-9.-]*/)?[A-Za-z0-9-]+")
_TAG_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)
_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPES = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})
_FORBIDDEN_ANYWHERE = ("\x00", "\r", "\n")


class Source(NamedTuple):
    """The parts of a message's source, `nick!user@host`; `user` and `host` may be absent."""

    nick: str
    """The nick, or the whole source when it is a server name (such as `irc.example.com`)."""
    user: str | None
    """The user (ident) between `!` and `@`, or None."""
    host: str | None
    """The host after `@`, or None."""


def split_source(source: str) -> Source:
    """Split a source `nick[!user][@host]` into its parts.

    A server name has neither `!` nor `@`, so it comes back as the nick, as in the `irc` library's
    `NickMask`; tell them apart by context (a server name contains a dot, a nick does not here).

    Args:
        source: The source, without its leading `:`.

    Returns:
        The nick, user and host.
    """
    rest, at, host = source.partition("@")
    nick, bang, user = rest.partition("!")
    return Source(nick, user if bang else None, host if at else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One IRC message, in either direction: a command, its parameters, a source and tags.

    Commands are upper-cased on construction (IRC commands are case-insensitive) and numerics
    are three-digit strings such as `"001"` (`Numeric.RPL_WELCOME.code`). `params` holds every
    parameter, the trailing one last and without its `:`; whether it is written as trailing is
    decided when building. Tags are a read-only mapping; a tag without a value has value `""`.
    """

    command: str
    """The command, upper-cased (`PRIVMSG`), or a three-digit numeric (`433`)."""
    params: tuple[str, ...] = ()
    """The parameters, in order, the trailing one included (without its `:`)."""
    source: str | None = None
    """Who sent it (`nick!user@host` or a server name), without the `:`; None if absent."""
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY_TAGS, hash=False)
    """IRCv3 message tags, unescaped: key (`+` and vendor prefix included) to value."""

    def __post_init__(self) -> None:
        if not self.command.isupper():
            object.__setattr__(self, "command", self.command.upper())
        if type(self.params) is not tuple:
            object.__setattr__(self, "params", tuple(self.params))
        if type(self.tags) is not MappingProxyType:
            object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

    @property
    def source_nick(self) -> str | None:
        """The nick of the source (or the server name), or None if there is no source."""
        return None if self.source is None else split_source(self.source).nick

    @property
    def source_user(self) -> str | None:
        """The user part of the source (`nick!user@host`), or None."""
        return None if self.source is None else split_source(self.source).user

    @property
    def source_host(self) -> str | None:
        """The host part of the source (`nick!user@host`), or None."""
        return None if self.source is None else split_source(self.source).host

    @property
    def is_numeric(self) -> bool:
        """Whether the command is a three-digit numeric reply."""
        return _is_numeric(self.command)


def _is_numeric(command: str) -> bool:
    return len(command) == 3 and command.isascii() and command.isdigit()


def _is_command(command: str) -> bool:
    return _is_numeric(command) or (command.isascii() and command.isalpha())


def unescape_tag_value(value: str) -> str:
    r"""Undo IRCv3 tag-value escaping: `\:` `\s` `\\` `\r` `\n`; others keep the character.

    A lone backslash at the end is dropped, as the IRCv3 message-tags spec says.
    """
    if "\\" not in value:
        return value
    return _TAG_ESCAPE.sub(lambda m: _TAG_UNESCAPES.get(m[1], m[1]), value)


def escape_tag_value(value: str) -> str:
    r"""Escape a tag value for the wire: `;` space `\` CR LF become `\:` `\s` `\\` `\r` `\n`."""
    return value.translate(_TAG_ESCAPES)


def _parse_tags(text: str) -> Mapping[str, str]:
    tags: dict[str, str] = {}
    for item in text.split(";"):
        key, _, value = item.partition("=")
        if key:  # "@a;;b" and a trailing ";" carry empty items: nothing to keep
            tags[key] = unescape_tag_value(value)
    return MappingProxyType(tags)


def _skip_spaces(line: str, pos: int) -> int:
    end = len(line)
    while pos < end and line[pos] == " ":
        pos += 1
    return pos


def _parse_params(line: str, pos: int) -> tuple[str, ...]:
    params: list[str] = []
    end = len(line)
    while (pos := _skip_spaces(line, pos)) < end:
        if line[pos] == ":":
            params.append(line[pos + 1 :])
            break
        if len(params) == MAX_PARAMS - 1:
            params.append(line[pos:])
            break
        space = line.find(" ", pos)
        if space < 0:
            space = end
        params.append(line[pos:space])
        pos = space
    return tuple(params)


def parse_message(line: str, *, tags: str = "") -> Message:
    """Parse one line, already decoded, without its tags or line ending.

    Args:
        line: The line after its tags; the codec has rejected NUL and CR and checked the sizes.
        tags: The tags section, between the `@` and the first space ("" if none).

    Returns:
        The message.

    Raises:
        RemoteProtocolError: A part is missing or the command is not letters or three digits.
    """
    pos = _skip_spaces(line, 0)
    source = None
    if line.startswith(":", pos):
        space = line.find(" ", pos)
        if space < 0:
            raise RemoteProtocolError(f"source {line[pos : pos + 40]!r} is followed by no command")
        source = line[pos + 1 : space]
        if not source:
            raise RemoteProtocolError("':' opens a source but no source follows it")
        pos = _skip_spaces(line, space)
    space = line.find(" ", pos)
    if space < 0:
        space = len(line)
    command = line[pos:space]
    if not command:
        raise RemoteProtocolError("message has tags or a source but no command")
    if not _is_command(command):
        raise RemoteProtocolError(
            f"command {command[:40]!r} is neither letters nor a three-digit numeric"
        )
    return Message(
        command=command.upper(),
        params=_parse_params(line, space),
        source=source,
        tags=_parse_tags(tags) if tags else _EMPTY_TAGS,
    )


def build_tags(tags: Mapping[str, str]) -> str:
    """Write tags as `@key=value;key2` without the space that follows them ("" if none).

    Raises:
        LocalProtocolError: A key breaks the IRCv3 key grammar, or a value holds NUL.
    """
    if not tags:
        return ""
    items = []
    for key, value in tags.items():
        if not _TAG_KEY.fullmatch(key):
            raise LocalProtocolError(
                f"tag key {key!r} is not [+][vendor/]name of letters, digits and '-'"
            )
        if "\x00" in value:
            raise LocalProtocolError(f"tag {key!r} value holds NUL, which no escape can carry")
        items.append(f"{key}={escape_tag_value(value)}" if value else key)
    return "@" + ";".join(items)


def build_message(message: Message) -> str:
    """Write a message's source, command and parameters, without tags or line ending.

    The last parameter is written as trailing (`:text`) when it is empty, starts with `:` or
    holds a space; the sizes are the codec's to check.

    Raises:
        LocalProtocolError: The command, source or a parameter cannot be written as it is.
    """
    command = message.command
    if not _is_command(command):
        raise LocalProtocolError(
            f"command {command!r} is neither ASCII letters nor a three-digit numeric"
        )
    params = message.params
    if len(params) > MAX_PARAMS:
        raise LocalProtocolError(
            f"{len(params)} parameters exceed MAX_PARAMS={MAX_PARAMS}; join the extra ones "
            "into the last, or send several messages"
        )
    parts = [command]
    source = message.source
    if source is not None:
        if not source or " " in source or any(c in source for c in _FORBIDDEN_ANYWHERE):
            raise LocalProtocolError(
                f"source {source!r} is empty or holds a space, CR, LF or NUL; use None for none"
            )
        parts.insert(0, ":" + source)
    last = len(params) - 1
    for index, param in enumerate(params):
        for bad in _FORBIDDEN_ANYWHERE:
            if bad in param:
                raise LocalProtocolError(
                    f"parameter {index} holds {bad!r}, which IRC cannot carry; "
                    "split multi-line text into several messages"
                )
        if not param or param[0] == ":" or " " in param:
            if index != last:
                raise LocalProtocolError(
                    f"parameter {index} of {len(params)} is {param[:40]!r}: only the last may be "
                    "empty, start with ':' or hold a space"
                )
            param = ":" + param  # noqa: PLW2901 - written as trailing
        parts.append(param)
    return " ".join(parts)
