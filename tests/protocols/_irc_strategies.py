"""Hypothesis strategies for valid IRC messages, for the round-trip and cross-check properties."""

from __future__ import annotations

from hypothesis import strategies as st

from protocols.irc import MAX_PARAMS, Message

# Text without surrogates (not UTF-8), NUL, CR or LF (IRC cannot carry them).
_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r\n")
_MIDDLE_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00\r\n ")

commands = st.one_of(
    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz"), min_size=1, max_size=12),
    st.from_regex(r"\A[0-9]{3}\Z"),
)
middles = st.text(_MIDDLE_CHARS, min_size=1, max_size=20).filter(lambda s: s[0] != ":")
trailings = st.text(_CHARS, max_size=40)
sources = st.one_of(
    st.none(),
    st.text(_MIDDLE_CHARS, min_size=1, max_size=30),
    st.builds(
        "{}!{}@{}".format,
        st.from_regex(r"\A[A-Za-z\[\]{}|^_`][A-Za-z0-9\[\]{}|^_`-]{0,15}\Z"),
        st.from_regex(r"\A~?[a-z0-9]{1,10}\Z"),
        st.from_regex(r"\A[a-z0-9.:-]{1,30}\Z"),
    ),
)
tag_keys = st.from_regex(r"\A\+?([a-z0-9][a-z0-9.-]{0,10}/)?[A-Za-z0-9-]{1,12}\Z")
tag_values = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20
)
tags = st.dictionaries(tag_keys, tag_values, max_size=5)


#: Params without whitespace other than the space IRC splits at (the `irc` library splits at all).
unsplittable_middles = middles.filter(lambda s: not any(c.isspace() for c in s))
unsplittable_trailings = trailings.filter(lambda s: not any(c.isspace() and c != " " for c in s))


@st.composite
def messages(
    draw: st.DrawFn,
    middles: st.SearchStrategy[str] = middles,
    trailings: st.SearchStrategy[str] = trailings,
) -> Message:
    """Draw a message the grammar allows, well under the size limits."""
    params = draw(st.lists(middles, max_size=MAX_PARAMS - 1))
    if draw(st.booleans()):
        params.append(draw(trailings))
    return Message(
        command=draw(commands),
        params=tuple(params),
        source=draw(sources),
        tags=draw(tags),
    )
