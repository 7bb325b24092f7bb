"""The error hierarchy: whose fault, what to send, what the limit was."""

from __future__ import annotations

import pytest

from protocols import FrameTooLarge, LocalProtocolError, ProtocolError, RemoteProtocolError


def test_protocol_error_is_never_raised_itself() -> None:
    with pytest.raises(TypeError, match="raise LocalProtocolError or RemoteProtocolError"):
        ProtocolError("bad")


@pytest.mark.parametrize("cls", [LocalProtocolError, RemoteProtocolError])
def test_both_sides_are_protocol_errors(cls: type[ProtocolError]) -> None:
    error = cls("bad thing")
    assert isinstance(error, ProtocolError)
    assert str(error) == "bad thing"


def test_remote_error_has_no_reply_hint_by_default() -> None:
    assert RemoteProtocolError("bad").reply_hint is None


def test_remote_error_carries_the_reply_hint() -> None:
    hint = object()
    assert RemoteProtocolError("bad", reply_hint=hint).reply_hint is hint


def test_frame_too_large_gives_value_and_limit() -> None:
    error = FrameTooLarge(4294967295, 65536)
    assert isinstance(error, RemoteProtocolError)
    assert (error.size, error.limit) == (4294967295, 65536)
    assert str(error) == "frame of 4294967295 bytes exceeds max_frame_size=65536"


def test_frame_too_large_names_the_setting_and_a_lower_bound() -> None:
    error = FrameTooLarge(70000, 65536, setting="Delimited.max_frame_size", at_least=True)
    assert str(error) == "frame of at least 70000 bytes exceeds Delimited.max_frame_size=65536"
