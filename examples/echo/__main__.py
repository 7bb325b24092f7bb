"""Echo server: sends every frame back to its sender, unchanged.

Run: python -m examples.echo [--port 7007] [--host 127.0.0.1] [--tls-cert FILE --tls-key FILE]

Wire format: 4-byte big-endian payload length, then the payload; frames up to
1 MiB. A larger declared length closes that connection. Outside load tools can
measure it against any other server speaking the same framing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import actornet
import protocols
from examples._cli import parse_server_args, serve

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Largest payload accepted: 1 MiB.
MAX_FRAME_SIZE = 1024 * 1024

#: 4-byte big-endian length + payload, raw bytes in and out.
WIRE = protocols.Wire(
    protocols.LengthPrefixed(width=4, byteorder="big", max_frame_size=MAX_FRAME_SIZE),
    protocols.RawCodec(),
)

DEFAULT_PORT = 7007


class EchoSession(actornet.Session[bytes]):
    """Sends each received payload straight back."""

    def on_event(self, event: bytes) -> None:
        """Echo the payload."""
        self.send(event)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve echo until interrupted."""
    args = parse_server_args("Echo every frame back.", argv, default_port=DEFAULT_PORT)
    serve(EchoSession, WIRE, args)


if __name__ == "__main__":
    main()
