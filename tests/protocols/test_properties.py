"""Properties of every protocol: round trips, hostile bytes, bounded memory, linear work.

Every framing (`LengthPrefixed` of width 1, 2 and 4 in both byte orders, `Delimited` with one-byte,
two-byte and self-overlapping delimiters) is paired with every codec the project has (`RawCodec`,
the sample `TaggedUnion` and `protocols.chat`). The chat protocol over its own `chat.WIRE` framing
is left to test_chat.py, which round-trips every message there.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import pkgutil
import struct
import time
import tracemalloc
import typing
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

import construct  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st

import protocols
from protocols import (
    Codec,
    Decoder,
    Delimited,
    FrameTooLarge,
    Framing,
    LengthPrefixed,
    LocalProtocolError,
    ProtocolError,
    RawCodec,
    RemoteProtocolError,
    TaggedUnion,
    chat,
)
from protocols._sample import SAMPLE_CODEC, SampleMessage

if TYPE_CHECKING:
    from collections.abc import Iterator

KIB = 1024
MIB = 1024 * KIB
RECV_CHUNK = 64 * KIB  # what one recv() may return

# --- the protocols under test ------------------------------------------------------------------

FramingFactory = Callable[[int | None], Framing]


def _length_prefixed(
    width: typing.Literal[1, 2, 4], order: typing.Literal["big", "little"]
) -> FramingFactory:
    def make(limit: int | None) -> Framing:
        if limit is None:
            return LengthPrefixed(width=width, byteorder=order)
        return LengthPrefixed(width=width, byteorder=order, max_frame_size=limit)

    return make


def _delimited(delimiter: bytes) -> FramingFactory:
    def make(limit: int | None) -> Framing:
        if limit is None:
            return Delimited(delimiter)
        return Delimited(delimiter, max_frame_size=limit)

    return make


FRAMINGS: dict[str, FramingFactory] = {
    "u8": _length_prefixed(1, "big"),
    "u8-little": _length_prefixed(1, "little"),
    "u16": _length_prefixed(2, "big"),
    "u16-little": _length_prefixed(2, "little"),
    "u32": _length_prefixed(4, "big"),
    "u32-little": _length_prefixed(4, "little"),
    "lf": _delimited(b"\n"),
    "crlf": _delimited(b"\r\n"),
    "nul-nul": _delimited(b"\x00\x00"),  # overlaps itself: b"\x00\x00\x00" holds two
}

CODECS: dict[str, Codec[Any]] = {"raw": RawCodec(), "sample": SAMPLE_CODEC, "chat": chat.CODEC}

# chat.CODEC over u32 big-endian is chat.WIRE (with an 8 KiB limit): test_chat.py covers it.
PAIRS = [
    (framing, codec)
    for framing in FRAMINGS
    for codec in CODECS
    if (framing, codec) != ("u32", "chat")
]
PAIR_IDS = [f"{framing}-{codec}" for framing, codec in PAIRS]
# For hostile input every pair counts, chat.WIRE's own framing too.
ALL_PAIRS = [(framing, codec) for framing in FRAMINGS for codec in CODECS]
ALL_PAIR_IDS = [f"{framing}-{codec}" for framing, codec in ALL_PAIRS]
# Small enough that hostile bytes hit the limit often, large enough for most chat messages.
SMALL_LIMIT = 40


def header_size(framing: Framing) -> int:
    """Bytes a frame adds to its payload: the length header or the delimiter."""
    if isinstance(framing, LengthPrefixed):
        return framing.width
    assert isinstance(framing, Delimited)
    return len(framing.delimiter)


# --- messages, generated from the construct definitions ----------------------------------------


def union_classes(codec: TaggedUnion[Any], union: object) -> dict[str, type[Any]]:
    """Map each tag name of `codec` to its dataclass, by encoding an all-zero instance of each."""
    classes: dict[str, type[Any]] = {}
    for cls in typing.get_args(union):
        hints = typing.get_type_hints(cls)
        zero = cls(**{field.name: hints[field.name]() for field in dataclasses.fields(cls)})
        classes[str(codec.format.tag.parse(codec.encode(zero)))] = cls
    assert set(classes) == {member.name for member in codec.tags}, "a tag has no class"
    return classes


def field_values(subcon: Any) -> st.SearchStrategy[Any]:
    """Return values that fit one field's construct definition."""
    if type(subcon) is construct.FormatField:
        bits = 8 * struct.calcsize(subcon.fmtstr)
        if subcon.fmtstr[-1].islower():
            return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        return st.integers(0, (1 << bits) - 1)
    if type(subcon) is construct.StringEncoded and type(subcon.subcon) is construct.Prefixed:
        prefix_bytes = subcon.subcon.lengthfield.sizeof()
        # At most 4 UTF-8 bytes a character: 63 fit a u8 prefix. Longer text under a u16 prefix
        # makes some messages too large for a u8 length header, which must be a local error.
        return st.text(max_size=63 if prefix_bytes == 1 else 100)
    raise AssertionError(f"no strategy for {subcon!r}; teach field_values this construct")


