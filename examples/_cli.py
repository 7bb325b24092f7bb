"""Command-line plumbing shared by the examples: arguments, logging, serving."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import actornet

if TYPE_CHECKING:
    from collections.abc import Sequence

    import protocols


def parse_server_args(
    description: str, argv: Sequence[str] | None, *, default_port: int
) -> argparse.Namespace:
    """Parse --host, --port, --max-frame-size and --log-level."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=default_port, help="port to bind; 0 picks one")
    parser.add_argument(
        "--max-connections",
        type=int,
        default=actornet.Limits().max_connections,
        help="connections held at once; more are accepted and closed",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser.parse_args(argv)


def serve(
    session_class: type[actornet.Session[Any]],
    wire: protocols.Wire[Any],
    args: argparse.Namespace,
    **serve_kwargs: Any,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully.

    Log lines go to stderr through `actornet.log_to_stream()`, so a stderr
    nobody reads drops lines instead of stopping the server.
    """
    with actornet.log_to_stream(level=args.log_level):
        limits = actornet.Limits(max_connections=args.max_connections)
        server = actornet.serve_tcp(
            session_class, wire, host=args.host, port=args.port, limits=limits, **serve_kwargs
        )
        # The port line is for people and scripts alike (port 0 picks one).
        print(f"listening on {args.host}:{server.port}", flush=True)
        server.serve_forever()
