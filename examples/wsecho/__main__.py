"""WebSocket echo server: sends every message back to its sender, with its type.

Run: python -m examples.wsecho [--port 7008] [--host 127.0.0.1] [--tls-cert FILE --tls-key FILE]

Accepts the upgrade on any path, with no subprotocol required, and negotiates
permessage-deflate when the client offers it. Text comes back as text and
binary as binary, up to 1 MiB a message (larger ones close with 1009). This is
the server outside conformance suites and load tools are pointed at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import actornet
from examples._cli import parse_server_args, serve
from protocols import websocket

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Any path, any origin, no subprotocol, compression if asked for.
WIRE = websocket.WebSocketServer()

DEFAULT_PORT = 7008


class WebSocketEchoSession(actornet.Session[str | bytes]):
    """Sends each received message straight back."""

    def on_event(self, event: str | bytes) -> None:
        """Echo the message: a str as text, bytes as binary."""
        self.send(event)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the echo until interrupted."""
    args = parse_server_args(
        "Echo every WebSocket message back.", argv, default_port=DEFAULT_PORT
    )
    serve(WebSocketEchoSession, WIRE, args)


if __name__ == "__main__":
    main()
