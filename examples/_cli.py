"""Command-line plumbing shared by the examples: arguments, logging, serving."""

from __future__ import annotations

import argparse
import logging
import resource
import ssl
from typing import TYPE_CHECKING, Any

import actornet

if TYPE_CHECKING:
    from collections.abc import Sequence

    import protocols

logger = logging.getLogger("examples")

#: The soft file limit asked for when the hard limit is "unlimited": Linux's
#: default fs.nr_open, above which no process may go anyway.
_UNLIMITED_FILES = 1 << 20


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit; return the soft limit now in force.

    Go's runtime does the same at start (since Go 1.19): the soft limit of
    1,024 that many systems start processes with exists for programs using
    select(), which a server on epoll is not. It applies to this process and
    the processes it starts. Logged at DEBUG; a refusal leaves the limit as
    it was.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError) as exc:
        logger.debug("open-file limit left at %d: raising it to %d failed: %s", soft, wanted, exc)
        return soft
    logger.debug("open-file limit raised from %d to %d (the hard limit)", soft, wanted)
    return wanted


def server_limits(args: argparse.Namespace, **limits: Any) -> actornet.Limits:
    """Return `actornet.Limits(**limits)` with --max-connections, if it was given."""
    if args.max_connections is not None:
        limits["max_connections"] = args.max_connections
    return actornet.Limits(**limits)


def add_max_connections(parser: argparse.ArgumentParser, what: str) -> None:
    """Add --max-connections, whose default is `actornet.Limits`'s: it follows the file limit."""
    parser.add_argument(
        "--max-connections",
        type=int,
        default=None,
        help=f"{what} at once; more are accepted and closed (default: what the open-file "
        "limit allows once raised to its hard limit, as actornet.Limits computes it; "
        f"{actornet.Limits().max_connections} under the current soft limit)",
    )


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """Add --tls-cert and --tls-key: with both, the server speaks TLS."""
    parser.add_argument(
        "--tls-cert",
        metavar="FILE",
        default=None,
        help="PEM certificate chain, the server's own first: serve TLS (needs --tls-key)",
    )
    parser.add_argument(
        "--tls-key", metavar="FILE", default=None, help="PEM private key of --tls-cert"
    )


def server_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """Return the server TLS context --tls-cert and --tls-key ask for, or None for plain TCP.

    Raises:
        SystemExit: one option without the other, or files that do not load; the message says
            which and why.
    """
    cert, key = args.tls_cert, args.tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SystemExit("--tls-cert and --tls-key go together: give both to serve TLS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit(
            f"cannot load --tls-cert {cert} with --tls-key {key}: {exc}; both must be PEM "
            "files, the key matching the first certificate"
        ) from exc
    return context


def parse_server_args(
    description: str, argv: Sequence[str] | None, *, default_port: int
) -> argparse.Namespace:
    """Parse --host, --port, --max-frame-size and --log-level."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=default_port, help="port to bind; 0 picks one")
    add_max_connections(parser, "connections held")
    add_tls_options(parser)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser.parse_args(argv)


def serve(
    session_class: type[actornet.Session[Any]],
    wire: protocols.WireProtocol[Any],
    args: argparse.Namespace,
    **serve_kwargs: Any,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully.

    Log lines go to stderr through `actornet.log_to_stream()`, so a stderr
    nobody reads drops lines instead of stopping the server. The open-file
    limit is raised to the hard limit first (`raise_file_limit()`), so the
    default `Limits.max_connections` follows the raised limit.
    """
    context = server_ssl_context(args)
    with actornet.log_to_stream(level=args.log_level):
        raise_file_limit()
        limits = server_limits(args)
        server = actornet.serve_tcp(
            session_class,
            wire,
            host=args.host,
            port=args.port,
            limits=limits,
            ssl=context,
            **serve_kwargs,
        )
        # The port line is for people and scripts alike (port 0 picks one);
        # printed once SIGTERM is handled, so a script may send it at once.
        tls = " (TLS)" if context is not None else ""
        server.serve_forever(
            on_ready=lambda: print(f"listening on {args.host}:{server.port}{tls}", flush=True)
        )
