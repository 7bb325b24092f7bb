r"""IRC's client protocol (RFC 1459, RFC 2812, modern.ircdocs.horse) with IRCv3 tags, sans-IO.

One line is one message; a line ends in CRLF, or a bare LF (accepted, as modern servers do;
this side always writes CRLF). The grammar, from modern.ircdocs.horse "Messages":

```
message   = [ "@" tags SPACE ] [ ":" source SPACE ] command *( SPACE param ) [ SPACE ":" trailing ]
tags      = tag *( ";" tag )
tag       = key [ "=" value ]          ; value escaped: \: \s \\ \r \n for ; SPACE \ CR LF
key       = [ "+" ] [ vendor "/" ] 1*( ALPHA / DIGIT / "-" )      ; "+" marks a client tag
source    = servername / ( nick [ [ "!" user ] "@" host ] )
command   = 1*ALPHA / 3DIGIT
param     = middle                      ; at most 15 params, the trailing one included
middle    = nospcrlfcl *( ":" / nospcrlfcl )     ; not empty, no SPACE, not starting with ":"
trailing  = *( ":" / SPACE / nospcrlfcl )         ; may be empty or hold spaces
```

| part                         | limit                                 | constant            |
|------------------------------|---------------------------------------|---------------------|
| tags, from `@` to its space  | 8191 bytes                            | `MAX_TAGS_BYTES`    |
| the rest, CRLF included      | 512 bytes                             | `MAX_MESSAGE_BYTES` |
| whole line                   | 8703 bytes, refused before buffering  | `MAX_LINE_BYTES`    |
| parameters                   | 15, the trailing one included         | `MAX_PARAMS`        |

Reading: `WIRE.decoder()` yields `Message`s, and `EMPTY_LINE` for each empty line, which IRC
ignores (skip it). Text is UTF-8, invalid bytes replaced by U+FFFD (a choice: see
`protocols._irc._codec`). NUL and a bare CR end the connection with `RemoteProtocolError`, and
a line over a limit with `LineTooLong`, whose `reply()` builds the ERR_INPUTTOOLONG (417) a
modern server sends first. Parsing is lenient where servers are (runs of spaces, tag keys kept
as sent, over 15 params folded into the 15th), building strict (`LocalProtocolError`).

Writing: `encode(Message(...))` (or `WIRE.encode`, once for a broadcast) returns the line with
CRLF; the last parameter goes out as trailing when it must. `trailing_budget` and
`fit_trailing` cut relayed text to fit. `casefold`, `is_nick`, `is_channel_name` and the ISUPPORT
limits (`NICKLEN`, `CHANNELLEN`, ...) are what the server advertises in RPL_ISUPPORT (005).

Not covered: the commands' meaning and the server's state (the door's business), CTCP, DCC,
other case mappings (`rfc7613`, UTF8MAPPING), and IRCv3 batches or labels beyond their tags.
"""

from __future__ import annotations

from typing import Final

from protocols._irc._codec import (
    EMPTY_LINE,
    MAX_LINE_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_TAGS_BYTES,
    EmptyLine,
    IrcCodec,
    IrcEvent,
    IrcFraming,
    LineTooLong,
)
from protocols._irc._message import (
    MAX_PARAMS,
    Message,
    Source,
    escape_tag_value,
    split_source,
    unescape_tag_value,
)
from protocols._irc._names import (
    CASEMAPPING,
    CHANNELLEN,
    CHANTYPES,
    NICKLEN,
    PREFIX_SYMBOLS,
    TOPICLEN,
    Casemapping,
    casefold,
    is_channel_name,
    is_nick,
)
from protocols._irc._numerics import CapSubcommand, Numeric
from protocols._irc._text import fit_trailing, trailing_budget, truncate_trailing
from protocols._wire import Wire

__all__ = [
    "CASEMAPPING",
    "CHANNELLEN",
    "CHANTYPES",
    "CODEC",
    "EMPTY_LINE",
    "MAX_LINE_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_PARAMS",
    "MAX_TAGS_BYTES",
    "NICKLEN",
    "PREFIX_SYMBOLS",
    "TOPICLEN",
    "WIRE",
    "CapSubcommand",
    "Casemapping",
    "EmptyLine",
    "IrcCodec",
    "IrcEvent",
    "IrcFraming",
    "LineTooLong",
    "Message",
    "Numeric",
    "Source",
    "casefold",
    "encode",
    "escape_tag_value",
    "fit_trailing",
    "is_channel_name",
    "is_nick",
    "split_source",
    "trailing_budget",
    "truncate_trailing",
    "unescape_tag_value",
]

CODEC: Final = IrcCodec()
"""Parse and build IRC lines (stateless: one for every connection)."""

#: What an IRC connection speaks: lines ending in CRLF (or LF), each one `Message`.
WIRE: Wire[IrcEvent] = Wire(IrcFraming(), CODEC)


def encode(message: Message) -> bytes:
    """Build one message as a line ending in CRLF.

    Args:
        message: The message to send.

    Returns:
        The line; the same bytes may be written to many connections.

    Raises:
        LocalProtocolError: The message breaks the grammar or a size limit; the text says which.
    """
    return WIRE.encode(message)
