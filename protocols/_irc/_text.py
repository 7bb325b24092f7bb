"""Fitting text into a message: how many bytes a trailing parameter may take, and cutting to it.

A server relaying `PRIVMSG #chan :text` adds the sender's full source (`:nick!user@host `), so
text that fit the sender's line may not fit the relayed one. `trailing_budget` says how many
UTF-8 bytes of text the relayed message has room for (tags do not count: they have their own
limit), and `fit_trailing` cuts text into pieces of at most that many bytes, on character
boundaries (code points, not grapheme clusters: a combining accent may start a piece).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocols._errors import LocalProtocolError
from protocols._irc._codec import MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["fit_trailing", "trailing_budget", "truncate_trailing"]

_CONTENT_LIMIT = MAX_MESSAGE_BYTES - 2  # CRLF
_MAX_UTF8_CHAR = 4  # bytes in the longest UTF-8 character


def trailing_budget(command: str, params: Sequence[str] = (), *, source: str | None = None) -> int:
    """Return how many UTF-8 bytes a last, trailing parameter may take in this message.

    Counts `:source `, the command, each of `params` with its space, and ` :` before the text,
    against `MAX_MESSAGE_BYTES` less CRLF.

    Args:
        command: The command, such as `PRIVMSG`.
        params: The parameters before the text, such as `("#chan",)`.
        source: The source the message is sent with, such as `nick!user@host`, or None.

    Returns:
        The budget in bytes; zero or less if even empty text cannot fit.
    """
    used = len(command) + sum(1 + len(param.encode()) for param in params) + len(" :")
    if source is not None:
        used += len(":") + len(source.encode()) + len(" ")
    return _CONTENT_LIMIT - used


def _cut(data: bytes, start: int, budget: int) -> int:
    """Return the end of the longest piece from `start` of at most `budget` bytes on a boundary."""
    end = start + budget
    if end >= len(data):
        return len(data)
    while data[end] & 0xC0 == 0x80:  # a continuation byte: the cut would split a character
        end -= 1
    return end


def fit_trailing(text: str, budget: int, *, prefer_spaces: bool = True) -> list[str]:
    """Cut text into pieces of at most `budget` UTF-8 bytes each, never inside a character.

    The pieces joined give back `text`. With `prefer_spaces`, a piece ends after its last space
    when that keeps it at least half the budget, so words are rarely cut; the space stays at the
    end of the piece (a trailing parameter may end with one).

    Args:
        text: The text to send, without CR, LF or NUL.
        budget: Bytes per piece, from `trailing_budget`.
        prefer_spaces: Whether to cut after a space rather than inside a word.

    Returns:
        The pieces, in order; none for empty text.

    Raises:
        LocalProtocolError: `budget` cannot hold a character of `text` (it is below 4 bytes and a
            character needs more, or zero or less: the prefix alone fills the message).
    """
    data = text.encode()
    if not data:
        return []
    if budget < _MAX_UTF8_CHAR:
        widest = max(len(char.encode()) for char in text)
        if budget < widest:
            raise LocalProtocolError(
                f"a budget of {budget} bytes cannot hold a {widest}-byte character; "
                "shorten the source or parameters before the text"
            )
    pieces = []
    start = 0
    while start < len(data):
        end = _cut(data, start, budget)
        if prefer_spaces and end < len(data):
            space = data.rfind(b" ", start, end)
            if space >= 0 and space + 1 - start >= budget // 2:
                end = space + 1
        pieces.append(data[start:end].decode())
        start = end
    return pieces


def truncate_trailing(text: str, budget: int) -> str:
    """Return the longest start of `text` that fits in `budget` UTF-8 bytes, on a boundary.

    Args:
        text: The text, such as a topic or a quit message.
        budget: Bytes it may take, from `trailing_budget`.

    Returns:
        The text, or its start ("" if the budget is below one character).
    """
    data = text.encode()
    return data[: _cut(data, 0, max(budget, 0))].decode()
