"""IRC lines to messages and back: the grammar, tags and their escapes, sources, the 15 params."""

from __future__ import annotations

import pytest
from _irc import parse

from protocols import LocalProtocolError, RemoteProtocolError
from protocols.irc import (
    CODEC,
    EMPTY_LINE,
    Message,
    Numeric,
    Source,
    encode,
    escape_tag_value,
    split_source,
    unescape_tag_value,
)

# Examples in the spirit of modern.ircdocs.horse "Messages", written out here: line, then message.
PARSE_FIXTURES: list[tuple[bytes, Message]] = [
    (
        b":irc.example.com CAP LS * :multi-prefix extended-join sasl",
        Message(
            command="CAP",
            params=("LS", "*", "multi-prefix extended-join sasl"),
            source="irc.example.com",
        ),
    ),
    (
        b"@id=234AB :dan!d@localhost PRIVMSG #chan :Hey what's up!",
        Message(
            command="PRIVMSG",
            params=("#chan", "Hey what's up!"),
            source="dan!d@localhost",
            tags={"id": "234AB"},
        ),
    ),
    (b"CAP REQ :sasl", Message(command="CAP", params=("REQ", "sasl"))),
    (b"CAP REQ sasl", Message(command="CAP", params=("REQ", "sasl"))),
    (
        b":irc.example.com CAP * LIST :",
        Message(command="CAP", params=("*", "LIST", ""), source="irc.example.com"),
    ),
    (
        b":dan!d@localhost PRIVMSG #chan ::-)",
        Message(command="PRIVMSG", params=("#chan", ":-)"), source="dan!d@localhost"),
    ),
    (
        b"@aaa=bbb;ccc;example.com/ddd=eee :nick!ident@host.com PRIVMSG me :Hello",
        Message(
            command="PRIVMSG",
            params=("me", "Hello"),
            source="nick!ident@host.com",
            tags={"aaa": "bbb", "ccc": "", "example.com/ddd": "eee"},
        ),
    ),
    (
        b"@url=;netsplit=tur,ty :dan!d@localhost QUIT :Client quit",
        Message(
            command="QUIT",
            params=("Client quit",),
            source="dan!d@localhost",
            tags={"url": "", "netsplit": "tur,ty"},
        ),
    ),
    (
        b":irc.example.com 001 dan :Welcome to the Internet Relay Network dan",
        Message(
            command="001",
            params=("dan", "Welcome to the Internet Relay Network dan"),
            source="irc.example.com",
        ),
    ),
    (
        b":srv 005 dan NICKLEN=30 CASEMAPPING=rfc1459 :are supported by this server",
        Message(
            command="005",
            params=("dan", "NICKLEN=30", "CASEMAPPING=rfc1459", "are supported by this server"),
            source="srv",
        ),
    ),
    (b"PING", Message(command="PING")),
    (b"ping :abc", Message(command="PING", params=("abc",))),
    (b"NICK dan", Message(command="NICK", params=("dan",))),
    (b"USER d 0 * :Dan Smith", Message(command="USER", params=("d", "0", "*", "Dan Smith"))),
    (b"JOIN #a,#b key1,key2", Message(command="JOIN", params=("#a,#b", "key1,key2"))),
    # A colon inside a middle parameter is part of it; only a leading one starts the trailing.
    (b"MODE #c +k a:b", Message(command="MODE", params=("#c", "+k", "a:b"))),
    (b"PRIVMSG #c :a :b c", Message(command="PRIVMSG", params=("#c", "a :b c"))),
    (b"PRIVMSG #c :", Message(command="PRIVMSG", params=("#c", ""))),
    (b"PRIVMSG #c :  spaced  ", Message(command="PRIVMSG", params=("#c", "  spaced  "))),
    # Runs of spaces between the parts, and trailing spaces, are tolerated.
    (
        b"@a=1   :n!u@h   PRIVMSG    #c     :hi  there",
        Message(command="PRIVMSG", params=("#c", "hi  there"), source="n!u@h", tags={"a": "1"}),
    ),
    (b"  NICK   dan   ", Message(command="NICK", params=("dan",))),
    (b"NICK dan\r", Message(command="NICK", params=("dan",))),
]


@pytest.mark.parametrize(("line", "expected"), PARSE_FIXTURES)
def test_fixture_lines_parse_to_their_messages(line: bytes, expected: Message) -> None:
    assert parse(line) == expected
    assert dict(parse(line).tags) == dict(expected.tags)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"CAP REQ :sasl", b"CAP REQ sasl\r\n"),
        (b":irc.example.com CAP * LIST :", b":irc.example.com CAP * LIST :\r\n"),
        (b":d!d@h PRIVMSG #chan ::-)", b":d!d@h PRIVMSG #chan ::-)\r\n"),
        (b"PRIVMSG  #c   :hi", b"PRIVMSG #c hi\r\n"),
        (b"PRIVMSG #c :hi there", b"PRIVMSG #c :hi there\r\n"),
        (b"@b;a=1 PING x", b"@b;a=1 PING x\r\n"),
    ],
)
def test_building_writes_the_trailing_colon_only_when_needed(line: bytes, expected: bytes) -> None:
    assert encode(parse(line)) == expected