def message_strategy(codec: TaggedUnion[Any], union: object) -> st.SearchStrategy[Any]:
    """Return every message of a tagged union, each field drawn from its construct definition."""
    cases = codec.format.body.subcon.cases
    return st.one_of(
        *(
            st.builds(cls, **{sub.name: field_values(sub.subcon) for sub in cases[tag].subcons})
            for tag, cls in union_classes(codec, union).items()
        )
    )


MESSAGES: dict[str, st.SearchStrategy[Any]] = {
    "raw": st.binary(max_size=300),
    "sample": message_strategy(SAMPLE_CODEC, SampleMessage),
    "chat": message_strategy(chat.CODEC, chat.ChatMessage),
}


def draw_chunks(data: st.DataObject, stream: bytes) -> list[bytes]:
    """Cut a stream whole, byte by byte, or at drawn offsets; no chunk is empty (that is EOF)."""
    how = data.draw(st.sampled_from(["whole", "bytes", "cuts"]), label="chunking")
    if how == "whole":
        return [stream] if stream else []
    if how == "bytes":
        return [stream[i : i + 1] for i in range(len(stream))]
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12), label="cuts")
    bounds = sorted({0, len(stream), *cuts})
    return [stream[start:end] for start, end in itertools.pairwise(bounds)]


@dataclasses.dataclass
class Fed:
    """What a decoder gave for a whole stream: every message, and the error that stopped it."""

    events: list[Any]
    error: RemoteProtocolError | None


def feed(decoder: Decoder[Any], framing: Framing, chunks: list[bytes]) -> Fed:
    """Feed chunks then EOF, as a reader would; check the buffer bound after every chunk."""
    fed = Fed([], None)
    bound = framing.max_frame_size + header_size(framing)
    for chunk in [*chunks, b""]:
        decoder.receive_data(chunk)
        # The bound the decoder promises: one partial frame plus the chunk being processed...
        assert decoder.buffered <= bound + len(chunk), (decoder, len(chunk))
        # ...and, since every complete frame is cut off at once, only the partial frame is left.
        assert decoder.buffered < bound, decoder
        error: ProtocolError | None = None
        try:
            fed.events += decoder.events()
        except ProtocolError as exc:
            error = exc
        if error is not None:
            # The peer's bytes can only be the peer's fault.
            assert isinstance(error, RemoteProtocolError), repr(error)
            assert fed.error in (None, error), "a decoder reported two different errors"
            fed.error = error
    return fed


# --- (a) round trips ---------------------------------------------------------------------------


def unsendable(framing: Framing, payload: bytes) -> bool:
    """Whether `framing.frame(payload)` must refuse: too large, or the delimiter inside it."""
    if len(payload) > framing.max_frame_size:
        return True
    if isinstance(framing, Delimited):
        return (payload + framing.delimiter).find(framing.delimiter) != len(payload)
    return False


