"""Echo and relay servers: actornet's examples beside two asyncio servers, same run.

Three servers, each speaking 4-byte big-endian length + payload:

* actornet: `python -m examples.echo` / `examples.relay`, defaults except
  `--log-level WARNING` (so its connection limit is its own default);
* asyncio streams (bench/peers/asyncio_streams.py, a task per connection,
  `readexactly()` per frame): the baseline every ratio is taken against;
* asyncio Protocol (bench/peers/asyncio_protocol.py, every complete frame of a
  read handled at once and answered with one write per connection, in relay
  one write per member): the ceiling. It is there to show the load generator
  had headroom: where it runs well ahead of the others, the load generator did
  not cap them.

Where things run: every server is a process of its own on 127.0.0.1, pinned to
one core with taskset; the load comes from bench/loadgen.c (one epoll thread,
compiled on first use, checks every byte it gets back) pinned to the other core.
These VMs favour one core over the other, so the whole table is measured both
ways round, one table per pinning: the server on each core of --server-cores in
turn (default 0 then 1), the load generator on the lowest other core.

Loads, each run against the servers in turn (A B C A B C ...), each cell the
median of --repeat runs of --seconds:

* echo, 100 connections x 4 frames in flight x 64-byte payloads;
* echo, 1,000 connections x 1 frame in flight x 512 bytes;
* relay, 100 clients of which 10 send 64-byte frames (each at most 64
  outstanding): every client receives every frame, deliveries counted;
* latency: echo, 1 connection, 1 frame in flight, 64 bytes;
* idle memory: --idle connections opened and held, one echo on each; RSS growth
  of the server divided by the connections that answered, and how many did.

How to read a table. rate: round trips (echo) or deliveries (relay) per second.
"x streams": the ratio to asyncio streams in the same run from the medians,
>1 is better (rate ratio; for idle memory, streams' KiB over this server's).
p50, p99 and max: round-trip or delivery latency in microseconds, as the load
generator measured it. "CPU us/op": the server process's user + system CPU
(all its threads, /proc/PID/stat) from just before to just after the load
generator ran, divided by the operations it counted; it includes accepting the
connections. "loadgen CPU": the load generator's own CPU time as a share of the
measured seconds; near 100% the load generator is the limit, and a note below
the table says so, as it does when a server comes within 10% of the ceiling.
"errors": corrupt or unexpected bytes and failed or closed connections, summed
over the runs; a cell with errors is not a valid measurement.

Targets, each per pinning and against asyncio streams: echo 100x4x64 >= 2.0x;
echo 1,000x1x512 >= 1.5x with p99 at or below streams'; relay >= 2.5x; idle at
most 5 KiB per connection with every connection answered.

Run: python -m bench.echo [--repeat 3] [--seconds 5] [--idle 15000]
                          [--server-cores 0,1] [--quick]
--quick: 1 repeat, 2 s, 2,000 idle connections, only the first pinning (under a
minute). A full run is 72 load runs and 18 idle runs, each in a fresh server
process: roughly 15 minutes. Idle runs take 20-45 s each: opening 15,000
connections takes the load generator most of that, and when a server refuses
some it waits its full 30 s for answers that never come.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench._common import format_table, headroom_notes, number, ratio, times, verdict
from bench._servers import (
    Pinning,
    build_loadgen,
    cpu_seconds,
    first_line,
    free_port,
    parse_cores,
    parse_pairs,
    pinnings_for,
    run_loadgen_measured,
    running_server,
    start_loadgen,
    stop,
    wait_for_rss_to_settle,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

HOST = "127.0.0.1"
ACTORNET = "actornet"
BASELINE = "asyncio streams"
CEILING = "asyncio Protocol (ceiling)"
#: Per server: `python -m` arguments for echo and for relay (the port is added).
SERVERS: dict[str, dict[str, list[str]]] = {
    ACTORNET: {
        "echo": ["examples.echo", "--log-level", "WARNING"],
        "relay": ["examples.relay", "--log-level", "WARNING"],
    },
    BASELINE: {
        "echo": ["bench.peers.asyncio_streams", "echo"],
        "relay": ["bench.peers.asyncio_streams", "relay"],
    },
    CEILING: {
        "echo": ["bench.peers.asyncio_protocol", "echo"],
        "relay": ["bench.peers.asyncio_protocol", "relay"],
    },
}
#: Seconds the idle load generator would hold its connections; it is stopped
#: as soon as the server's memory has been read.
IDLE_HOLD = 120
#: Seconds the idle load generator may take to report (it waits up to 30 s for answers).
IDLE_REPORT_TIMEOUT = 180.0
IDLE_TARGET_KIB = 5.0


@dataclass(frozen=True)
class Load:
    """One load of the table: the load generator's mode and arguments."""

    key: str
    title: str
    mode: str
    args: tuple[int, int, int]
    unit: str
    throughput: bool = True