def test_commands_are_upper_cased_and_numerics_kept_as_three_digits() -> None:
    assert parse(b"privmsg #c hi").command == "PRIVMSG"
    assert parse(b"PrivMsg #c hi").command == "PRIVMSG"
    assert parse(b":s 005 me x").command == "005"
    assert parse(b":s 005 me x").is_numeric
    assert not parse(b"NICK x").is_numeric
    assert Message(command="nick") == Message(command="NICK")


@pytest.mark.parametrize(
    "line",
    [b"12 x", b"1234 x", b"PRIV-MSG x", b"PRIV1 x", b"\xc3\xa9T\xc3\xa9 x", b"0x1 x", b"@a=1 :src"],
)
def test_a_command_that_is_not_letters_or_three_digits_is_refused(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match=r"no command|neither letters nor"):
        CODEC.decode(line)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b"@a=1", "tags but no command"),
        (b":src", "followed by no command"),
        (b": PRIVMSG #c hi", "':' opens a source but no source follows"),
        (b"@a=1   ", "tags or a source but no command"),
    ],
)
def test_a_line_missing_its_command_is_refused(line: bytes, fragment: str) -> None:
    with pytest.raises(RemoteProtocolError, match=fragment):
        CODEC.decode(line)


@pytest.mark.parametrize("line", [b"", b"\r", b"   ", b"  \r"])
def test_an_empty_line_is_the_empty_line_event(line: bytes) -> None:
    assert CODEC.decode(line) is EMPTY_LINE


# -- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        ("", ""),
        ("plain", "plain"),
        (r"semi\:colon", "semi;colon"),
        (r"a\sspace", "a space"),
        (r"back\\slash", "back\\slash"),
        (r"cr\rlf\n", "cr\rlf\n"),
        (r"\:\s\\\r\n", "; \\\r\n"),
        (r"unknown\b\x", "unknownbx"),  # an unknown escape keeps its character
        ("trailing\\", "trailing"),  # a lone trailing backslash is dropped
        (r"double\\\\", "double\\\\"),
        ("\\\\\\", "\\"),  # an escaped backslash, then a lone one
        ("caf\u00e9\u2603", "caf\u00e9\u2603"),
    ],
)
def test_tag_values_unescape_every_ircv3_escape(escaped: str, value: str) -> None:
    assert unescape_tag_value(escaped) == value
    line = f"@k={escaped} PING".encode()
    assert parse(line).tags == {"k": value}


@pytest.mark.parametrize("value", ["", "a;b c\\d\re\nf", "\\", ";;", "   ", "\u00e9\\s"])
def test_tag_values_escape_so_they_unescape_back(value: str) -> None:
    assert unescape_tag_value(escape_tag_value(value)) == value
    line = encode(Message(command="PING", tags={"k": value}))
    assert parse(line).tags == {"k": value}


def test_tag_keys_keep_their_client_and_vendor_prefixes() -> None:
    message = parse(b"@+draft/reply=abc;+typing=active;znc.in/server-time-iso=x;time=t TAGMSG #c")
    assert dict(message.tags) == {
        "+draft/reply": "abc",
        "+typing": "active",
        "znc.in/server-time-iso": "x",
        "time": "t",
    }


def test_a_repeated_tag_key_keeps_its_last_value_and_empty_items_are_skipped() -> None:
    assert parse(b"@a=1;;b;a=2; PING").tags == {"a": "2", "b": ""}


def test_a_tag_value_may_hold_equals_signs() -> None:
    assert parse(b"@k=a=b=c PING").tags == {"k": "a=b=c"}


def test_tags_are_read_only_and_absent_tags_are_an_empty_mapping() -> None:
    message = parse(b"@a=1 PING")
    with pytest.raises(TypeError):
        message.tags["a"] = "2"  # type: ignore[index]
    assert parse(b"PING").tags == {}
    assert Message(command="PING", tags={"a": "1"}).tags == {"a": "1"}


def test_messages_are_hashable_and_equal_by_value() -> None:
    one = Message(command="PING", params=["x"], tags={"a": "1"})  # type: ignore[arg-type]
    assert one.params == ("x",)
    assert one == parse(b"@a=1 PING x")
    assert hash(one) == hash(parse(b"@a=1 PING x"))
    assert one != parse(b"@a=2 PING x")


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("", "tag key ''"),
        ("a b", "tag key 'a b'"),
        ("a=b", "tag key"),
        ("++x", "tag key"),
        ("v/", "tag key"),
        ("/k", "tag key"),
        ("k;", "tag key"),
    ],
)
def test_building_a_tag_key_outside_the_grammar_is_a_local_error(key: str, fragment: str) -> None:
    with pytest.raises(LocalProtocolError, match=fragment):
        encode(Message(command="PING", tags={key: "v"}))


