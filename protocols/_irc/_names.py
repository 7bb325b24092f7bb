"""Nicks and channel names: what is valid, and when two are the same (case mapping).

The limits are named as the ISUPPORT (005) tokens a server advertises them with, so the door can
write `NICKLEN={NICKLEN}` from these constants and enforce what it advertises.

Nick rules (modern.ircdocs.horse "Clients"): no space, `,`, `*`, `?`, `!` or `@`; not starting
with `$`, `:`, a channel type (`#`, `&`) or a membership prefix (`~&@%+`); no `.`, which marks a
server name in a source (a SHOULD NOT there, enforced here). Two choices go further, documented:
a nick is printable ASCII only, because the case mappings here (`rfc1459`, `ascii`) fold ASCII
only, so `É` and `é` would be two nicks that look alike (UTF-8 nicks need RFC 8265 mapping,
which this does not implement); and it does not start with a digit or `-`, as RFC 2812's
grammar says, so a nick never looks like a numeric or a TS6 UID.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "CASEMAPPING",
    "CHANNELLEN",
    "CHANTYPES",
    "NICKLEN",
    "PREFIX_SYMBOLS",
    "TOPICLEN",
    "Casemapping",
    "casefold",
    "is_channel_name",
    "is_nick",
]

NICKLEN: Final = 30
"""Longest nick, in characters (= bytes, ASCII only). Ergo uses 32, Libera 16; RFC 2812 said 9."""

CHANNELLEN: Final = 50
"""Longest channel name, its `#` included, in UTF-8 bytes (RFC 2812 section 1.3)."""

TOPICLEN: Final = 390
"""Longest topic, in UTF-8 bytes: fits a RPL_TOPIC (332) line with room for a long prefix."""

CHANTYPES: Final = "#&"
"""Characters that start a channel name: `#` (network-wide) and `&` (server-local)."""

PREFIX_SYMBOLS: Final = "~&@%+"
"""Channel membership prefixes (founder, protected, op, halfop, voice) a nick may not start with."""

Casemapping = Literal["rfc1459", "strict-rfc1459", "ascii"]

CASEMAPPING: Final[Casemapping] = "rfc1459"
"""The case mapping `casefold` uses by default, advertised as `CASEMAPPING=rfc1459`."""

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_FOLDS: Final[dict[Casemapping, dict[int, int]]] = {
    "ascii": str.maketrans(_UPPER, _LOWER),
    "strict-rfc1459": str.maketrans(_UPPER + "[]\\", _LOWER + "{}|"),
    "rfc1459": str.maketrans(_UPPER + "[]\\~", _LOWER + "{}|^"),
}

_NICK_FORBIDDEN = frozenset(" ,*?!@.")
_NICK_FORBIDDEN_FIRST = frozenset("$:" + CHANTYPES + PREFIX_SYMBOLS + "-0123456789")
_CHANNEL_FORBIDDEN = frozenset(" ,:\x7f") | frozenset(map(chr, range(0x20)))


def casefold(name: str, casemapping: Casemapping = CASEMAPPING) -> str:
    r"""Return the form of a nick or channel name that compares equal to its other cases.

    `rfc1459` folds `A-Z` to `a-z` and `[]\~` to `{}|^` (Scandinavian letters, in RFC 1459's
    view); `strict-rfc1459` leaves `~` alone; `ascii` folds letters only. Other characters are
    left as they are.

    Args:
        name: The nick or channel name.
        casemapping: The mapping the server advertises in `CASEMAPPING`.

    Raises:
        KeyError: `casemapping` is not one of the three.
    """
    return name.translate(_FOLDS[casemapping])


def is_nick(name: str, *, max_length: int = NICKLEN) -> bool:
    """Return whether `name` is a nick this server accepts (see the module's rules).

    Args:
        name: The nick, as sent.
        max_length: The longest allowed, as advertised in `NICKLEN`.
    """
    return (
        0 < len(name) <= max_length
        and name.isascii()
        and name.isprintable()
        and name[0] not in _NICK_FORBIDDEN_FIRST
        and _NICK_FORBIDDEN.isdisjoint(name)
    )


def is_channel_name(name: str, *, max_length: int = CHANNELLEN) -> bool:
    """Return whether `name` is a channel name: `#` or `&`, then one or more characters.

    The characters are any but space, comma, colon and the control characters (RFC 2812 forbids
    NUL, BEL, CR, LF, space, comma and colon; the other controls, such as mIRC's colour codes,
    are refused too so no name is drawn in colours). The length is in UTF-8 bytes.

    Args:
        name: The channel name, as sent.
        max_length: The longest allowed in bytes, as advertised in `CHANNELLEN`.
    """
    return (
        len(name) > 1
        and name[0] in CHANTYPES
        and len(name.encode("utf-8", "surrogatepass")) <= max_length
        and _CHANNEL_FORBIDDEN.isdisjoint(name)
    )
