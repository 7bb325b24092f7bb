"""The browser client's codec (examples/chat/web/codec.js) against protocols.chat, in Chromium.

The page's codec must produce exactly the payloads `chat.CODEC` produces (a
WebSocket message is one payload, without the 4-byte length prefix), decode
every payload `chat.CODEC` builds to the same message, and refuse what
`chat.CODEC` refuses. One headless Chromium runs the whole module; messages
cross into the page as plain objects (u64 values as `{"$bigint": "..."}`, as
JSON has no 64-bit integers) and payloads as hex.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _browser import WEB_DIR
from construct import Int8ub, Int16ub, Int32ub, Int64ub  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import LocalProtocolError, RemoteProtocolError, chat

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

CODEC_JS = WEB_DIR / "codec.js"
SPEC = (Path(__file__).resolve().parents[2] / "docs" / "chat-protocol.md").read_text("utf-8")
EXAMPLE = re.compile(r"^Example: (?P<expression>.+)\n\n```hex\n(?P<hex>[^`]*?)\n```$", re.MULTILINE)

# Helpers run in the page: JSON-able values in, JSON-able values out, errors as values.
HELPERS = r"""
(() => {
  const C = window.ActornetChatCodec;
  const revive = (message) => Object.fromEntries(Object.entries(message).map(([k, v]) =>
    [k, v !== null && typeof v === "object" && "$bigint" in v ? BigInt(v.$bigint) : v]));
  const plain = (message) => Object.fromEntries(Object.entries(message).map(([k, v]) =>
    [k, typeof v === "bigint" ? {$bigint: v.toString()} : v]));
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const unhex = (text) => Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16));
  const attempt = (f) => {
    try { return {ok: f()}; } catch (e) { return {error: e.name, message: String(e.message)}; }
  };
  window.encodeAll = (messages) => messages.map((m) => attempt(() => hex(C.encode(revive(m)))));
  window.decodeAll = (payloads) => payloads.map((p) => attempt(() => plain(C.decode(unhex(p)))));
})();
"""


def tag_name(cls: type[Any]) -> str:
    """`SetNick` -> `SET_NICK`: the Tag member of a message class."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).upper()


CLASSES: list[type[Any]] = list(typing.get_args(chat.ChatMessage))
WIRE_TYPES = {Int8ub: "u8", Int16ub: "u16", Int32ub: "u32", Int64ub: "u64"}


def layout(cls: type[Any]) -> list[tuple[str, str]]:
    """(field, JS codec type) of `cls` in wire order, read from its construct definition."""
    body = chat.CODEC.format.subcons[1].subcon.cases[tag_name(cls)]
    out = []
    for sub in body.subcons:
        if sub.subcon is chat.Str8:
            out.append((sub.name, "str8"))
        elif sub.subcon is chat.Str16:
            out.append((sub.name, "str16"))
        else:
            out.append((sub.name, WIRE_TYPES[sub.subcon]))
    return out


LAYOUTS = {cls: layout(cls) for cls in CLASSES}
BY_NAME = {cls.__name__: cls for cls in CLASSES}


def to_js(message: chat.ChatMessage) -> dict[str, Any]:
    """The plain object the page's codec takes for `message`."""
    out: dict[str, Any] = {"type": type(message).__name__}
    for name, kind in LAYOUTS[type(message)]:
        value = getattr(message, name)
        out[name] = {"$bigint": str(value)} if kind == "u64" else value
    return out


def from_js(obj: dict[str, Any]) -> chat.ChatMessage:
    """The message a plain object from the page's decoder stands for, checking its types."""
    cls = BY_NAME[obj["type"]]
    fields: dict[str, Any] = {}
    for name, kind in LAYOUTS[cls]:
        value = obj[name]
        if kind == "u64":
            assert isinstance(value, dict), f"{cls.__name__}.{name} is not a BigInt: {value!r}"
            fields[name] = int(value["$bigint"])
        elif kind.startswith("str"):
            assert isinstance(value, str), f"{cls.__name__}.{name}: {value!r}"
            fields[name] = value
        else:
            assert isinstance(value, int), f"{cls.__name__}.{name}: {value!r}"
            fields[name] = value
    assert set(obj) == {"type", *fields}, f"unexpected keys in {obj!r}"
    message: chat.ChatMessage = cls(**fields)
    return message


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """A blank page holding codec.js and the helpers."""
    page = browser.new_page()
    page.add_script_tag(path=str(CODEC_JS))
    page.evaluate(HELPERS)
    yield page
    page.close()