@pytest.mark.parametrize(("framing_name", "codec_name"), PAIRS, ids=PAIR_IDS)
@given(data=st.data())
def test_every_message_decodes_to_itself_through_every_framing_cut_anywhere(
    framing_name: str, codec_name: str, data: st.DataObject
) -> None:
    framing, codec = FRAMINGS[framing_name](None), CODECS[codec_name]
    batch = data.draw(st.lists(MESSAGES[codec_name], max_size=8), label="batch")
    sent: list[Any] = []
    frames: list[bytes] = []
    for message in batch:
        payload = codec.encode(message)
        assert codec.decode(payload) == message
        if unsendable(framing, payload):
            with pytest.raises(LocalProtocolError):
                framing.frame(payload)
            continue
        frames.append(framing.frame(payload))
        sent.append(message)
    stream = b"".join(frames)
    decoder = Decoder(framing, codec)
    fed = feed(decoder, framing, draw_chunks(data, stream))
    assert fed.error is None
    assert fed.events == sent
    assert decoder.buffered == 0
    assert decoder.eof


# --- (b) hostile bytes -------------------------------------------------------------------------


def hostile_stream(data: st.DataObject, framing: Framing, codec_name: str) -> bytes:
    """Draw random bytes, or valid frames cut short, grown, bit-flipped or given a huge header."""
    how = data.draw(st.sampled_from(["random", "truncate", "append", "flip", "insert", "huge"]))
    if how == "random":
        return data.draw(st.binary(max_size=400), label="random")
    codec = CODECS[codec_name]
    frames = bytearray()
    for message in data.draw(st.lists(MESSAGES[codec_name], min_size=1, max_size=4)):
        payload = codec.encode(message)
        if not unsendable(framing, payload):
            frames += framing.frame(payload)
    if how == "truncate":
        del frames[data.draw(st.integers(0, len(frames))) :]
    elif how == "append":
        frames += data.draw(st.binary(min_size=1, max_size=16))
    elif how == "flip" and frames:
        at = data.draw(st.integers(0, len(frames) - 1))
        frames[at] ^= data.draw(st.integers(1, 255))
    elif how == "insert":
        frames.insert(data.draw(st.integers(0, len(frames))), data.draw(st.integers(0, 255)))
    elif how == "huge" and isinstance(framing, LengthPrefixed):
        frames[:0] = b"\xff" * framing.width  # the largest length the header can declare
    return bytes(frames)


@pytest.mark.parametrize(("framing_name", "codec_name"), ALL_PAIRS, ids=ALL_PAIR_IDS)
@pytest.mark.parametrize("limit", [None, SMALL_LIMIT], ids=["default-limit", "small-limit"])
@given(data=st.data())
def test_arbitrary_bytes_cut_anywhere_raise_nothing_but_remote_protocol_errors(
    framing_name: str, codec_name: str, limit: int | None, data: st.DataObject
) -> None:
    framing, codec = FRAMINGS[framing_name](limit), CODECS[codec_name]
    stream = hostile_stream(data, framing, codec_name)
    # feed() lets anything but a ProtocolError out, and checks that one is a RemoteProtocolError.
    fed = feed(Decoder(framing, codec), framing, draw_chunks(data, stream))
    # Each message came from the front of the stream, so framing it again gives those bytes back.
    # The stream is wholly used up exactly when no error stopped the decoder.
    echoed = b"".join(framing.frame(codec.encode(message)) for message in fed.events)
    assert stream.startswith(echoed)
    assert (fed.error is None) == (echoed == stream)


@pytest.mark.parametrize(("framing_name", "codec_name"), ALL_PAIRS, ids=ALL_PAIR_IDS)
@given(data=st.data())
def test_the_same_bytes_cut_differently_give_the_same_messages_and_error(
    framing_name: str, codec_name: str, data: st.DataObject
) -> None:
    framing, codec = FRAMINGS[framing_name](SMALL_LIMIT), CODECS[codec_name]
    stream = hostile_stream(data, framing, codec_name)
    whole = feed(Decoder(framing, codec), framing, [stream] if stream else [])
    cut = feed(Decoder(framing, codec), framing, draw_chunks(data, stream))
    assert cut.events == whole.events
    # Only the class: an unterminated line's size ("at least N bytes") depends on the chunks.
    assert type(cut.error) is type(whole.error)


# --- (c) bounded memory ------------------------------------------------------------------------


