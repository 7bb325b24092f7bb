# ruff: noqa: INP001 - fuzz/ holds scripts run by path, not a package
"""Fuzz the Decoder's framings with RawCodec: `python fuzz/fuzz_framing.py [libFuzzer flags]`.

Input: one selector byte (which framing and limit), then the layout of `_harness.split`: chunk
sizes, then the stream. See fuzz/README.md.
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]

# Coverage is measured in these modules only.
INSTRUMENTED = ("protocols", "_harness")

with atheris.instrument_imports(include=INSTRUMENTED):
    from _harness import check_decoding, cut, fuzz, split

    from protocols import Delimited, Framing, LengthPrefixed, RawCodec

# Limits from none at all to the default; small ones are hit by short inputs.
LIMITS = (0, 1, 7, 64, None)
DELIMITERS = (b"\n", b"\r\n", b"\x00\x00", b"abab")  # the last two overlap themselves


def _framings() -> list[Framing]:
    framings: list[Framing] = []
    for limit in LIMITS:
        extra = {} if limit is None else {"max_frame_size": limit}
        framings += [
            LengthPrefixed(width=width, byteorder=order, **extra)
            for width in (1, 2, 4)
            for order in ("big", "little")
        ]
        framings += [Delimited(delimiter, **extra) for delimiter in DELIMITERS]
    return framings


FRAMINGS = _framings()
CODEC = RawCodec()


def test_one_input(data: bytes) -> None:
    """Decode the stream the input describes with the framing its first byte picks."""
    if not data:
        return
    framing = FRAMINGS[data[0] % len(FRAMINGS)]
    sizes, stream = split(data[1:])
    check_decoding(framing, CODEC, stream, cut(stream, sizes))


if __name__ == "__main__":
    fuzz(test_one_input)
