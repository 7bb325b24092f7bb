# ruff: noqa: INP001 - fuzz/ holds scripts run by path, not a package
"""Fuzz `chat.WIRE`'s decoder: `python fuzz/fuzz_chat.py [libFuzzer flags]`.

Input: one mode byte, then the layout of `_harness.split`: chunk sizes, then the bytes. An even
mode byte sends the bytes as they are (hostile framing and payloads); an odd one frames them as
one payload first, so the fuzzer reaches the codec without having to learn the length header.
Every decoded message must re-encode to the bytes it came from and decode to an equal message.
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]

# Coverage is measured in these modules only.
INSTRUMENTED = ("protocols", "_harness")

with atheris.instrument_imports(include=INSTRUMENTED):
    from _harness import check_decoding, cut, fuzz, split

    from protocols import chat

FRAMING = chat.WIRE.framing
CODEC = chat.WIRE.codec


def test_one_input(data: bytes) -> None:
    """Decode the bytes the input describes, framed by the input or by the target."""
    if not data:
        return
    sizes, stream = split(data[1:])
    if data[0] & 1:
        if len(stream) > FRAMING.max_frame_size:
            return
        stream = FRAMING.frame(stream)
    check_decoding(FRAMING, CODEC, stream, cut(stream, sizes))


if __name__ == "__main__":
    fuzz(test_one_input)