LOADS = (
    Load("echo_pipelined", "echo 100 conns x 4 in flight x 64 B", "echo", (100, 4, 64),
         "round trips/s"),
    Load("echo_1000", "echo 1,000 conns x 1 in flight x 512 B", "echo", (1000, 1, 512),
         "round trips/s"),
    Load("relay", "relay 100 clients, 10 sending, 64 B", "relay", (100, 10, 64),
         "deliveries/s"),
    Load("latency", "latency: echo 1 conn x 1 in flight x 64 B", "echo", (1, 1, 64),
         "round trips/s", throughput=False),
)



@dataclass(frozen=True)
class Sample:
    """One load generator run against one server."""

    rate: float
    p50: float
    p99: float
    max: float
    cpu_us_per_op: float
    loadgen_cpu_pct: float
    errors: float


@dataclass
class Cell:
    """Every run of one load against one server under one pinning."""

    samples: list[Sample] = field(default_factory=list)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(sample, name) for sample in self.samples))

    @property
    def errors(self) -> float:
        return sum(sample.errors for sample in self.samples)


@dataclass(frozen=True)
class IdleSample:
    """One idle-memory run against one server."""

    kib_per_connection: float
    answered: int
    errors: float


@dataclass
class IdleCell:
    """Every idle-memory run of one server under one pinning."""

    samples: list[IdleSample] = field(default_factory=list)

    @property
    def kib(self) -> float:
        return float(statistics.median(s.kib_per_connection for s in self.samples))

    @property
    def fewest_answered(self) -> int:
        return min(s.answered for s in self.samples)

    @property
    def errors(self) -> float:
        return sum(s.errors for s in self.samples)


@dataclass
class Results:
    """Everything measured under one pinning."""

    pinning: Pinning
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    idle: dict[str, IdleCell] = field(default_factory=dict)

    def cell(self, load: Load, server: str) -> Cell:
        return self.cells.setdefault((load.key, server), Cell())

    def ratio(self, load: Load, server: str) -> float:
        return ratio(self.cell(load, server).median("rate"),
                      self.cell(load, BASELINE).median("rate"))



def _measure(load: Load, server: str, pinning: Pinning, seconds: float) -> Sample:
    port = free_port()
    conns, second, size = load.args
    args = [load.mode, HOST, str(port), str(conns), str(second), str(size), str(seconds)]
    with running_server(SERVERS[server][load.mode], port, core=pinning.server) as process:
        return measure_server(process.pid, args, pinning, seconds, f"{server}, {load.title}")


def measure_server(
    pid: int, args: Sequence[str], pinning: Pinning, seconds: float, label: str
) -> Sample:
    """Run the load generator with `args` against the running server `pid`; return the sample.

    CPU figures cover the whole load generator run, unless it reports them for
    its timed phase alone (`server_cpu_s`, `cpu_s`: given the server's PID).
    """
    before = cpu_seconds(pid)
    run = run_loadgen_measured(args, timeout=seconds + 60, core=pinning.loadgen)
    after = cpu_seconds(pid)
    result = run.result
    server_cpu = result.get("server_cpu_s", after - before)
    loadgen_cpu = result.get("cpu_s", run.cpu_seconds)
    count = result.get("count", 0.0)
    if result.get("errors", 0.0):
        print(f"  {label}: {result['errors']:.0f} errors", file=sys.stderr)
    return Sample(
        rate=result.get("rate", 0.0),
        p50=result.get("p50_us", math.nan),
        p99=result.get("p99_us", math.nan),
        max=result.get("max_us", math.nan),
        cpu_us_per_op=server_cpu / count * 1e6 if count else math.nan,
        loadgen_cpu_pct=100.0 * loadgen_cpu / seconds,
        errors=result.get("errors", 0.0),
    )


def _idle_memory(server: str, pinning: Pinning, connections: int) -> IdleSample:
    port = free_port()
    with running_server(SERVERS[server]["echo"], port, core=pinning.server) as process:
        baseline = wait_for_rss_to_settle(process.pid, 0.3)
        args = ["idle", HOST, str(port), str(connections), str(IDLE_HOLD)]
        loader = start_loadgen(args, core=pinning.loadgen)
        try:
            report = parse_pairs(first_line(loader, IDLE_REPORT_TIMEOUT))
            loaded = wait_for_rss_to_settle(process.pid, 0.5)
        finally:
            stop(loader)
    answered = int(report.get("answered", 0))
    per_connection = (loaded - baseline) / answered if answered else math.nan
    return IdleSample(per_connection, answered, report.get("errors", math.nan))


def _run_pinning(pinning: Pinning, repeat: int, seconds: float, idle: int) -> Results:
    results = Results(pinning)
    started = time.monotonic()
    for load in LOADS:
        for _ in range(repeat):
            for server in SERVERS:
                results.cell(load, server).samples.append(
                    _measure(load, server, pinning, seconds)
                )
        print(f"  {time.monotonic() - started:4.0f} s  done: {load.title} ({pinning.label})",
              file=sys.stderr)
    for _ in range(repeat):
        for server in SERVERS:
            results.idle.setdefault(server, IdleCell()).samples.append(
                _idle_memory(server, pinning, idle)
            )
    print(f"  {time.monotonic() - started:4.0f} s  done: idle memory ({pinning.label})",
          file=sys.stderr)
    return results




