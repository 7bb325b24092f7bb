"""`events.broadcast` and `broadcast_lines` without sockets: who gets which bytes, and renders."""

from __future__ import annotations

from typing import Any

from examples.chat.events import Member, MessageSaid, broadcast, broadcast_lines


class Outbox:
    """Records what a member is sent."""

    peer = ("127.0.0.1", 1)

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def send_frame(self, frame: bytes) -> None:
        self.frames.append(frame)


class Render:
    """A renderer that counts its calls: `<prefix>nick:text;`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.calls = 0

    def __call__(self, event: Any) -> bytes:
        self.calls += 1
        return f"{self.prefix}{event.nick}:{event.text};".encode()


def member(render: Render, *, echo: bool) -> tuple[Member, Outbox]:
    outbox = Outbox()
    return Member(outbox, render, echo=echo), outbox  # type: ignore[arg-type]


def said(nick: str, text: str) -> MessageSaid:
    return MessageSaid("#r", nick, text, 0)


def test_lines_of_a_turn_reach_each_member_in_one_frame_without_its_own_unless_it_echoes() -> None:
    irc, binary = Render("i/"), Render("b/")
    ann, ann_out = member(irc, echo=False)
    cid, cid_out = member(irc, echo=False)
    bob, bob_out = member(binary, echo=True)
    lines = [(ann, said("ann", "1")), (bob, said("bob", "2")), (ann, said("ann", "3"))]
    broadcast_lines(lines, [ann, cid, bob])
    assert ann_out.frames == [b"i/bob:2;"]
    assert cid_out.frames == [b"i/ann:1;i/bob:2;i/ann:3;"]
    assert bob_out.frames == [b"b/ann:1;b/bob:2;b/ann:3;"]
    assert (irc.calls, binary.calls) == (3, 3)  # each line once per renderer


def test_one_line_is_a_plain_broadcast_and_a_speaker_alone_gets_nothing() -> None:
    irc = Render("i/")
    ann, ann_out = member(irc, echo=False)
    cid, cid_out = member(irc, echo=False)
    broadcast_lines([(ann, said("ann", "hi"))], [ann, cid])
    broadcast_lines([(ann, said("ann", "a")), (ann, said("ann", "b"))], [ann, cid])
    broadcast(said("cid", "x"), [ann, cid], speaker=cid)
    assert ann_out.frames == [b"i/cid:x;"]
    assert cid_out.frames == [b"i/ann:hi;", b"i/ann:a;i/ann:b;"]