@pytest.mark.parametrize(("framing_name", "codec_name"), ALL_PAIRS, ids=ALL_PAIR_IDS)
@given(chunks=st.lists(st.binary(min_size=1, max_size=3 * SMALL_LIMIT), max_size=12))
def test_the_buffer_never_holds_more_than_one_frame_and_one_chunk(
    framing_name: str, codec_name: str, chunks: list[bytes]
) -> None:
    framing = FRAMINGS[framing_name](SMALL_LIMIT)
    feed(Decoder(framing, CODECS[codec_name]), framing, chunks)  # which asserts the bound


def hostile_header(framing: Framing) -> bytes:
    """The largest length the header can declare (4 GiB - 1 for u32), or no delimiter at all."""
    if isinstance(framing, LengthPrefixed):
        return b"\xff" * framing.width
    return b""


def peak_while_feeding(
    framing: Framing, codec: Codec[Any], header: bytes, body: int
) -> tuple[int, Decoder[Any]]:
    """Feed `header` then `body` bytes of b"x" in 64 KiB chunks; return the peak traced bytes."""
    chunk = b"x" * RECV_CHUNK  # allocated before tracing starts: the peer's bytes are not ours
    decoder = Decoder(framing, codec)
    gc.collect()
    tracemalloc.start()
    try:
        if header:
            decoder.receive_data(header)
        for _ in range(body // RECV_CHUNK):
            decoder.receive_data(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, decoder


HOSTILE_WIRES: list[tuple[str, Framing, Codec[Any]]] = [
    ("u32-raw", LengthPrefixed(), RawCodec()),
    ("u32-little-sample", LengthPrefixed(byteorder="little"), SAMPLE_CODEC),
    ("chat-wire", chat.WIRE.framing, chat.WIRE.codec),
    ("u16-raw", LengthPrefixed(width=2, max_frame_size=1000), RawCodec()),
    ("lf-raw", Delimited(), RawCodec()),
    ("crlf-chat", Delimited(b"\r\n", max_frame_size=chat.MAX_FRAME_SIZE), chat.CODEC),
]


@pytest.mark.parametrize(
    ("framing", "codec"),
    [(framing, codec) for _, framing, codec in HOSTILE_WIRES],
    ids=[name for name, _, _ in HOSTILE_WIRES],
)
def test_a_hostile_declared_length_allocates_nothing_beyond_the_header(
    framing: Framing, codec: Codec[Any]
) -> None:
    # A 4 GiB header (or a line that never ends), then 1 MiB of body in 64 KiB chunks.
    peak, decoder = peak_while_feeding(framing, codec, hostile_header(framing), MIB)
    assert decoder.buffered == 0  # refused, and the body after it dropped unbuffered
    with pytest.raises(FrameTooLarge):
        decoder.events()
    # One frame limit (64 KiB at most here) plus one chunk being appended, with slack for
    # bytearray over-allocation; 4 GiB, or even the 1 MiB fed, would be far over.
    assert peak < framing.max_frame_size + 3 * RECV_CHUNK, f"peak {peak} bytes"


def test_a_frame_declared_at_4_gib_and_allowed_holds_only_the_bytes_that_arrived() -> None:
    # With the limit raised to what the header can hold, the decoder must not reserve the
    # declared size up front (construct's parse_stream does: 7 hostile bytes, 512 MiB).
    framing = LengthPrefixed(max_frame_size=0xFFFFFFFF)
    peak, decoder = peak_while_feeding(framing, RawCodec(), b"\xff\xff\xff\xff", MIB)
    assert decoder.buffered == 4 + MIB
    assert decoder.events() == []
    assert peak < 3 * MIB, f"peak {peak} bytes for 1 MiB received"


# --- (d) no super-linear work ------------------------------------------------------------------

# construct classes whose cost grows faster than the input, or whose depth the input chooses
# (docs: FACTS.md, "construct 2.10.70 traps").
TRAPS: dict[type[Any], str] = {
    type(construct.VarInt): "VarInt: quadratic in continuation bytes",
    type(construct.ZigZag): "ZigZag: a VarInt",
    construct.NullTerminated: "CString/NullTerminated: quadratic search for the terminator",
    construct.NullStripped: "NullStripped: scans for padding",
    construct.GreedyRange: "GreedyRange: hostile counts of zero-width elements",
    construct.RepeatUntil: "RepeatUntil: hostile counts of zero-width elements",
    construct.Select: "Select/Optional: re-parses on each alternative, accepts truncation",
    construct.LazyBound: "LazyBound: recursive schema, RecursionError about 200 deep",
}
# Containers allowed once per message: the payload Struct and each message's body Struct.
CONTAINERS = (construct.Struct, construct.Sequence, construct.FocusedSeq)


def subconstructs(node: Any) -> Iterator[Any]:
    """Yield the construct objects held by one construct object's attributes."""
    for value in vars(node).values():
        if isinstance(value, dict):
            items = list(value.values())
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            items = [value]
        yield from (item for item in items if isinstance(item, construct.Construct))


def traps(definition: Any, containers_allowed: int = 1) -> list[str]:
    """Return each trap in a construct tree, and each container nested past the allowed depth."""
    found: list[str] = []
    stack: list[tuple[Any, int, str]] = [(definition, 0, type(definition).__name__)]
    seen: set[int] = set()
    while stack:
        node, depth, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, tuple(TRAPS)):
            found.append(f"{path}: {TRAPS[type(node)]}")
        if isinstance(node, construct.Array) and not isinstance(node.count, int):
            found.append(f"{path}: Array whose count the peer sends")
        if isinstance(node, CONTAINERS):
            depth += 1
            if depth > containers_allowed:
                found.append(f"{path}: {type(node).__name__} nested {depth} deep")
        stack.extend(
            (child, depth, f"{path} -> {type(child).__name__}") for child in subconstructs(node)
        )
    return found


def project_tagged_unions() -> dict[str, TaggedUnion[Any]]:
    """Every module-level TaggedUnion in the protocols package."""
    unions: dict[str, TaggedUnion[Any]] = {}
    for info in pkgutil.walk_packages(protocols.__path__, "protocols."):
        for name, value in vars(import_module(info.name)).items():
            if isinstance(value, TaggedUnion):
                unions[f"{info.name}.{name}"] = value
    return unions


def test_the_project_tagged_unions_are_found() -> None:
    unions = project_tagged_unions().values()
    assert any(union is SAMPLE_CODEC for union in unions)
    assert any(union is chat.CODEC for union in unions)


@pytest.mark.parametrize(("name", "union"), list(project_tagged_unions().items()))
def test_no_tagged_union_uses_a_construct_with_super_linear_or_recursive_parsing(
    name: str, union: TaggedUnion[Any]
) -> None:
    # The payload Struct holds the Switch; each case is a message's body Struct: two levels.
    assert traps(union.format, containers_allowed=2) == [], name


@pytest.mark.parametrize(
    ("definition", "fragment"),
    [
        (construct.Struct("n" / construct.VarInt), "VarInt"),
        (construct.Struct("n" / construct.ZigZag), "ZigZag"),
        (construct.Struct("s" / construct.CString("utf8")), "NullTerminated"),
        (construct.Struct("s" / construct.NullStripped(construct.GreedyBytes)), "NullStripped"),
        (construct.Struct("x" / construct.GreedyRange(construct.Int8ub)), "GreedyRange"),
        (construct.Struct("x" / construct.Optional(construct.Int8ub)), "Select"),
        (construct.Struct("x" / construct.RepeatUntil(lambda *_: True, construct.Byte)), "Repeat"),
        (construct.Struct("x" / construct.LazyBound(lambda: construct.Byte)), "LazyBound"),
        (
            construct.Struct(
                "n" / construct.Int8ub, "x" / construct.Array(construct.this.n, construct.Pass)
            ),
            "Array whose count",
        ),
        (construct.Struct("inner" / construct.Struct("n" / construct.Int8ub)), "nested 2 deep"),
        (
            construct.Struct("s" / construct.PascalString(construct.VarInt, "utf8")),
            "VarInt",
        ),
    ],
)
def test_the_trap_finder_finds_each_trap(definition: Any, fragment: str) -> None:
    assert any(fragment in trap for trap in traps(definition)), traps(definition)


def test_the_trap_finder_passes_fixed_fields_and_length_prefixed_strings() -> None:
    assert traps(construct.Struct("n" / construct.Int32ub, "s" / chat.Str16)) == []


class CountingFraming:
    """A real framing, counting the calls and the bytes each `frame_bounds` call may search."""

    def __init__(self, inner: Framing) -> None:
        self.inner = inner
        self.max_frame_size = inner.max_frame_size
        self.calls = 0
        self.scanned = 0

    def frame(self, payload: bytes) -> bytes:
        return self.inner.frame(payload)

    def frame_bounds(
        self, buffer: bytes | bytearray, start: int, scanned: int
    ) -> tuple[int, int, int] | None:
        self.calls += 1
        if isinstance(self.inner, LengthPrefixed):
            self.scanned += self.inner.width  # one header, read in O(1)
        else:
            # Delimited searches from where it stopped to the end of the buffer (or the limit).
            end = min(len(buffer), start + self.max_frame_size + header_size(self.inner))
            self.scanned += max(0, end - max(start, scanned))
        return self.inner.frame_bounds(buffer, start, scanned)

    def resume_offset(self, buffer: bytes | bytearray, start: int) -> int:
        return self.inner.resume_offset(buffer, start)

    def describe_partial(self, buffer: bytes | bytearray, start: int) -> str:
        return self.inner.describe_partial(buffer, start)


def slowloris(framing: Framing, size: int) -> tuple[CountingFraming, bytes]:
    """Send one frame of `size` payload bytes one byte at a time; return the counts and payload."""
    counter = CountingFraming(framing)
    decoder = Decoder(counter, RawCodec())
    payload = bytes(i % 7 + 0x30 for i in range(size))  # digits: never a delimiter byte
    for byte in framing.frame(payload):
        decoder.receive_data(bytes([byte]))
    assert decoder.events() == [payload]
    return counter, payload


SLOW_FRAMINGS = {
    "u32": LengthPrefixed(max_frame_size=MIB),
    "lf": Delimited(max_frame_size=MIB),
    "crlf": Delimited(b"\r\n", max_frame_size=MIB),
    "boundary": Delimited(b"--boundary--", max_frame_size=MIB),
}


@pytest.mark.parametrize("framing", SLOW_FRAMINGS.values(), ids=list(SLOW_FRAMINGS))
def test_a_frame_arriving_one_byte_at_a_time_is_searched_in_linear_work(framing: Framing) -> None:
    header = header_size(framing)
    small, _ = slowloris(framing, 1000)
    large, _ = slowloris(framing, 8000)
    for counter, size in ((small, 1000), (large, 8000)):
        # One call per byte received, and each searches only the newest delimiter-sized window
        # (a search from the frame's start each time would be size**2 / 2 bytes).
        # (The last byte completes the frame, and the search for a next one finds nothing.)
        assert counter.calls == size + header + 1
        assert counter.scanned <= header * (size + header) + header, counter.scanned
    assert large.scanned <= 8 * small.scanned + 8 * header * header


def seconds_to_feed_slowly(framing: Framing, size: int) -> float:
    """Best of three: feed one frame of `size` payload bytes one byte at a time."""
    stream = framing.frame(b"y" * size)
    chunks = [stream[i : i + 1] for i in range(len(stream))]
    best = float("inf")
    for _ in range(3):
        decoder = Decoder(framing, RawCodec())
        started = time.perf_counter()
        for chunk in chunks:
            decoder.receive_data(chunk)
        best = min(best, time.perf_counter() - started)
        assert decoder.events() == [b"y" * size]
    return best


@pytest.mark.parametrize("framing", SLOW_FRAMINGS.values(), ids=list(SLOW_FRAMINGS))
def test_a_slow_frame_eight_times_longer_takes_about_eight_times_longer(framing: Framing) -> None:
    # Catches quadratic work in the Decoder itself (copying or re-parsing the buffer per chunk),
    # which the counting framing cannot see. Linear work gives a ratio near 8 and quadratic work
    # near 64; 40 leaves room for a shared, noisy 2-core machine (FACTS.md: up to ~2x between runs).
    small = seconds_to_feed_slowly(framing, 10_000)
    large = seconds_to_feed_slowly(framing, 80_000)
    assert large < 40 * small, f"{large:.4f} s for 8x the bytes of {small:.4f} s"
