"""Cross-check against the `irc` library's parser (jaraco's `irc.client`), an independent reading.

`irc.client` parses a line with `_rfc_1459_command_regexp`, then `irc.message.Arguments` (split
at the first " :") and `irc.message.Tag` (unescape), as `ServerConnection._process_line` does.
Both must agree on command, params, tags and source wherever their documented semantics do. The
known differences, each intentional here and excluded from the corpus by construction:

* a lone backslash at the end of a tag value: IRCv3 says drop it (here); `irc` keeps it;
* empty tag items (`@a;;b`): skipped here, a tag with key "" in `irc`;
* a valueless tag: value "" here (IRCv3: no value and an empty value are the same), None in `irc`;
* runs of spaces right after the tags: accepted here, not matched by `irc`'s regex;
* `nick@host` without `!`: nick `nick`, host `host` here; `irc`'s `NickMask` takes the nick to be
  everything before `!`;
* more than 15 params: folded into the 15th here (RFC 2812), kept apart by `irc`;
* whitespace other than space (tab, form feed, U+3000) inside a middle param: part of the param
  here, as IRC splits at spaces only; a separator in `irc`, which uses `str.split()`.
"""

from __future__ import annotations

from typing import Any

# A dev dependency (pyproject.toml): imported outright, so a missing install fails, not skips.
# The irc package ships no type information.
import irc.client as irc_client  # type: ignore[import-untyped]
import irc.message as irc_message  # type: ignore[import-untyped]
import pytest
from _irc import parse
from _irc_strategies import messages, unsplittable_middles, unsplittable_trailings
from hypothesis import given

from protocols.irc import Message, encode


def irc_library_parse(line: str) -> tuple[str, list[str], dict[str, str], Any]:
    """Parse a line as `irc.client.ServerConnection._process_line` does, without its handlers."""
    match = irc_client._rfc_1459_command_regexp.match(line)
    assert match is not None, line
    group = match.group
    source = irc_client.NickMask.from_group(group("prefix"))
    arguments = irc_message.Arguments.from_group(group("argument"))
    tag_list = irc_message.Tag.from_group(group("tags")) or []
    tags = {tag["key"]: tag["value"] or "" for tag in tag_list}
    return group("command"), list(arguments), tags, source


def assert_agree(line: str, ours: Message) -> None:
    command, params, tags, source = irc_library_parse(line)
    assert ours.command == command.upper(), line
    assert list(ours.params) == params, line
    assert dict(ours.tags) == tags, line
    if source is None:
        assert ours.source is None, line
    else:
        assert ours.source == str(source), line
        if "!" in source or "@" not in source:
            # `irc` gives None for an empty user or host (`n!@h`); here they are "".
            assert (ours.source_nick, ours.source_user or None, ours.source_host or None) == (
                source.nick,
                source.user,
                source.host,
            ), line


CORPUS = [
    ":irc.example.com CAP LS * :multi-prefix extended-join sasl",
    "@id=234AB :dan!d@localhost PRIVMSG #chan :Hey what's up!",
    "CAP REQ :sasl",
    "CAP REQ sasl",
    ":irc.example.com CAP * LIST :",
    ":dan!d@localhost PRIVMSG #chan ::-)",
    "@aaa=bbb;ccc;example.com/ddd=eee :nick!ident@host.com PRIVMSG me :Hello",
    "@url=;netsplit=tur,ty :dan!d@localhost QUIT :Client quit",
    ":irc.example.com 001 dan :Welcome to the Internet Relay Network dan",
    ":srv 005 dan NICKLEN=30 CASEMAPPING=rfc1459 CHANTYPES=#& :are supported by this server",
    ":srv 353 dan = #chan :@op +voice plain",
    ":srv 333 dan #chan setter!u@h 1700000000",
    ":srv 433 * dan :Nickname is already in use",
    "PING :irc.example.com",
    "PING",
    "NICK dan",
    "USER d 0 * :Dan Smith",
    "JOIN #a,#b key1,key2",
    "MODE #c +k a:b",
    "PRIVMSG #c :a :b c",
    "PRIVMSG #c :",
    "PRIVMSG #c :  spaced  ",
    "PRIVMSG  #c   :double  spaces",
    ":n!u@h   PRIVMSG #c :spaces after the source",
    "NICK dan   ",
    r"@k=semi\:colon;s=a\sb;b=back\\slash;cr=\r\n;u=\b\x :n!u@h TAGMSG #c",
    "@+draft/reply=abc;+typing=active;znc.in/server-time-iso=x TAGMSG #c",
    "@time=2026-01-01T00:00:00.000Z;msgid=abc :n!~u@2001:db8::1 PRIVMSG #c :ipv6 host",
    "@a=1;a=2 PING",
    "privmsg #c :lower-case command",
    "CMD " + " ".join(f"p{i}" for i in range(14)) + " :fifteenth param",
    ":n!u@h PRIVMSG #c :caf\u00e9 \u2603 \U0001f600",
    ":n!u PRIVMSG #c :user without host",
    ":irc.example.com NOTICE * :*** Looking up your hostname...",
]


@pytest.mark.parametrize("line", CORPUS)
def test_the_irc_library_reads_the_corpus_as_we_do(line: str) -> None:
    assert_agree(line, parse(line.encode()))


@given(message=messages(unsplittable_middles, unsplittable_trailings))
def test_the_irc_library_reads_every_line_we_build_as_we_meant_it(message: Message) -> None:
    line = encode(message).decode().removesuffix("\r\n")
    assert_agree(line, message)


@pytest.mark.parametrize(
    ("line", "ours", "theirs"),
    [
        ("@k=end\\ PING", {"k": "end"}, {"k": "end\\"}),
        ("@a;;b PING", {"a": "", "b": ""}, {"a": "", "": "", "b": ""}),
    ],
)
def test_the_documented_tag_differences_are_what_they_say(
    line: str, ours: dict[str, str], theirs: dict[str, str]
) -> None:
    assert dict(parse(line.encode()).tags) == ours
    assert irc_library_parse(line)[2] == theirs


@pytest.mark.parametrize("space", ["\t", "\x0c", "\u3000"])
def test_whitespace_other_than_space_splits_params_only_in_the_irc_library(space: str) -> None:
    line = f"CMD a{space}b c"
    assert parse(line.encode()).params == (f"a{space}b", "c")
    assert irc_library_parse(line)[1] == ["a", "b", "c"]


def test_the_documented_param_count_and_source_differences_are_what_they_say() -> None:
    sixteen = "CMD " + " ".join(f"p{i}" for i in range(16))
    assert parse(sixteen.encode()).params[14] == "p14 p15"
    assert len(irc_library_parse(sixteen)[1]) == 16
    theirs = irc_library_parse(":nick@host PING")[3]
    assert (theirs.nick, theirs.host) == ("nick@host", None)
    ours = parse(b":nick@host PING")
    assert (ours.source_nick, ours.source_host) == ("nick", "host")