def _load_table(results: Results) -> tuple[str, list[str]]:
    header = ["load / server", "rate", "x streams", "p50 us", "p99 us", "max us",
              "CPU us/op", "loadgen CPU", "errors"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for load in LOADS:
        rows.append([f"{load.title} ({load.unit})", *[""] * (len(header) - 1)])
        ceiling_rate = results.cell(load, CEILING).median("rate")
        for server in SERVERS:
            cell = results.cell(load, server)
            busy = cell.median("loadgen_cpu_pct")
            rows.append([
                f"  {server}",
                number(cell.median("rate")),
                times(results.ratio(load, server)),
                number(cell.median("p50"), 1),
                number(cell.median("p99"), 1),
                number(cell.median("max"), 1),
                number(cell.median("cpu_us_per_op"), 1),
                f"{busy:.0f}%",
                f"{cell.errors:.0f}",
            ])
            if not load.throughput:
                continue
            notes += headroom_notes(
                f"{load.title}, {server}", loadgen_pct=busy, rate=cell.median("rate"),
                ceiling_rate=None if server == CEILING else ceiling_rate,
            )
            if cell.errors:
                notes.append(f"{load.title}, {server}: {cell.errors:.0f} errors; "
                             "not a valid measurement")
    return format_table(header, rows), notes


def _idle_table(results: Results, connections: int) -> str:
    header = [f"idle: {connections:,} connections held, one echo each",
              "KiB/conn", "x streams", "answered (fewest)", "errors"]
    baseline = results.idle[BASELINE].kib
    rows = [
        [
            f"  {server}",
            number(cell.kib, 2),
            times(ratio(baseline, cell.kib)),
            f"{cell.fewest_answered:,} of {connections:,}",
            f"{cell.errors:.0f}",
        ]
        for server, cell in results.idle.items()
    ]
    return format_table(header, rows)



def _targets_table(all_results: Sequence[Results], connections: int) -> str:
    pipelined, wide, relay, _ = LOADS
    header = ["target (actornet vs asyncio streams)",
              *(f"server core {r.pinning.server} / loadgen {r.pinning.loadgen}"
                for r in all_results)]
    rows: list[list[str]] = [
        ["echo 100x4x64 B >= 2.0x"],
        ["echo 1,000x1x512 B >= 1.5x, p99 <= streams'"],
        ["relay 100 clients, 10 sending >= 2.5x"],
        [f"idle <= {IDLE_TARGET_KIB:g} KiB/conn, all {connections:,} answer"],
    ]
    for results in all_results:
        ratio = results.ratio(pipelined, ACTORNET)
        rows[0].append(f"{times(ratio)} {verdict(ratio >= 2.0)}")
        ratio = results.ratio(wide, ACTORNET)
        ours = results.cell(wide, ACTORNET).median("p99")
        theirs = results.cell(wide, BASELINE).median("p99")
        met = ratio >= 1.5 and ours <= theirs
        rows[1].append(f"{times(ratio)}, p99 {ours / 1000:,.1f} vs {theirs / 1000:,.1f} ms "
                       f"{verdict(met)}")
        ratio = results.ratio(relay, ACTORNET)
        rows[2].append(f"{times(ratio)} {verdict(ratio >= 2.5)}")
        idle = results.idle[ACTORNET]
        met = idle.kib <= IDLE_TARGET_KIB and idle.fewest_answered == connections
        rows[3].append(f"{number(idle.kib, 2)} KiB, {idle.fewest_answered:,} answered "
                       f"{verdict(met)}")
    return format_table(header, rows)




def main(argv: Sequence[str] | None = None) -> None:
    """Run every load against every server under each pinning and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--idle", type=int, default=15_000, help="idle connections to hold")
    parser.add_argument("--server-cores", type=parse_cores, default=[0, 1],
                        help="cores the servers take turns on, one table each (default 0,1)")
    parser.add_argument("--quick", action="store_true",
                        help="1 repeat, 2 s, 2,000 idle, only the first server core")
    args = parser.parse_args(argv)
    pinnings = pinnings_for(args.server_cores, "bench.echo")
    if args.quick:
        args.repeat, args.seconds, args.idle = 1, 2.0, 2000
        pinnings = pinnings[:1]
    build_loadgen()
    started = time.monotonic()
    all_results = []
    for pinning in pinnings:
        results = _run_pinning(pinning, args.repeat, args.seconds, args.idle)
        all_results.append(results)
        loads, notes = _load_table(results)
        print(f"\n== {pinning.label}; median of {args.repeat} x {args.seconds:g} s; "
              f"x streams: ratio to asyncio streams, >1 is better")
        print(loads)
        print()
        print(_idle_table(results, args.idle))
        for note in notes:
            print(f"note: {note}")
        sys.stdout.flush()
    print()
    print(_targets_table(all_results, args.idle))
    print(f"\ntook {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
