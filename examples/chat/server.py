"""`python -m examples.chat serve`: the chat server on its defaults."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING, Any

import actornet
import protocols.irc
from examples._cli import (
    add_max_connections,
    add_tls_options,
    raise_file_limit,
    server_limits,
    server_ssl_context,
)
from examples.chat import irc, metrics, workers
from examples.chat.backplane import DEFAULT_LEASE, Backplane, InProcessBackplane
from examples.chat.binary import IDLE_TIMEOUT, BinaryChatSession
from examples.chat.browser import BrowserChatSession, browser_wire
from examples.chat.directory import ChatStatistics, Directory
from examples.chat.limits import (
    DEFAULT_HISTORY_BYTES,
    DEFAULT_HISTORY_LINES,
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_ROOMS,
    DEFAULT_MAX_ROOMS_PER_USER,
    DEFAULT_TOTAL_HISTORY_BYTES,
    ChatLimits,
)
from examples.chat.pages import Pages
from examples.chat.rate import RATE_PER_SECOND
from protocols import chat

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

#: The chat's documented port.
DEFAULT_PORT = 7070
#: The browser door's port: the page, /chat (WebSocket) and /metrics.
DEFAULT_HTTP_PORT = 8080
#: The IRC door's port: IRC's usual one.
DEFAULT_IRC_PORT = 6667
#: Seconds between statistics log lines.
DEFAULT_STATS_INTERVAL = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the server's options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="binary door's port; 0 picks a free one"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=DEFAULT_HTTP_PORT,
        help=f"browser door's port (the page, /chat, /metrics; default {DEFAULT_HTTP_PORT}); "
        "0 picks a free one",
    )
    parser.add_argument(
        "--irc-port",
        type=int,
        default=DEFAULT_IRC_PORT,
        help=f"IRC door's port (default {DEFAULT_IRC_PORT}); 0 picks a free one",
    )
    parser.add_argument(
        "--server-name",
        default=irc.SERVER_NAME,
        metavar="NAME",
        help=f"the server's name: the prefix of the IRC door's own messages and the server "
        f"of Welcome (default {irc.SERVER_NAME})",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="accept WebSockets only from pages of this origin, e.g. https://chat.example.com "
        "(repeatable; default: any origin)",
    )
    add_max_connections(parser, "clients")
    add_tls_options(parser)  # every door: TLS on the binary port, ircs, https and wss
    workers.add_arguments(parser)  # --workers N: N processes on the same ports
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=DEFAULT_STATS_INTERVAL,
        help="seconds between statistics log lines; 0 turns them off",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT,
        metavar="SECONDS",
        help=f"disconnect clients silent this long (default {IDLE_TIMEOUT:g}); "
        "the server pings every 30 s, so live clients always answer",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=RATE_PER_SECOND,
        metavar="PER_SECOND",
        help=f"commands per second per client after a burst (default {RATE_PER_SECOND:g}); "
        "0 turns limiting off",
    )
    _add_chat_limits(parser)
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share rooms, nicks and history with every chat process on this Redis, "
        "e.g. redis://127.0.0.1:6379/0 (default: rooms live in this process alone)",
    )
    parser.add_argument(
        "--redis-lease",
        type=float,
        default=DEFAULT_LEASE,
        metavar="SECONDS",
        help="with --redis: how long a stopped process's nicks and memberships outlive it "
        f"(default {DEFAULT_LEASE:g})",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )


def _add_chat_limits(parser: argparse.ArgumentParser) -> None:
    """Add an option per `ChatLimits` field; docs/robustness.md says what they add up to."""
    option = _limit_option(parser)
    option(
        "--max-rooms-per-user", DEFAULT_MAX_ROOMS_PER_USER, "ROOMS", "rooms one client may be in"
    )
    option(
        "--max-rooms",
        DEFAULT_MAX_ROOMS,
        "ROOMS",
        "rooms on the server; a join that would create another is refused",
    )
    option(
        "--max-members",
        DEFAULT_MAX_MEMBERS,
        "MEMBERS",
        "members of one room; the next join is refused",
    )
    option(
        "--history-lines",
        DEFAULT_HISTORY_LINES,
        "LINES",
        "messages a room keeps and replays on join",
        least=0,
    )
    option(
        "--history-bytes",
        DEFAULT_HISTORY_BYTES,
        "BYTES",
        "bytes of history (nicks and texts, UTF-8) a room keeps; the oldest lines go first",
        least=0,
    )
    option(
        "--total-history-bytes",
        DEFAULT_TOTAL_HISTORY_BYTES,
        "BYTES",
        "bytes of history all rooms keep together; with many rooms each keeps less",
        least=0,
    )


def _limit_option(parser: argparse.ArgumentParser) -> Callable[..., None]:
    def option(name: str, default: int, metavar: str, what: str, *, least: int = 1) -> None:
        parser.add_argument(
            name,
            type=_at_least(least),
            default=default,
            metavar=metavar,
            help=f"{what} (default {default:,})",
        )

    return option


def _at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its error
    return parse


def limits_from(args: argparse.Namespace) -> ChatLimits:
    """Return the chat's limits given on the command line."""
    return ChatLimits(
        max_rooms_per_user=args.max_rooms_per_user,
        max_rooms=args.max_rooms,
        max_members=args.max_members,
        history_lines=args.history_lines,
        history_bytes=args.history_bytes,
        total_history_bytes=args.total_history_bytes,
    )


