# ruff: noqa: INP001 - fuzz/ holds scripts run by path, not a package
"""Write a seed corpus of valid streams for each target: `python fuzz/seeds.py fuzz/corpus`.

Fuzzing starts faster from valid frames: libFuzzer mutates them into near-misses (a length off by
one, a cut string, a flipped tag) that random bytes rarely reach. Each target gets a folder:
`<dir>/framing`, `<dir>/chat`, `<dir>/sample`. Existing files are kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import typing
from pathlib import Path

import fuzz_chat
import fuzz_framing
import fuzz_sample

from protocols import ProtocolError, chat
from protocols._sample import SampleHello, SampleMessage, SamplePost

# _harness.split layouts: one chunk; chunks of 1 byte; chunks of 3 and 7 bytes in turn.
CHUNKINGS = (b"\x00", b"\x01\x00", b"\x02\x02\x06")


def _example(cls: type[typing.Any]) -> typing.Any:
    hints = typing.get_type_hints(cls)
    values = {int: 1, str: "a\u00e9"}
    return cls(**{field.name: values[hints[field.name]] for field in dataclasses.fields(cls)})


def seeds() -> dict[str, list[bytes]]:
    """Return the seed inputs of each target, by target name."""
    corpus: dict[str, list[bytes]] = {"framing": [], "chat": [], "sample": []}
    payloads = [b"", b"hello", b"x" * 100, bytes(range(256))]
    for index, framing in enumerate(fuzz_framing.FRAMINGS):
        stream = b""
        for payload in payloads:
            try:
                stream += framing.frame(payload)
            except ProtocolError:
                continue  # over this framing's limit, or holds its delimiter
        corpus["framing"] += [bytes([index]) + chunking + stream for chunking in CHUNKINGS]
    messages = [_example(cls) for cls in typing.get_args(chat.ChatMessage)]
    for message in messages:
        payload = fuzz_chat.CODEC.encode(message)
        corpus["chat"] += [b"\x01\x00" + payload, b"\x00\x00" + fuzz_chat.FRAMING.frame(payload)]
    stream = b"".join(fuzz_chat.FRAMING.frame(fuzz_chat.CODEC.encode(m)) for m in messages)
    corpus["chat"] += [b"\x00" + chunking + stream for chunking in CHUNKINGS]
    samples: list[SampleMessage] = [
        SampleHello(name="a\u00e9"),
        SamplePost(room="lobby", text="hi", seq=42),
    ]
    for mode, framing in enumerate(fuzz_sample.FRAMINGS):
        payloads = [fuzz_sample.CODEC.encode(message) for message in samples]
        corpus["sample"] += [bytes([mode << 1 | 1, 0]) + payload for payload in payloads]
        stream = b"".join(framing.frame(payload) for payload in payloads)
        corpus["sample"] += [bytes([mode << 1]) + chunking + stream for chunking in CHUNKINGS]
    return corpus


def main(argv: list[str]) -> int:
    """Write the seeds under the folder named by the one argument."""
    if len(argv) != 1:
        sys.stderr.write("usage: python fuzz/seeds.py CORPUS_DIR\n")
        return 2
    for target, inputs in seeds().items():
        folder = Path(argv[0]) / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / f"seed-{hashlib.sha1(data).hexdigest()}").write_bytes(data)  # noqa: S324
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
