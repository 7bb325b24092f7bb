"""Chat server: actornet's examples.chat against an asyncio relay speaking the same protocol.

Both servers speak protocols.chat. The actornet side is the example chat
server (`python -m examples.chat serve`); the baseline is
bench/peers/asyncio_chat.py (asyncio streams, a task per connection,
`readexactly()` per frame, each Said built once and written to every member).
Each runs in its own process pinned to core 0; the load is bench/loadgen.c's
`chat` mode (one epoll thread, compiled on first use) pinned to core 1:

* 100 clients send Hello and Join #bench; once all are in the room, 10 of them
  send 64-byte Says, at most 64 outstanding each (counted by their own echoes);
* every client parses every frame, counts each Said as a delivery, takes its
  latency from the send time inside the text, and checks each sender's order.

Measured in the same runs, each the median of --repeat, alternating servers:
deliveries per second and delivery latency p50 and p99.

The chat server limits every client to a burst of 20 commands and 10 a second
(examples/chat/rate.py), which would cap each sender at 10 Says a second. The
benchmark passes `--rate-limit 0` to the server when `serve --help` offers that
option. When it does not, both servers run with the chat's limit, and the table
says so: those figures measure the limiter, not the server.

Run: python -m bench.chat [--repeat 3] [--seconds 5] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench._servers import ROOT, build_loadgen, free_port, run_loadgen, running_server

if TYPE_CHECKING:
    from collections.abc import Sequence

CLIENTS = 100
SENDERS = 10
TEXT_BYTES = 64
ACTORNET = ["examples.chat", "serve"]
# The browser and IRC doors on free ports: only the binary door is measured here.
SERVER_OPTIONS = [
    *("--stats-interval", "0", "--log-level", "WARNING"),
    *("--http-port", "0", "--irc-port", "0"),
]
RATE_LIMIT_FLAG = "--rate-limit"
TARGET_RATIO = 1.5


@dataclass
class Runs:
    """Every loadgen result of one server, and the counts worth reporting."""

    rate: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    errors: float = 0.0
    lost: float = 0.0
    rate_limited: float = 0.0

    def add(self, result: dict[str, float]) -> None:
        self.rate.append(result["rate"])
        self.p50.append(result["p50_us"])
        self.p99.append(result["p99_us"])
        self.errors += result.get("errors", 0.0)
        self.lost += result.get("lost", 0.0)
        self.rate_limited += result.get("rate_limited", 0.0)


def _actornet_help() -> str:
    """Return `python -m examples.chat serve --help`: which options the server has."""
    result = subprocess.run(
        [sys.executable, "-m", *ACTORNET, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"`python -m {' '.join(ACTORNET)} --help` failed:\n{result.stderr}")
    return result.stdout


def _measure(server_argv: list[str], seconds: float) -> dict[str, float]:
    port = free_port()
    with running_server(server_argv, port):
        args = ["chat", "127.0.0.1", str(port), str(CLIENTS), str(SENDERS), str(TEXT_BYTES)]
        return run_loadgen([*args, str(seconds)], timeout=seconds + 60)


def _ratio(ours: float, theirs: float, *, higher_is_better: bool) -> float:
    if not ours or not theirs:
        return 0.0
    return ours / theirs if higher_is_better else theirs / ours


def _table(actornet: Runs, asyncio: Runs, repeat: int) -> str:
    rows = [
        (f"chat {CLIENTS} clients, {SENDERS} sending, {TEXT_BYTES} B (deliveries/s)",
         actornet.rate, asyncio.rate, True),
        ("chat delivery latency p50 (us)", actornet.p50, asyncio.p50, False),
        ("chat delivery latency p99 (us)", actornet.p99, asyncio.p99, False),
    ]
    lines = [
        f"median of {repeat}; ratio = actornet relative to the asyncio chat relay, >1 is better",
        f"{'measurement':50} {'actornet':>12} {'asyncio':>12} {'ratio':>7}",
        "-" * 84,
    ]
    for name, ours, theirs, higher in rows:
        mine, other = statistics.median(ours), statistics.median(theirs)
        ratio = _ratio(mine, other, higher_is_better=higher)
        lines.append(f"{name:50} {mine:12,.1f} {other:12,.1f} {ratio:6.2f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run both servers --repeat times and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.seconds = 1, 2.0
    build_loadgen()
    started = time.monotonic()

    limited = RATE_LIMIT_FLAG not in _actornet_help()
    if limited:
        from examples.chat.rate import (  # noqa: PLC0415 - only the fallback needs it
            RATE_BURST,
            RATE_PER_SECOND,
        )

        limit = [RATE_LIMIT_FLAG, f"{RATE_PER_SECOND:g}"]
        servers = {"actornet": [*ACTORNET, *SERVER_OPTIONS], "asyncio": []}
    else:
        limit = [RATE_LIMIT_FLAG, "0"]
        servers = {"actornet": [*ACTORNET, *SERVER_OPTIONS, *limit], "asyncio": []}
    servers["asyncio"] = ["bench.peers.asyncio_chat", *limit]

    runs = {"actornet": Runs(), "asyncio": Runs()}
    for attempt in range(1, args.repeat + 1):
        for name, server_runs in runs.items():
            result = _measure(servers[name], args.seconds)
            server_runs.add(result)
            print(
                f"  {name} run {attempt}: "
                + " ".join(f"{key}={value:.10g}" for key, value in result.items()),
                file=sys.stderr,
            )
    # If limited: what actornet will have to beat once the server can turn its limit off.
    unlimited = [
        _measure(["bench.peers.asyncio_chat"], args.seconds)["rate"]
        for _ in range(args.repeat if limited else 0)
    ]

    if limited:
        print(
            f"RATE-LIMITED: `{' '.join(ACTORNET)}` has no {RATE_LIMIT_FLAG} option yet, so "
            f"both servers limit each client to a burst of {RATE_BURST} and "
            f"{RATE_PER_SECOND:g} commands/s (Says beyond it are dropped); these figures "
            "measure the limiter, not the servers."
        )
    print(_table(runs["actornet"], runs["asyncio"], args.repeat))
    print(
        "loadgen counts over all runs: "
        + "; ".join(
            f"{name} errors={r.errors:,.0f} lost={r.lost:,.0f} rate_limited={r.rate_limited:,.0f}"
            for name, r in runs.items()
        )
        + f"; took {time.monotonic() - started:.0f} s"
    )
    ratio = _ratio(
        statistics.median(runs["actornet"].rate),
        statistics.median(runs["asyncio"].rate),
        higher_is_better=True,
    )
    if limited:
        print(
            f"asyncio relay without a rate limit: {statistics.median(unlimited):,.1f} "
            f"deliveries/s (median of {args.repeat}); the target is >= {TARGET_RATIO}x that, "
            f"measurable once `{' '.join(ACTORNET)}` offers {RATE_LIMIT_FLAG} 0"
        )
    else:
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(
            f"target: deliveries/s >= {TARGET_RATIO}x the asyncio relay's: {ratio:.2f}x, {verdict}"
        )


if __name__ == "__main__":
    main()
