"""The public face of `protocols.irc`: pinned names, a submodule like `protocols.chat`."""

from __future__ import annotations

import types

import protocols
from protocols import irc


def test_public_names_are_pinned() -> None:
    assert sorted(irc.__all__) == sorted(
        [
            "CASEMAPPING", "CHANNELLEN", "CHANTYPES", "CODEC", "EMPTY_LINE", "MAX_LINE_BYTES",
            "MAX_MESSAGE_BYTES", "MAX_PARAMS", "MAX_TAGS_BYTES", "NICKLEN", "PREFIX_SYMBOLS",
            "TOPICLEN", "WIRE", "CapSubcommand", "Casemapping", "EmptyLine", "IrcCodec",
            "IrcEvent", "IrcFraming", "LineTooLong", "Message", "Numeric", "Source", "casefold",
            "encode", "escape_tag_value", "fit_trailing", "is_channel_name", "is_nick",
            "split_source", "trailing_budget", "truncate_trailing", "unescape_tag_value",
        ]
    )  # fmt: skip


def test_all_lists_every_public_name_the_module_defines() -> None:
    defined = {
        name
        for name, value in vars(irc).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert defined - {"Final", "Wire", "annotations"} == set(irc.__all__)  # imported helpers


def test_irc_is_a_submodule_not_part_of_the_package_api() -> None:
    assert not {"Message", "WIRE", "irc"} & set(protocols.__all__)


def test_the_wire_is_irc_framing_and_codec() -> None:
    assert repr(irc.WIRE) == "Wire(IrcFraming(), IrcCodec())"
    assert irc.WIRE.codec is irc.CODEC
