"""Helpers for the IRC tests: parse one line, feed a decoder however a stream is cut."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocols.irc import CODEC, WIRE, IrcEvent, Message

if TYPE_CHECKING:
    from collections.abc import Iterator


def parse(line: bytes) -> Message:
    """Parse one line (its CRLF or LF optional) that must be a message, not an empty line."""
    event = CODEC.decode(line.removesuffix(b"\n"))
    assert isinstance(event, Message), event
    return event


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Yield `data` whole, byte by byte, and split in two at every offset (h11, wsproto)."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for offset in range(1, len(data)):
        yield [data[:offset], data[offset:]]


def decode_stream(chunks: list[bytes]) -> list[IrcEvent]:
    """Feed chunks to a fresh decoder, then EOF, collecting the events after each."""
    decoder = WIRE.decoder()
    events: list[IrcEvent] = []
    for chunk in [*chunks, b""]:
        decoder.receive_data(chunk)
        events.extend(decoder.events())
    return events