def test_building_a_tag_value_with_nul_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError, match="holds NUL"):
        encode(Message(command="PING", tags={"k": "a\x00"}))


def test_valueless_tags_are_written_as_bare_keys() -> None:
    assert encode(Message(command="PING", tags={"a": "", "b": "1"})) == b"@a;b=1 PING\r\n"


# -- sources -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("nick!user@host.example", Source("nick", "user", "host.example")),
        ("nick@host", Source("nick", None, "host")),
        ("nick!user", Source("nick", "user", None)),
        ("nick", Source("nick", None, None)),
        ("irc.example.com", Source("irc.example.com", None, None)),
        ("n!u@2001:db8::1", Source("n", "u", "2001:db8::1")),
        ("n!~u@h", Source("n", "~u", "h")),
    ],
)
def test_sources_split_into_nick_user_and_host(source: str, parts: Source) -> None:
    assert split_source(source) == parts
    message = parse(f":{source} PING".encode())
    assert (message.source_nick, message.source_user, message.source_host) == parts


def test_a_message_without_source_has_no_source_parts() -> None:
    message = parse(b"PING x")
    assert (message.source, message.source_nick, message.source_user, message.source_host) == (
        None,
        None,
        None,
        None,
    )


# -- parameters --------------------------------------------------------------------------------


def test_fifteen_params_parse_with_the_trailing_as_the_fifteenth() -> None:
    middles = " ".join(f"p{i}" for i in range(14))
    assert parse(f"CMD {middles} :last one".encode()).params == (
        *(f"p{i}" for i in range(14)),
        "last one",
    )


def test_after_fourteen_params_the_rest_of_the_line_is_the_fifteenth() -> None:
    # RFC 2812 2.3.1: after 14 middles the colon is optional and the rest is one parameter.
    middles = " ".join(f"p{i}" for i in range(14))
    assert parse(f"CMD {middles} a b  c".encode()).params[14] == "a b  c"
    assert parse(f"CMD {middles} :a b".encode()).params[14] == "a b"
    assert len(parse(f"CMD {middles} a b c d e f".encode()).params) == 15


def test_building_fifteen_params_works_and_sixteen_is_a_local_error() -> None:
    params = tuple(f"p{i}" for i in range(15))
    assert parse(encode(Message(command="CMD", params=params))).params == params
    with pytest.raises(LocalProtocolError, match="16 parameters exceed MAX_PARAMS=15"):
        encode(Message(command="CMD", params=(*params, "x")))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        (("", "x"), "parameter 0 of 2 is '': only the last may be empty"),
        (("a b", "x"), "parameter 0 of 2 is 'a b'"),
        ((":a", "x"), "parameter 0 of 2 is ':a'"),
        (("a\r\nQUIT", "x"), r"parameter 0 holds '\\r'"),
        (("x", "line\nbreak"), r"parameter 1 holds '\\n'"),
        (("x", "nul\x00"), r"parameter 1 holds '\\x00'"),
    ],
)
def test_building_a_param_the_grammar_cannot_carry_is_a_local_error(
    params: tuple[str, ...], fragment: str
) -> None:
    with pytest.raises(LocalProtocolError, match=fragment):
        encode(Message(command="PRIVMSG", params=params))


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        (Message(command="PRIV MSG"), "command 'PRIV MSG' is neither"),
        (Message(command=""), "command '' is neither"),
        (Message(command="1234"), "command '1234'"),
        (Message(command="PING", source=""), "source '' is empty"),
        (Message(command="PING", source="a b"), "source 'a b'"),
        (Message(command="PING", source="a\r\n"), "source"),
    ],
)
def test_building_a_bad_command_or_source_is_a_local_error(message: Message, fragment: str) -> None:
    with pytest.raises(LocalProtocolError, match=fragment):
        encode(message)


def test_a_trailing_param_that_needs_no_colon_is_written_without() -> None:
    assert encode(Message(command="NICK", params=("dan",))) == b"NICK dan\r\n"
    assert encode(Message(command="PRIVMSG", params=("#c", ""))) == b"PRIVMSG #c :\r\n"
    assert encode(Message(command="PRIVMSG", params=("#c", ":)"))) == b"PRIVMSG #c ::)\r\n"
    assert encode(Message(command="QUIT")) == b"QUIT\r\n"


def test_a_numeric_built_from_numeric_code_parses_back() -> None:
    reply = Message(
        command=Numeric.RPL_WELCOME.code, params=("dan", "Welcome dan"), source="irc.test"
    )
    assert encode(reply) == b":irc.test 001 dan :Welcome dan\r\n"
    assert parse(encode(reply)) == reply