def main(args: argparse.Namespace) -> None:
    """Serve the chat until SIGINT or SIGTERM, then shut down gracefully.

    Log lines go to stderr through `actornet.log_to_stream()`, so a stderr
    nobody reads drops lines instead of stopping the server. The open-file
    limit is raised to the hard limit first, so the default connection limit
    follows it. With `--workers` above 1 this process supervises that many
    worker processes instead (`examples.chat.workers`); a worker also shuts
    down when its supervisor is gone.
    """
    context = server_ssl_context(args)
    with actornet.log_to_stream(level=args.log_level):
        raise_file_limit()
        if (count := workers.worker_count(args)) > 1:
            workers.supervise(args, count)
            return
        if workers.is_worker(args):
            workers.watch_supervisor()
        _serve(args, context)


def backplane_from(args: argparse.Namespace, limits: ChatLimits) -> Backplane:
    """Return the backplane the command line asks for: Redis with `--redis`, else none."""
    if not args.redis:
        return InProcessBackplane()
    from examples.chat.redis_backplane import RedisBackplane  # noqa: PLC0415 - redis-py is optional

    if args.redis_lease <= 0:
        raise SystemExit(f"--redis-lease must be more than 0 seconds, not {args.redis_lease:g}")
    try:
        return RedisBackplane(
            args.redis, lease=args.redis_lease, history_lines=limits.history_lines
        )
    except ValueError as exc:
        raise SystemExit(
            f"--redis {args.redis!r} is not a Redis URL ({exc}); "
            "give one like redis://127.0.0.1:6379/0"
        ) from exc


def _serve(args: argparse.Namespace, context: ssl.SSLContext | None) -> None:
    doors: dict[str, actornet.Server[Any]] = {}
    figures = ChatStatistics()
    bounds = limits_from(args)
    backplane = backplane_from(args, bounds)
    directory = Directory.start(
        stats_interval=args.stats_interval or None,
        connection_count=lambda: sum(door.connection_count() for door in doors.values()),
        stats=figures,
        limits=bounds,
        backplane=backplane,
    )
    backplane.start(directory)
    limits = server_limits(args, idle_timeout=args.idle_timeout)
    chat_metrics = metrics.ChatMetrics(doors, figures)
    pages = Pages(metrics=(chat_metrics.page, metrics.CONTENT_TYPE))
    try:
        with contextlib.ExitStack() as stack:
            # Every door serves the same chat: the same directory, rate and bounds.
            common = {
                "host": args.host,
                "limits": limits,
                "session_args": (directory, args.rate_limit),
                "ssl": context,
                # A supervisor's workers all listen on its ports.
                "reuse_port": workers.is_worker(args),
            }
            binary = doors["binary"] = _open_door(
                stack,
                BinaryChatSession,
                chat.WIRE,
                name="binary",
                option="--port",
                port=args.port,
                session_kwargs={"limits": bounds, "server_name": args.server_name},
                **common,
            )
            browser = doors["browser"] = _open_door(
                stack,
                BrowserChatSession,
                browser_wire(http_handler=pages, allowed_origins=args.allowed_origin),
                name="browser",
                option="--http-port",
                port=args.http_port,
                session_kwargs={"limits": bounds, "server_name": args.server_name},
                **common,
            )
            irc_door = doors["irc"] = _open_door(
                stack,
                irc.IrcChatSession,
                protocols.irc.WIRE,
                name="IRC",
                option="--irc-port",
                port=args.irc_port,
                session_kwargs={"limits": bounds, "server_name": args.server_name},
                **common,
            )
            # The binary door's port comes last, where scripts have read it from.
            tls, scheme = (" (TLS)", "https") if context is not None else ("", "http")
            rooms = backplane.description
            if not backplane.shared and workers.is_worker(args):
                rooms = "in each worker process"  # a supervisor prints its first worker's line
            line = (
                f"chat server listening{tls} with rooms {rooms}: browser on "
                f"{scheme}://{_url_host(args.host)}:{browser.port}/, "
                f"IRC on {args.host}:{irc_door.port}, binary on {args.host}:{binary.port}"
            )
            binary.serve_forever(on_ready=lambda: print(line, flush=True))
    finally:
        directory.stop()
        backplane.stop()


def _open_door(  # noqa: PLR0913 - the door's name and option, then serve_tcp()'s arguments
    stack: contextlib.ExitStack,
    session_class: type[actornet.Session[Any]],
    wire: protocols.WireProtocol[Any],
    *,
    name: str,
    option: str,
    port: int,
    **serve: Any,
) -> actornet.Server[Any]:
    """Serve one door until `stack` closes; a failure to listen names the door and the option."""
    try:
        server = actornet.serve_tcp(session_class, wire, port=port, **serve)
    except OSError as exc:
        raise SystemExit(
            f"cannot open the {name} door on {serve['host']}:{port}: {exc.strerror or exc}; "
            f"pick another port with {option} (0 picks a free one)"
        ) from exc
    return stack.enter_context(server)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
