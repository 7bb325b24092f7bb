"""Nicks, channel names, case mapping, numerics and CAP subcommands."""

from __future__ import annotations

import pytest

from protocols.irc import (
    CASEMAPPING,
    CHANNELLEN,
    CHANTYPES,
    NICKLEN,
    TOPICLEN,
    CapSubcommand,
    Numeric,
    casefold,
    is_channel_name,
    is_nick,
)


@pytest.mark.parametrize(
    ("name", "rfc1459", "strict", "ascii_"),
    [
        ("Dan", "dan", "dan", "dan"),
        ("[Dan]", "{dan}", "{dan}", "[dan]"),
        ("a\\b~c^", "a|b^c^", "a|b~c^", "a\\b~c^"),
        ("#Chan[1]", "#chan{1}", "#chan{1}", "#chan[1]"),
        ("\u00c9mile", "\u00c9mile", "\u00c9mile", "\u00c9mile"),  # ASCII letters only
        ("{}|^", "{}|^", "{}|^", "{}|^"),
    ],
)
def test_casefold_follows_each_casemapping(
    name: str, rfc1459: str, strict: str, ascii_: str
) -> None:
    assert casefold(name) == rfc1459
    assert casefold(name, "rfc1459") == rfc1459
    assert casefold(name, "strict-rfc1459") == strict
    assert casefold(name, "ascii") == ascii_


def test_casefold_is_idempotent_and_defaults_to_rfc1459() -> None:
    assert CASEMAPPING == "rfc1459"
    name = "N[i]\\ck~"
    assert casefold(casefold(name)) == casefold(name) == casefold("n{I}|CK^")


@pytest.mark.parametrize(
    "nick",
    ["dan", "Dan", "d4n", "[dan]", "dan_", "`dan`", "d-an", "d|n", "d^n", "{x}", "a" * NICKLEN],
)
def test_valid_nicks(nick: str) -> None:
    assert is_nick(nick)


@pytest.mark.parametrize(
    "nick",
    [
        "",
        "a b",
        "a,b",
        "a*",
        "a?",
        "a!",
        "a@b",
        "a.b",  # a dot marks a server name
        "$dan",
        ":dan",
        "#dan",
        "&dan",
        "~dan",
        "@dan",
        "%dan",
        "+dan",
        "1dan",  # RFC 2812: a nick does not start with a digit
        "-dan",
        "d\x00n",
        "d\x07n",
        "d\x7fn",
        "\u00e9mile",  # ASCII only: the case mappings fold ASCII only
        "a" * (NICKLEN + 1),
    ],
)
def test_invalid_nicks(nick: str) -> None:
    assert not is_nick(nick)


def test_nick_length_follows_the_advertised_limit() -> None:
    assert is_nick("abcdefghi", max_length=9)
    assert not is_nick("abcdefghij", max_length=9)


@pytest.mark.parametrize(
    "name",
    ["#chan", "&local", "#a", "##dev", "#c\u00e9", "#with.dot", "#" + "x" * (CHANNELLEN - 1)],
)
def test_valid_channel_names(name: str) -> None:
    assert is_channel_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "#",
        "chan",
        "+chan",
        "!chan",
        "#a b",
        "#a,b",
        "#a:b",
        "#a\x07",
        "#a\x00",
        "#a\x03red",
        "#a\r",
        "#" + "x" * CHANNELLEN,
        "#" + "\u00e9" * 25,  # 51 bytes of UTF-8
    ],
)
def test_invalid_channel_names(name: str) -> None:
    assert not is_channel_name(name)


def test_channel_length_is_counted_in_utf8_bytes() -> None:
    assert is_channel_name("#" + "\u00e9" * 24)  # 49 bytes
    assert not is_channel_name("#abc", max_length=3)


def test_limits_are_what_the_door_advertises() -> None:
    assert (NICKLEN, CHANNELLEN, TOPICLEN, CHANTYPES) == (30, 50, 390, "#&")


@pytest.mark.parametrize(
    ("numeric", "value", "code"),
    [
        (Numeric.RPL_WELCOME, 1, "001"),
        (Numeric.RPL_ISUPPORT, 5, "005"),
        (Numeric.RPL_UMODEIS, 221, "221"),
        (Numeric.RPL_NAMREPLY, 353, "353"),
        (Numeric.RPL_ENDOFNAMES, 366, "366"),
        (Numeric.ERR_INPUTTOOLONG, 417, "417"),
        (Numeric.ERR_NICKNAMEINUSE, 433, "433"),
        (Numeric.ERR_ALREADYREGISTERED, 462, "462"),
        (Numeric.ERR_CHANOPRIVSNEEDED, 482, "482"),
    ],
)
def test_numerics_carry_their_rfc_names_and_three_digit_codes(
    numeric: Numeric, value: int, code: str
) -> None:
    assert numeric == value
    assert numeric.code == code
    assert Numeric(int(code)) is numeric


def test_every_numeric_the_door_needs_is_there() -> None:
    needed = {
        1, 2, 3, 4, 5, 221, 251, 252, 253, 254, 255, 265, 266, 301, 305, 306, 311, 312, 315, 318,
        319, 321, 322, 323, 324, 329, 331, 332, 333, 352, 353, 366, 372, 375, 376, 401, 403, 404,
        411, 412, 417, 421, 422, 431, 432, 433, 442, 451, 461, 462, 472, 482,
    }  # fmt: skip
    assert needed <= {int(numeric) for numeric in Numeric}
    assert all(name.startswith(("RPL_", "ERR_")) for name in Numeric.__members__)


def test_cap_subcommands_are_their_own_wire_spelling() -> None:
    assert [str(sub) for sub in CapSubcommand] == [
        "LS", "LIST", "REQ", "ACK", "NAK", "END", "NEW", "DEL",
    ]  # fmt: skip
    assert CapSubcommand("ACK") is CapSubcommand.ACK
