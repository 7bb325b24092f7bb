"""The chat's rules for names and text, with the reason a value breaks them.

Nick and room rules follow IRC's, so the same names work over an IRC gateway.
Each check returns None for a valid value, or a sentence saying what to fix.
"""

from __future__ import annotations

import re

#: Longest nick, in characters (IRC servers commonly allow 9 to 30).
MAX_NICK_LENGTH = 16
#: Longest room name after the '#', in characters.
MAX_ROOM_LENGTH = 31
#: Longest message text, in UTF-8 bytes: fits an IRC line with its prefix.
MAX_TEXT_BYTES = 1000
#: Longest topic, in UTF-8 bytes.
MAX_TOPIC_BYTES = 300
#: Longest leave or quit reason, in UTF-8 bytes.
MAX_REASON_BYTES = 200

_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*")
_ROOM = re.compile(r"#[A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def nick_problem(nick: str) -> str | None:
    """Return why `nick` is not a valid nick, or None."""
    if not 1 <= len(nick) <= MAX_NICK_LENGTH:
        return f"a nick has 1 to {MAX_NICK_LENGTH} characters, not {len(nick)}"
    if not _NICK.fullmatch(nick):
        return (
            "a nick uses ASCII letters, digits and -_[]{}\\|^` "
            "and does not start with a digit or '-'"
        )
    return None


def room_problem(room: str) -> str | None:
    """Return why `room` is not a valid room name, or None."""
    if not room.startswith("#"):
        return "a room name starts with '#'"
    if not 1 <= len(room) - 1 <= MAX_ROOM_LENGTH:
        return f"a room name has 1 to {MAX_ROOM_LENGTH} characters after '#'"
    if not _ROOM.fullmatch(room):
        return "a room name uses ASCII letters, digits and ._- after '#'"
    return None


def text_problem(text: str, *, limit: int = MAX_TEXT_BYTES, empty_ok: bool = False) -> str | None:
    """Return why `text` cannot be sent, or None."""
    if not text and not empty_ok:
        return "the text is empty"
    size = len(text.encode())
    if size > limit:
        return f"the text has {size} bytes; the limit is {limit}"
    if _CONTROL.search(text):
        return "the text contains control characters"
    return None


def without_controls(text: str) -> str:
    """Return `text` with each control character (tab excepted) replaced by a space."""
    return _CONTROL.sub(" ", text)


def clip(text: str, limit: int) -> str:
    """Return `text` without controls (as `without_controls`), cut to at most `limit` UTF-8 bytes.

    The cut falls on a character boundary.
    """
    text = without_controls(text)
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")


def key(name: str) -> str:
    """Return the case-insensitive key of a nick or room name."""
    return name.casefold()
