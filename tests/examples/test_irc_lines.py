"""The IRC door's renderers without a socket: the fast path for room lines and IRC text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from examples.chat import rules
from examples.chat.events import MessageSaid, Refusal, Refused
from examples.chat.irc_lines import OwnLines, from_irc_text, shared_lines
from examples.chat.limits import ChatLimits
from protocols import irc

_texts = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=rules.MAX_TEXT_BYTES
).filter(lambda t: rules.text_problem(t) is None)
_nicks = st.from_regex(r"[a-z][a-z0-9\-\[\]{}^`|_]{0,15}", fullmatch=True)
_rooms = st.from_regex(r"#[A-Za-z0-9_\-]{1,31}", fullmatch=True)


def _parse(data: bytes) -> list[irc.IrcEvent]:
    decoder = irc.WIRE.decoder()
    decoder.receive_data(data)
    return decoder.events()


@given(
    nick=_nicks,
    room=_rooms,
    text=_texts | _texts.map(lambda t: "/me " + t),
    time_ms=st.integers(0, 2**42),
    notice=st.booleans(),
    server_time=st.booleans(),
)
def test_a_room_line_reads_the_same_from_the_fast_path_and_the_general_one(
    nick: str, room: str, text: str, time_ms: int, *, notice: bool, server_time: bool
) -> None:
    lines = shared_lines("chat.test", server_time=server_time)
    said = MessageSaid(room, nick, text, time_ms, notice=notice)
    general = b"".join(irc.encode(line) for line in lines.lines(said))
    assert _parse(lines(said)) == _parse(general)
    for line in general.split(b"\r\n"):  # each fits, tags aside
        body = line.split(b" ", 1)[1] if line.startswith(b"@") else line
        assert len(body) + 2 <= irc.MAX_MESSAGE_BYTES


def test_irc_text_loses_formatting_and_an_action_becomes_slash_me() -> None:
    assert from_irc_text("\x01ACTION waves\x01") == "/me waves"
    assert from_irc_text("\x01action waves") == "/me waves"  # unterminated, as some clients send
    assert from_irc_text("\x02b\x02 \x1dit\x1d \x0304,12c\x03 \x04ff0000hex\x0f") == "b it c hex"
    assert from_irc_text("\x01VERSION\x01") is None
    assert from_irc_text("plain: text") == "plain: text"


def test_a_refusal_to_register_speaks_irc_not_the_binary_doors_hello() -> None:
    own = OwnLines("chat.test", ChatLimits(), shared_lines("chat.test", server_time=False))
    refused = Refused(Refusal.NOT_REGISTERED, "", "send Hello with your nick first")
    assert own.refused(refused) == [
        irc.Message(command="451", params=("*", "You have not registered"), source="chat.test")
    ]
