"""Echo and relay servers: actornet's examples against asyncio streams, same run.

Both sides speak 4-byte big-endian length + payload. Each server runs in its own
process pinned to core 0; the load comes from bench/loadgen.c (one epoll thread,
compiled on first use) pinned to core 1, which checks every byte it gets back.

Measurements, each the median of --repeat runs, alternating servers:

* echo, 100 connections x 4 frames in flight x 64-byte payloads: round trips/s
* echo, 1,000 connections x 1 frame in flight x 512 bytes: round trips/s
* echo latency, 1 connection, 1 frame in flight: p50 and p99
* idle memory: RSS growth per connection holding --idle connections, after one
  echo on each (all must answer)
* relay, 100 clients of which 10 send: deliveries/s and delivery latency

Run: python -m bench.echo [--repeat 3] [--seconds 5] [--idle 15000] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING

from bench._servers import (
    LOADGEN_CORE,
    build_loadgen,
    free_port,
    parse_pairs,
    run_loadgen,
    running_server,
    wait_for_rss_to_settle,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

ECHO_SERVERS = {
    "actornet": ["examples.echo", "--max-connections", "20000", "--log-level", "WARNING"],
    "asyncio": ["bench.peers.asyncio_streams", "echo"],
}
RELAY_SERVERS = {
    "actornet": ["examples.relay", "--max-connections", "20000", "--log-level", "WARNING"],
    "asyncio": ["bench.peers.asyncio_streams", "relay"],
}


@dataclass(frozen=True)
class Scenario:
    """One line of the table: what to run and which figure to keep."""

    name: str
    servers: dict[str, list[str]]
    loadgen: list[str]
    key: str
    unit: str
    _: KW_ONLY
    higher_is_better: bool


def _measure(scenario: Scenario, server: str, seconds: float) -> float:
    port = free_port()
    with running_server(scenario.servers[server], port):
        args = [scenario.loadgen[0], "127.0.0.1", str(port), *scenario.loadgen[1:]]
        result = run_loadgen(args, timeout=seconds + 60)
    if result.get("errors", 0):
        print(f"  {server} {scenario.name}: {result['errors']:.0f} errors", file=sys.stderr)
    return result[scenario.key]


def _idle_memory(server: str, connections: int) -> tuple[float, float]:
    """Return (KiB per idle connection, connections that answered)."""
    port = free_port()
    with running_server(ECHO_SERVERS[server], port) as process:
        baseline = wait_for_rss_to_settle(process.pid, 0.3)
        argv = [str(build_loadgen()), "idle", "127.0.0.1", str(port), str(connections), "5"]
        loader = subprocess.Popen(
            ["taskset", "-c", LOADGEN_CORE, *argv], stdout=subprocess.PIPE, text=True
        )
        assert loader.stdout is not None
        line = loader.stdout.readline()
        loaded = wait_for_rss_to_settle(process.pid, 0.5)
        loader.wait(timeout=120)
    answered = parse_pairs(line).get("answered", 0.0)
    return (loaded - baseline) / connections, answered


def _table(rows: list[tuple[str, str, float, float, bool]], repeat: int) -> str:
    lines = [
        f"median of {repeat}; ratio = actornet relative to asyncio streams, >1 is better",
        f"{'measurement':50} {'actornet':>12} {'asyncio':>12} {'ratio':>7}",
        "-" * 84,
    ]
    for name, unit, ours, theirs, higher in rows:
        ratio = (ours / theirs if higher else theirs / ours) if ours and theirs else 0.0
        lines.append(
            f"{name + ' (' + unit + ')':50} {ours:12,.1f} {theirs:12,.1f} {ratio:6.2f}x"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run every scenario and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--idle", type=int, default=15_000, help="idle connections to hold")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 s, 2,000 idle")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.seconds, args.idle = 1, 2.0, 2000
    build_loadgen()
    secs = str(args.seconds)
    scenarios = [
        Scenario("echo 100 conns x 4 in flight x 64 B", ECHO_SERVERS,
                 ["echo", "100", "4", "64", secs], "rate", "trips/s", higher_is_better=True),
        Scenario("echo 1,000 conns x 1 x 512 B", ECHO_SERVERS,
                 ["echo", "1000", "1", "512", secs], "rate", "trips/s", higher_is_better=True),
        Scenario("echo latency p50, 1 conn", ECHO_SERVERS,
                 ["echo", "1", "1", "64", secs], "p50_us", "us", higher_is_better=False),
        Scenario("echo latency p99, 1 conn", ECHO_SERVERS,
                 ["echo", "1", "1", "64", secs], "p99_us", "us", higher_is_better=False),
        Scenario("relay 100 clients, 10 sending, 64 B", RELAY_SERVERS,
                 ["relay", "100", "10", "64", secs], "rate", "deliveries/s", higher_is_better=True),
        Scenario("relay delivery latency p50", RELAY_SERVERS,
                 ["relay", "100", "10", "64", secs], "p50_us", "us", higher_is_better=False),
    ]
    rows: list[tuple[str, str, float, float, bool]] = []
    started = time.monotonic()
    for scenario in scenarios:
        results: dict[str, list[float]] = {"actornet": [], "asyncio": []}
        for _ in range(args.repeat):
            for server, values in results.items():
                values.append(_measure(scenario, server, args.seconds))
        print(f"  done: {scenario.name}", file=sys.stderr)
        rows.append((
            scenario.name,
            scenario.unit,
            statistics.median(results["actornet"]),
            statistics.median(results["asyncio"]),
            scenario.higher_is_better,
        ))
    memory: dict[str, list[float]] = {"actornet": [], "asyncio": []}
    answered: dict[str, float] = {}
    for _ in range(args.repeat):
        for server, values in memory.items():
            per_connection, answered[server] = _idle_memory(server, args.idle)
            values.append(per_connection)
    rows.append((
        f"RSS per idle connection, {args.idle:,} held",
        "KiB",
        statistics.median(memory["actornet"]),
        statistics.median(memory["asyncio"]),
        False,
    ))
    print(_table(rows, args.repeat))
    print(
        f"idle connections answered: actornet {answered['actornet']:,.0f}, "
        f"asyncio {answered['asyncio']:,.0f} of {args.idle:,}; "
        f"took {time.monotonic() - started:.0f} s"
    )
    print(
        "targets: echo throughput >= 1.0x in both configurations, relay >= 1.5x, "
        "<= 8 KiB per idle connection at 15,000"
    )


if __name__ == "__main__":
    main()