def js_encode(page: Page, messages: list[chat.ChatMessage]) -> list[bytes]:
    results = page.evaluate("encodeAll", [to_js(message) for message in messages])
    out = []
    for message, result in zip(messages, results, strict=True):
        assert "ok" in result, f"codec.js cannot encode {message!r}: {result}"
        out.append(bytes.fromhex(result["ok"]))
    return out


def js_decode(page: Page, payloads: list[bytes]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = page.evaluate("decodeAll", [p.hex() for p in payloads])
    return results


def check_both_ways(page: Page, messages: list[chat.ChatMessage]) -> None:
    """codec.js encodes each message to chat.CODEC's payload and decodes that payload back."""
    expected = [chat.CODEC.encode(message) for message in messages]
    for message, want, got in zip(messages, expected, js_encode(page, messages), strict=True):
        assert got == want, f"{message!r}: codec.js {got.hex(' ')}, protocols.chat {want.hex(' ')}"
    for message, payload, result in zip(messages, expected, js_decode(page, expected), strict=True):
        assert "ok" in result, f"codec.js cannot decode {payload.hex(' ')} ({message!r}): {result}"
        assert from_js(result["ok"]) == message


def check_refused(page: Page, payloads: list[bytes]) -> None:
    """chat.CODEC refuses each payload, and codec.js refuses it with a CodecError."""
    for payload in payloads:
        with pytest.raises(RemoteProtocolError):
            chat.CODEC.decode(payload)
    for payload, result in zip(payloads, js_decode(page, payloads), strict=True):
        assert result.get("error") == "CodecError", f"{payload.hex(' ')}: {result}"
        assert result["message"], payload.hex(" ")


# --- what the codec knows ----------------------------------------------------------------------


def test_the_js_message_table_is_the_python_one(page: Page) -> None:
    table = page.evaluate("ActornetChatCodec.MESSAGES")
    expected = [
        [chat.Tag[tag_name(cls)].value, cls.__name__, [list(f) for f in LAYOUTS[cls]]]
        for cls in CLASSES
    ]
    assert sorted(table) == sorted(expected)


def test_the_js_constants_are_the_python_ones(page: Page) -> None:
    codes = page.evaluate("ActornetChatCodec.ERROR_CODES")
    assert {int(code): name for code, name in codes.items()} == {
        code.value: code.name for code in chat.ErrorCode
    }
    assert page.evaluate("ActornetChatCodec.PROTOCOL_VERSION") == chat.PROTOCOL_VERSION
    assert page.evaluate("ActornetChatCodec.MAX_PAYLOAD_SIZE") == chat.MAX_FRAME_SIZE
    fatal = page.evaluate("[...ActornetChatCodec.FATAL_ERRORS]")
    assert sorted(fatal) == [1, 2, 3, 4]
    directions = page.evaluate(
        "(names) => names.map((n) => ActornetChatCodec.isServerMessage(n))",
        [cls.__name__ for cls in CLASSES],
    )
    assert directions == [cls in typing.get_args(chat.ServerMessage) for cls in CLASSES]


# --- messages both ways ------------------------------------------------------------------------


def test_every_spec_example_encodes_and_decodes_as_documented(page: Page) -> None:
    examples = [(match["expression"], match["hex"]) for match in EXAMPLE.finditer(SPEC)]
    assert len(examples) >= len(CLASSES)
    messages: list[chat.ChatMessage] = [
        eval(expression, {**vars(chat), "__builtins__": {}}) for expression, _ in examples
    ]
    check_both_ways(page, messages)
    payloads = [bytes.fromhex(block)[4:] for _, block in examples]  # without the length prefix
    assert js_encode(page, messages) == payloads
    assert {type(message) for message in messages} == set(CLASSES)


STR8_MAX = "é" * 127 + "a"  # 255 bytes of UTF-8 in 128 characters
STR16_MAX = "€" * 21845  # 65535 bytes in 21845 characters
ODD_TEXT = [
    "",
    "café ☕",
    "😀 𝄞 astral",
    "\ufeffleading byte order mark",
    "nul \x00 inside",
    "e\u0301 combining",
    "مرحبا RTL",
    "<b>not &amp; html</b>",
]
TIMES = [0, 1, 1_700_000_000_000, 2**53 - 1, 2**53, 2**53 + 1, 2**63, 2**64 - 1]


def edge_messages() -> list[chat.ChatMessage]:
    """For each message: every field at its extremes, and odd text in each string field."""
    messages: list[chat.ChatMessage] = []
    for cls in CLASSES:
        fields = LAYOUTS[cls]
        lows = {"str8": "", "str16": "", "u8": 0, "u16": 0, "u32": 0, "u64": 0}
        highs = {
            "str8": STR8_MAX,
            "str16": STR16_MAX,
            "u8": 255,
            "u16": 65535,
            "u32": 2**32 - 1,
            "u64": 2**64 - 1,
        }
        messages.append(cls(**{name: lows[kind] for name, kind in fields}))
        messages.append(cls(**{name: highs[kind] for name, kind in fields}))
        for text in ODD_TEXT:
            values = {name: text if kind.startswith("str") else 1 for name, kind in fields}
            messages.append(cls(**values))
        for time_ms in TIMES:
            if any(kind == "u64" for _, kind in fields):
                values = {name: "x" if kind.startswith("str") else 7 for name, kind in fields}
                messages.append(cls(**(values | {"time_ms": time_ms})))
    return messages


def test_edge_values_encode_and_decode_exactly(page: Page) -> None:
    check_both_ways(page, edge_messages())


def test_u64_times_above_2_53_stay_exact_bigints(page: Page) -> None:
    payload = chat.CODEC.encode(chat.Said(room="#a", nick="b", text="c", time_ms=2**53 + 1))
    result = page.evaluate(
        "(hex) => { const m = ActornetChatCodec.decode(Uint8Array.from("
        "hex.match(/../g), (h) => parseInt(h, 16)));"
        " return [typeof m.time_ms, m.time_ms.toString()]; }",
        payload.hex(),
    )
    assert result == ["bigint", str(2**53 + 1)]


def field_values(kind: str) -> st.SearchStrategy[Any]:
    if kind == "str8":
        return st.text(max_size=63)  # at most 4 bytes a character: 252 bytes
    if kind == "str16":
        return st.text(max_size=300)
    bits = {"u8": 8, "u16": 16, "u32": 32, "u64": 64}[kind]
    return st.integers(0, 2**bits - 1)


ANY_MESSAGE = st.one_of(
    *(
        st.builds(cls, **{name: field_values(kind) for name, kind in LAYOUTS[cls]})
        for cls in CLASSES
    )
)


@settings(max_examples=60)
@given(st.lists(ANY_MESSAGE, min_size=1, max_size=30))
def test_any_messages_encode_and_decode_as_protocols_chat_does(
    page: Page, messages: list[chat.ChatMessage]
) -> None:
    check_both_ways(page, messages)


# --- refusals ----------------------------------------------------------------------------------


def sample(cls: type[Any]) -> chat.ChatMessage:
    """A message with every string non-empty and non-ASCII, so a cut can land inside each."""
    message: chat.ChatMessage = cls(
        **{name: "aé" if kind.startswith("str") else 1 for name, kind in LAYOUTS[cls]}
    )
    return message


def test_an_empty_payload_is_refused(page: Page) -> None:
    check_refused(page, [b""])


def test_every_truncated_payload_is_refused(page: Page) -> None:
    payloads = []
    for cls in CLASSES:
        whole = chat.CODEC.encode(sample(cls))
        payloads += [whole[:cut] for cut in range(1, len(whole))]
    check_refused(page, payloads)


def test_trailing_bytes_are_refused(page: Page) -> None:
    payloads = []
    for cls in CLASSES:
        whole = chat.CODEC.encode(sample(cls))
        payloads += [whole + b"\x00", whole + b"\xff\xff\xff\xff"]
    check_refused(page, payloads)


def test_every_unknown_tag_is_refused(page: Page) -> None:
    known = {tag.value for tag in chat.Tag}
    unknown = [value for value in range(256) if value not in known]
    check_refused(page, [bytes([value]) for value in unknown])
    check_refused(page, [bytes([value]) + b"\x00" * 12 for value in unknown])
    messages = page.evaluate(
        "() => { try { ActornetChatCodec.decode([0x92]); } catch (e) { return e.message; } }"
    )
    assert "0x92" in messages


INVALID_UTF8 = [
    b"\xc0\x80",  # overlong NUL
    b"\xe0\x80\xaf",  # overlong '/'
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xc1\xbf",
    b"\xf5\x80\x80\x80",
    b"\xff",
    b"\x80",  # stray continuation byte
    b"ab\xe2\x98",  # cut short by the length prefix
    b"\xf0\x9f\x98",
]


def valid_field(kind: str) -> bytes:
    """One valid field of `kind`: "a" for a string, 1 for an integer."""
    if kind == "str8":
        return b"\x01a"
    if kind == "str16":
        return b"\x00\x01a"
    return (1).to_bytes({"u8": 1, "u16": 2, "u32": 4, "u64": 8}[kind], "big")


def test_invalid_utf8_in_each_string_field_is_refused(page: Page) -> None:
    payloads = []
    for cls in CLASSES:
        tag = bytes([chat.Tag[tag_name(cls)].value])
        fields = LAYOUTS[cls]
        for index, (_, kind) in enumerate(fields):
            if not kind.startswith("str"):
                continue
            for bad in INVALID_UTF8:
                bad_field = len(bad).to_bytes(1 if kind == "str8" else 2, "big") + bad
                body = [
                    bad_field if i == index else valid_field(k) for i, (_, k) in enumerate(fields)
                ]
                payloads.append(tag + b"".join(body))
    check_refused(page, payloads)


BAD_MESSAGES: list[tuple[dict[str, Any], chat.ChatMessage | None]] = [
    ({"type": "Join", "room": "a" * 256}, chat.Join(room="a" * 256)),
    ({"type": "Join", "room": "é" * 128}, chat.Join(room="é" * 128)),
    ({"type": "Say", "room": "#a", "text": "x" * 65536}, chat.Say(room="#a", text="x" * 65536)),
    ({"type": "Say", "room": "#a", "text": "lone \ud800"}, chat.Say(room="#a", text="lone \ud800")),
    ({"type": "Say", "room": "#a", "text": "\udc00"}, chat.Say(room="#a", text="\udc00")),
    ({"type": "Hello", "version": 256, "nick": "a"}, chat.Hello(version=256, nick="a")),
    ({"type": "Ping", "token": -1}, chat.Ping(token=-1)),
    ({"type": "Ping", "token": 2**32}, chat.Ping(token=2**32)),
    (
        {"type": "Said", "room": "", "nick": "", "text": "", "time_ms": {"$bigint": str(2**64)}},
        chat.Said(room="", nick="", text="", time_ms=2**64),
    ),
    ({"type": "Ping", "token": 1.5}, None),
    ({"type": "Ping", "token": "1"}, None),
    ({"type": "Ping"}, None),
    ({"type": "Say", "room": "#a"}, None),
    ({"type": "Join", "room": 5}, None),
    ({"type": "Shout", "text": "hi"}, None),
    ({"room": "#a"}, None),
]


def test_messages_that_cannot_be_encoded_are_refused(page: Page) -> None:
    for _, python in BAD_MESSAGES:
        if python is not None:
            with pytest.raises(LocalProtocolError):
                chat.CODEC.encode(python)
    results = page.evaluate("encodeAll", [js for js, _ in BAD_MESSAGES])
    for (js, _), result in zip(BAD_MESSAGES, results, strict=True):
        assert result.get("error") == "CodecError", f"{js!r}: {result}"


def test_decode_takes_an_array_buffer_a_uint8array_or_an_array(page: Page) -> None:
    payload = list(chat.CODEC.encode(chat.Notice(text="hi")))
    kinds = page.evaluate(
        """(bytes) => {
          const C = ActornetChatCodec, u8 = Uint8Array.from(bytes);
          const padded = new Uint8Array(bytes.length + 2); padded.set(bytes, 1);
          return [C.decode(u8.buffer), C.decode(u8), C.decode(bytes),
                  C.decode(padded.subarray(1, 1 + bytes.length))].map((m) => m.text);
        }""",
        payload,
    )
    assert kinds == ["hi"] * 4
