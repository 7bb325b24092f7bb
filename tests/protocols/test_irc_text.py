"""Fitting relayed text into 512 bytes: the budget, and cutting on UTF-8 character boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import LocalProtocolError
from protocols.irc import (
    MAX_MESSAGE_BYTES,
    Message,
    encode,
    fit_trailing,
    trailing_budget,
    truncate_trailing,
)

SOURCE = "nick!user@host.example"


def test_the_budget_fills_a_relayed_privmsg_to_exactly_512_bytes() -> None:
    budget = trailing_budget("PRIVMSG", ("#chan",), source=SOURCE)
    assert budget == 510 - len(":nick!user@host.example PRIVMSG #chan :")
    line = encode(Message(command="PRIVMSG", params=("#chan", " " * budget), source=SOURCE))
    assert len(line) == MAX_MESSAGE_BYTES


def test_the_budget_counts_params_in_utf8_bytes_and_ignores_tags() -> None:
    assert trailing_budget("PRIVMSG", ("#caf\u00e9",)) == trailing_budget("PRIVMSG", ("#cafee",))
    assert trailing_budget("QUIT") == 510 - len("QUIT :")


def test_each_piece_of_a_relayed_message_fits_and_they_join_back() -> None:
    text = "word " * 200
    budget = trailing_budget("PRIVMSG", ("#chan",), source=SOURCE)
    pieces = fit_trailing(text, budget)
    assert "".join(pieces) == text
    for piece in pieces:
        line = encode(Message(command="PRIVMSG", params=("#chan", piece), source=SOURCE))
        assert len(line) <= MAX_MESSAGE_BYTES


def test_pieces_end_after_a_space_rather_than_inside_a_word() -> None:
    assert fit_trailing("hello big world", 10) == ["hello big ", "world"]
    assert fit_trailing("abcdefghijkl", 5) == ["abcde", "fghij", "kl"]
    # A space too early would leave a piece under half the budget: cut the word instead.
    assert fit_trailing("a bcdefghijkl", 6) == ["a bcde", "fghijk", "l"]
    assert fit_trailing("hello big world", 10, prefer_spaces=False) == ["hello big ", "world"]
    assert fit_trailing("ab cd ef", 4, prefer_spaces=False) == ["ab c", "d ef"]


def test_pieces_never_cut_a_character() -> None:
    assert fit_trailing("\u00e9\u00e9\u00e9", 3) == ["\u00e9", "\u00e9", "\u00e9"]
    assert fit_trailing("a\U0001f600b", 4) == ["a", "\U0001f600", "b"]
    assert fit_trailing("\u2603\u2603", 5) == ["\u2603", "\u2603"]


def test_empty_text_needs_no_piece() -> None:
    assert fit_trailing("", 100) == []


@pytest.mark.parametrize(("text", "budget"), [("\U0001f600", 3), ("\u00e9", 1), ("a", 0)])
def test_a_budget_too_small_for_a_character_is_a_local_error(text: str, budget: int) -> None:
    with pytest.raises(LocalProtocolError, match=f"budget of {budget} bytes cannot hold"):
        fit_trailing(text, budget)


def test_a_small_budget_is_fine_while_every_character_fits() -> None:
    assert fit_trailing("abc", 1) == ["a", "b", "c"]


def test_truncation_keeps_the_longest_start_on_a_boundary() -> None:
    assert truncate_trailing("caf\u00e9 au lait", 4) == "caf"
    assert truncate_trailing("caf\u00e9 au lait", 5) == "caf\u00e9"
    assert truncate_trailing("short", 100) == "short"
    assert truncate_trailing("\u00e9", 1) == ""
    assert truncate_trailing("abc", -5) == ""


@given(text=st.text(st.characters(exclude_categories=["Cs"])), budget=st.integers(4, 600))
def test_pieces_fit_their_budget_join_back_and_are_valid_utf8(text: str, budget: int) -> None:
    pieces = fit_trailing(text, budget)
    assert "".join(pieces) == text
    for piece in pieces:
        assert 0 < len(piece.encode()) <= budget
    # Only the last piece may be short by more than a character (or after a space).
    for piece in pieces[:-1]:
        assert len(piece.encode()) > budget // 2 - 4 or piece.endswith(" ")


@given(text=st.text(st.characters(exclude_categories=["Cs"])), budget=st.integers(-5, 600))
def test_truncation_fits_and_is_a_prefix(text: str, budget: int) -> None:
    cut = truncate_trailing(text, budget)
    assert text.startswith(cut)
    assert len(cut.encode()) <= max(budget, 0)
    rest = text[len(cut) :]
    assert not rest or len(cut.encode()) + len(rest[0].encode()) > budget
