"""Parse and build rates of one message layout: construct, compiled construct, fast path, struct.

The message is the example `SamplePost` (tag, two short u8-length UTF-8 strings, u32). Every variant
turns bytes into the same frozen dataclass and back, so the rates compare like with like:

- plain construct: `TaggedUnion(..., fast=False)`, safe on hostile input;
- construct `.compile()`: UNSAFE on hostile input (skips length checks); its build of an Enum-keyed
  `Switch` fails, so build compiles the body `Struct` alone and prepends the tag byte;
- derived fast path: `TaggedUnion` as shipped, every check kept;
- hand-written `struct` code of the same layout with the same checks: the yardstick.

Run with `python -m bench.codec [--repeat N] [--quick]`; rates are medians of N rounds.
"""

from __future__ import annotations

import argparse
import struct
import time
from typing import TYPE_CHECKING, Any

from construct import Int8ub  # type: ignore[import-untyped]

from bench._common import format_table, median
from protocols import LocalProtocolError, RemoteProtocolError, TaggedUnion
from protocols._sample import (
    SAMPLE_CODEC,
    SAMPLE_HELLO,
    SAMPLE_POST,
    SampleHello,
    SampleMessage,
    SamplePost,
    SampleTag,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

MESSAGES = 64  # distinct messages cycled through, so no single payload stays hot
ROUNDS_FULL = 2_000  # passes over MESSAGES for a fast variant: 128k messages, ~0.1-0.3 s
SLOW_DIVISOR = 10  # plain construct is ~20x slower: run it on a tenth of the passes
QUICK_DIVISOR = 10  # --quick: a tenth of everything, for a smoke test

_U8 = struct.Struct(">B")
_U32 = struct.Struct(">I")


def hand_decode(payload: bytes) -> SampleMessage:
    """Parse a sample payload with hand-written struct code and the same checks as the codec."""
    size = len(payload)
    if size < 1:
        raise RemoteProtocolError("empty payload")
    tag = payload[0]
    if tag == SampleTag.POST.value:
        room, pos = _hand_string(payload, 1, "room")
        text, pos = _hand_string(payload, pos, "text")
        if pos + 4 != size:
            raise RemoteProtocolError(f"SamplePost.seq: 4 bytes expected, {size - pos} left")
        return SamplePost(room=room, text=text, seq=_U32.unpack_from(payload, pos)[0])
    if tag == SampleTag.HELLO.value:
        name, pos = _hand_string(payload, 1, "name")
        if pos != size:
            raise RemoteProtocolError(f"SampleHello: {size - pos} trailing bytes")
        return SampleHello(name=name)
    raise RemoteProtocolError(f"unknown tag {tag}")


def _hand_string(payload: bytes, pos: int, field: str) -> tuple[str, int]:
    if pos >= len(payload):
        raise RemoteProtocolError(f"{field}: truncated length prefix")
    start = pos + 1
    end = start + payload[pos]
    if end > len(payload):
        raise RemoteProtocolError(f"{field}: length past the end")
    try:
        return payload[start:end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError(f"{field}: invalid UTF-8") from exc


def hand_encode(message: SampleMessage) -> bytes:
    """Build a sample payload with hand-written struct code and the same checks as the codec."""
    if type(message) is SamplePost:
        room = _hand_utf8(message.room, "room")
        text = _hand_utf8(message.text, "text")
        try:
            seq = _U32.pack(message.seq)
        except struct.error as exc:
            raise LocalProtocolError(f"SamplePost.seq={message.seq!r}: {exc}") from exc
        return b"".join((b"\x02", _U8.pack(len(room)), room, _U8.pack(len(text)), text, seq))
    if type(message) is SampleHello:
        name = _hand_utf8(message.name, "name")
        return b"".join((b"\x01", _U8.pack(len(name)), name))
    raise LocalProtocolError(f"cannot encode {type(message).__name__}")


def _hand_utf8(value: object, field: str) -> bytes:
    if type(value) is not str:
        raise LocalProtocolError(f"{field}: expected str")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LocalProtocolError(f"{field}: not encodable as UTF-8") from exc
    if len(data) > 255:
        raise LocalProtocolError(f"{field}: {len(data)} bytes exceed 255")
    return data


def compiled_codec() -> tuple[Callable[[bytes], SampleMessage], Callable[[SampleMessage], bytes]]:
    """Return decode and encode over construct's compiled parsers (UNSAFE on hostile input)."""
    whole: Any = SAMPLE_CODEC.format.compile()
    bodies: dict[type[Any], tuple[bytes, Any, tuple[str, ...]]] = {
        SamplePost: (b"\x02", SAMPLE_POST.compile(), ("room", "text", "seq")),
        SampleHello: (b"\x01", SAMPLE_HELLO.compile(), ("name",)),
    }
    classes: dict[str, type[Any]] = {"POST": SamplePost, "HELLO": SampleHello}

    def decode(payload: bytes) -> SampleMessage:
        parsed = whole.parse(payload)
        body = parsed.body
        cls = classes[str(parsed.tag)]
        fields = bodies[cls][2]
        message: SampleMessage = cls(**{name: body[name] for name in fields})
        return message

    def encode(message: SampleMessage) -> bytes:
        tag, body, fields = bodies[type(message)]
        built: bytes = body.build({name: getattr(message, name) for name in fields})
        return tag + built

    return decode, encode


def sample_messages() -> list[SamplePost]:
    """Return MESSAGES distinct posts: short ASCII and non-ASCII rooms and texts."""
    rooms = ["lobby", "dev", "café", "general-chat"]
    return [
        SamplePost(room=rooms[i % len(rooms)], text=f"message number {i} ✓", seq=i * 7919)
        for i in range(MESSAGES)
    ]


def rate(function: Callable[[Any], object], inputs: Sequence[Any], rounds: int) -> float:
    """Return calls per second of `function` over `rounds` passes through `inputs`."""
    started = time.perf_counter()
    for _ in range(rounds):
        for item in inputs:
            function(item)
    elapsed = time.perf_counter() - started
    return rounds * len(inputs) / elapsed


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every variant, --repeat times, and print a table of medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="rounds per variant (median)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the work: smoke test")
    args = parser.parse_args(argv)

    rounds = ROUNDS_FULL // QUICK_DIVISOR if args.quick else ROUNDS_FULL
    messages = sample_messages()
    payloads = [hand_encode(message) for message in messages]
    plain = TaggedUnion[SampleMessage](
        Int8ub,
        {SampleTag.HELLO: (SampleHello, SAMPLE_HELLO), SampleTag.POST: (SamplePost, SAMPLE_POST)},
        fast=False,
    )
    compiled_decode, compiled_encode = compiled_codec()
    variants: list[tuple[str, Callable[[bytes], object], Callable[[Any], bytes], int]] = [
        ("plain construct", plain.decode, plain.encode, rounds // SLOW_DIVISOR),
        ("construct .compile() (UNSAFE)", compiled_decode, compiled_encode, rounds),
        ("derived fast path", SAMPLE_CODEC.decode, SAMPLE_CODEC.encode, rounds),
        ("hand-written struct", hand_decode, hand_encode, rounds),
    ]
    for _, decode, encode, _ in variants:  # every variant must agree before it is timed
        assert [decode(payload) for payload in payloads] == messages
        assert [encode(message) for message in messages] == payloads

    parse_rates: dict[str, list[float]] = {name: [] for name, *_ in variants}
    build_rates: dict[str, list[float]] = {name: [] for name, *_ in variants}
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits every variant alike
        for name, decode, encode, passes in variants:
            parse_rates[name].append(rate(decode, payloads, passes))
            build_rates[name].append(rate(encode, messages, passes))

    hand = variants[-1][0]
    hand_parse, hand_build = median(parse_rates[hand]), median(build_rates[hand])
    rows = []
    for name, *_ in variants:
        parse, build = median(parse_rates[name]), median(build_rates[name])
        rows.append(
            [
                name,
                f"{parse:,.0f}",
                f"{hand_parse / parse:.1f}x",
                f"{build:,.0f}",
                f"{hand_build / build:.1f}x",
            ]
        )
    size = len(payloads[0])
    print(
        f"SamplePost ({size}-byte payload, {MESSAGES} distinct messages), "
        f"median of {args.repeat}; 'x hand' = times slower than hand-written struct"
    )
    print(
        format_table(
            ["variant", "parse msg/s", "x hand", "build msg/s", "x hand"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
