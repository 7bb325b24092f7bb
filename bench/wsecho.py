"""WebSocket echo: actornet's examples.wsecho beside websockets, aiohttp and picows, same run.

Four servers, each echoing every WebSocket message back with its type, on any
path, no subprotocol required, no compression (permessage-deflate is neither
offered by the load generator nor enabled by any server):

* actornet: `python -m examples.wsecho --host H --port N`, plus
  `--log-level WARNING` when its `--help` offers that option;
* websockets (bench/peers/websockets_echo.py, `compression=None`): the
  baseline every ratio is taken against;
* aiohttp (bench/peers/aiohttp_echo.py, `compress=False`);
* picows (bench/peers/picows_echo.py, Cython): the ceiling. It is expected to
  be the fastest, and is there to show the load generator had headroom: where
  it runs well ahead of the others, the load generator did not cap them.

Every server runs on the default asyncio event loop: no uvloop, and picows
with `use_aiofastnet=False` (its default would be the aiofastnet transport,
which is installed here). A server that is missing or fails to start is
reported and skipped, and the others still run; `--servers` chooses which run.

Where things run: every server is a process of its own on 127.0.0.1, pinned to
one core with taskset; the load comes from bench/loadgen.c's `ws` mode (one
epoll thread, compiled on first use into bench/.build) pinned to the other
core. The whole table is measured both ways round, one table per pinning: the
server on each core of --server-cores in turn (default 0 then 1), the load
generator on the lowest other core.

The load generator upgrades every connection first (checking the 101 and
Sec-WebSocket-Accept), then starts the clock and keeps the messages in flight:
masked binary frames (a fresh masking key per frame) whose echoes must come
back in order, unmasked, unfragmented, and equal byte for byte to what was
sent. After --seconds it stops sending, waits for every message in flight to
come back (checked, not counted) and closes each connection with a close
frame. Any fault (a wrong byte, a close frame or EOF from the server, a failed
upgrade, a message that never comes back) stops that run with a message from
the load generator on stderr; the cell then counts a failed run, which is not
a valid measurement.

Loads, each run against the servers in turn (A B C D A B C D ...), each cell
the median of --runs runs of --seconds:

* 100 connections x 4 messages in flight x 64-byte payloads;
* 1,000 connections x 1 message in flight x 512-byte payloads (16-bit
  extended lengths).

How to read a table. rate: echoed messages per second. "x websockets": the
ratio to websockets in the same run from the medians, >1 is better. p50, p99
and max: round-trip latency in microseconds, as the load generator measured it.
"CPU us/op": the server process's user + system CPU (all its threads,
/proc/PID/stat) from just before to just after the load generator ran, divided
by the echoes it counted; it includes accepting and upgrading the connections
and the final drain and close. "upgrade ms": how long opening and upgrading
every connection took. "loadgen CPU": the load generator's own CPU time
during the measured seconds as a share of them (it reads getrusage when the
clock starts and stops); near 100% the load generator is the limit, and a note
below the table says so, as it does when a server comes within 10% of the
ceiling. "failed": runs the load generator stopped on a fault.

Targets (from the issue), per pinning, against websockets: actornet ahead of
aiohttp on both loads, and at least 2.0x websockets. The issue measured aiohttp
at 2.0x / 1.6x websockets and picows at 5.1x / 4.1x on the two loads; the
ratios table prints those beside this run's.

What a server must do for this harness: take `--host H --port N`; print, as
the first line on stdout and flushed, a line containing "listening" (e.g.
"listening on 127.0.0.1:N") once it accepts connections, within 60 s; accept
an upgrade on any path without a subprotocol; stop on SIGTERM (it is killed
after 15 s).

Run: python -m bench.wsecho [--servers actornet,websockets,aiohttp,picows]
                            [--runs 3] [--seconds 4] [--server-cores 0,1]
                            [--path /] [--subprotocol NAME] [--quick]
--quick: 1 run, 2 s, only the first pinning. A full run is 48 load runs of a
few seconds each, every one in a fresh server process: about 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench._common import format_table, headroom_notes, number, ratio, times, verdict
from bench._servers import (
    ROOT,
    Pinning,
    build_loadgen,
    cpu_seconds,
    free_port,
    parse_cores,
    pinnings_for,
    run_loadgen_measured,
    running_server,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

HOST = "127.0.0.1"
ACTORNET = "actornet"
BASELINE = "websockets"
AIOHTTP = "aiohttp"
CEILING = "picows"
#: Per server: `python -m` arguments (--host and --port are added).
SERVERS: dict[str, list[str]] = {
    ACTORNET: ["examples.wsecho"],
    BASELINE: ["bench.peers.websockets_echo"],
    AIOHTTP: ["bench.peers.aiohttp_echo"],
    CEILING: ["bench.peers.picows_echo"],
}
LABELS = {
    ACTORNET: "actornet",
    BASELINE: "websockets (baseline)",
    AIOHTTP: "aiohttp",
    CEILING: "picows (ceiling)",
}
#: Added to actornet's command line when its --help offers the option.
QUIET = ["--log-level", "WARNING"]
#: Seconds a load generator run may take beyond --seconds: upgrades (at most
#: 30 s), the drain (at most 5 s) and the close (at most 2 s), with room.
LOADGEN_SLACK = 60.0
TARGET_RATIO = 2.0


@dataclass(frozen=True)
class Load:
    """One load of the table: the load generator's connections, window and size."""

    key: str
    title: str
    connections: int
    inflight: int
    size: int


LOADS = (
    Load("pipelined", "100 conns x 4 in flight x 64 B", 100, 4, 64),
    Load("wide", "1,000 conns x 1 in flight x 512 B", 1000, 1, 512),
)
#: The issue's measurements: ratio to websockets per (server, load key).
ISSUE_RATIOS = {
    (AIOHTTP, "pipelined"): 2.0,
    (AIOHTTP, "wide"): 1.6,
    (CEILING, "pipelined"): 5.1,
    (CEILING, "wide"): 4.1,
}



@dataclass(frozen=True)
class Sample:
    """One successful load generator run against one server."""

    rate: float
    p50: float
    p99: float
    max: float
    cpu_us_per_op: float
    upgrade_ms: float
    loadgen_cpu_pct: float
    silent: float
    fragmented: float


@dataclass
class Cell:
    """Every run of one load against one server under one pinning."""

    samples: list[Sample] = field(default_factory=list)
    failed: int = 0

    def median(self, name: str) -> float:
        if not self.samples:
            return math.nan
        return float(statistics.median(getattr(sample, name) for sample in self.samples))


@dataclass
class Results:
    """Everything measured under one pinning."""

    pinning: Pinning
    servers: list[str]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)

    def cell(self, load: Load, server: str) -> Cell:
        return self.cells.setdefault((load.key, server), Cell())

    def ratio(self, load: Load, server: str) -> float:
        if BASELINE not in self.servers or server not in self.servers:
            return math.nan
        return ratio(self.cell(load, server).median("rate"),
                      self.cell(load, BASELINE).median("rate"))


@dataclass(frozen=True)
class Options:
    """What every load generator run is given beyond the load."""

    seconds: float
    path: str
    subprotocol: str


class ServerDidNotStartError(RuntimeError):
    """A server process exited or stayed silent instead of printing its `listening` line."""



def _help(module_argv: Sequence[str]) -> tuple[bool, str]:
    """Run `python -m MODULE --help`: whether it worked, and its output or its error."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", *module_argv, "--help"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
    except subprocess.TimeoutExpired:
        return False, "`--help` did not finish within 60 s"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return False, lines[-1] if lines else f"exit status {result.returncode}"
    return True, result.stdout


def _available(servers: Sequence[str], skipped: dict[str, str]) -> dict[str, list[str]]:
    """Return the command line of each server that can start; say in `skipped` why not."""
    argvs: dict[str, list[str]] = {}
    for server in servers:
        argv = list(SERVERS[server])
        ok, text = _help(argv)
        if not ok:
            skipped[server] = f"`python -m {' '.join(argv)} --help` failed: {text}"
            print(f"{LABELS[server]}: skipped: {skipped[server]}", file=sys.stderr)
            continue
        if server == ACTORNET and QUIET[0] in text:
            argv += QUIET
        argvs[server] = argv
    return argvs


def _measure(load: Load, argv: Sequence[str], pinning: Pinning, options: Options) -> Sample:
    """One run; raises ServerDidNotStartError, or RuntimeError if the load generator failed."""
    port = free_port()
    args = ["ws", HOST, str(port), str(load.connections), str(load.inflight), str(load.size),
            str(options.seconds), options.path, options.subprotocol]
    with contextlib.ExitStack() as stack:
        try:
            process = stack.enter_context(running_server(argv, port, core=pinning.server))
        except RuntimeError as exc:
            raise ServerDidNotStartError(str(exc)) from exc
        before = cpu_seconds(process.pid)
        run = run_loadgen_measured(args, timeout=options.seconds + LOADGEN_SLACK,
                                   core=pinning.loadgen)
        after = cpu_seconds(process.pid)
    result = run.result
    count = result.get("count", 0.0)
    return Sample(
        rate=result.get("rate", 0.0),
        p50=result.get("p50_us", math.nan),
        p99=result.get("p99_us", math.nan),
        max=result.get("max_us", math.nan),
        cpu_us_per_op=(after - before) / count * 1e6 if count else math.nan,
        upgrade_ms=result.get("handshake_ms", math.nan),
        loadgen_cpu_pct=result.get("cpu_pct", 100.0 * run.cpu_seconds / options.seconds),
        silent=result.get("silent", 0.0),
        fragmented=result.get("fragmented", 0.0),
    )


def _run_pinning(pinning: Pinning, argvs: dict[str, list[str]], runs: int,
                 options: Options, broken: dict[str, str]) -> Results:
    """Every load, --runs times, against every server that still starts."""
    results = Results(pinning, list(argvs))
    started = time.monotonic()
    for load in LOADS:
        for _ in range(runs):
            for server, argv in argvs.items():
                if server in broken:
                    continue
                cell = results.cell(load, server)
                try:
                    cell.samples.append(_measure(load, argv, pinning, options))
                except ServerDidNotStartError as exc:
                    broken[server] = (
                        f"did not start ({exc}). It must print a line containing 'listening' "
                        f"on stdout within 60 s; run `python -m {' '.join(argv)} --host {HOST} "
                        "--port 8765` to see its errors")
                    print(f"{LABELS[server]}: skipping its remaining runs: {broken[server]}",
                          file=sys.stderr)
                except RuntimeError as exc:
                    cell.failed += 1
                    print(f"{LABELS[server]}, {load.title}: run failed ({exc}); the load "
                          "generator's reason is on stderr just above", file=sys.stderr)
        print(f"  {time.monotonic() - started:4.0f} s  done: {load.title} ({pinning.label})",
              file=sys.stderr)
    return results




def _load_table(results: Results) -> tuple[str, list[str]]:
    header = ["load / server", "rate", "x websockets", "p50 us", "p99 us", "max us",
              "CPU us/op", "upgrade ms", "loadgen CPU", "failed"]
    rows: list[list[str]] = []
    notes: list[str] = []
    for load in LOADS:
        rows.append([f"{load.title} (messages/s)", *[""] * (len(header) - 1)])
        ceiling_rate = results.cell(load, CEILING).median("rate")
        for server in results.servers:
            cell = results.cell(load, server)
            runs = len(cell.samples) + cell.failed
            busy = cell.median("loadgen_cpu_pct")
            rows.append([
                f"  {LABELS[server]}",
                number(cell.median("rate")),
                times(results.ratio(load, server)),
                number(cell.median("p50"), 1),
                number(cell.median("p99"), 1),
                number(cell.median("max"), 1),
                number(cell.median("cpu_us_per_op"), 1),
                number(cell.median("upgrade_ms"), 1),
                "-" if math.isnan(busy) else f"{busy:.0f}%",
                f"{cell.failed} of {runs}" if runs else "not run",
            ])
            if not runs:
                notes.append(f"{load.title}, {LABELS[server]}: not run (it did not start)")
                continue
            if cell.failed:
                notes.append(f"{load.title}, {LABELS[server]}: {cell.failed} of {runs} runs "
                             "failed (see the load generator's messages); not a valid "
                             "measurement")
            notes += headroom_notes(
                f"{load.title}, {LABELS[server]}", loadgen_pct=busy, rate=cell.median("rate"),
                ceiling_rate=None if server == CEILING else ceiling_rate,
            )
            silent = max((sample.silent for sample in cell.samples), default=0.0)
            if silent:
                notes.append(f"{load.title}, {LABELS[server]}: up to {silent:.0f} connections "
                             "got no echo within a run")
            fragmented = sum(sample.fragmented for sample in cell.samples)
            if fragmented:
                notes.append(f"{load.title}, {LABELS[server]}: {fragmented:.0f} echoes came "
                             "back fragmented (reassembled and checked)")
    if CEILING not in results.servers:
        notes.append("picows (the ceiling) was not run: nothing shows the load generator had "
                     "headroom")
    if BASELINE not in results.servers:
        notes.append("websockets (the baseline) was not run: no ratios")
    return format_table(header, rows), notes



def _ratios_table(all_results: Sequence[Results]) -> str:
    """aiohttp's and picows's ratios as the issue measured them and as this run did."""
    header = ["ratio to websockets", "issue",
              *(f"core {r.pinning.server} / loadgen {r.pinning.loadgen}" for r in all_results)]
    loads = {load.key: load for load in LOADS}
    rows = [
        [f"{LABELS[server]}, {loads[key].title}", times(figure),
         *(times(r.ratio(loads[key], server)) for r in all_results)]
        for (server, key), figure in ISSUE_RATIOS.items()
    ]
    return format_table(header, rows)


def _targets_table(all_results: Sequence[Results]) -> str:
    header = [f"target: actornet >= {TARGET_RATIO:.1f}x websockets and ahead of aiohttp",
              *(f"core {r.pinning.server} / loadgen {r.pinning.loadgen}" for r in all_results)]
    rows: list[list[str]] = []
    for load in LOADS:
        row = [load.title]
        for results in all_results:
            ours = results.ratio(load, ACTORNET)
            theirs = results.ratio(load, AIOHTTP)
            cell = results.cell(load, ACTORNET)
            if math.isnan(ours):
                row.append("not measured")
                continue
            met = ours >= TARGET_RATIO and not cell.failed and (math.isnan(theirs) or ours > theirs)
            versus = f" (aiohttp {times(theirs) if not math.isnan(theirs) else 'not measured'})"
            row.append(f"{times(ours)}{versus} {verdict(met)}")
        rows.append(row)
    return format_table(header, rows)




def _servers(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown server(s) {unknown}; choose from {','.join(SERVERS)}")
    return list(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> None:
    """Run every load against every chosen server under each pinning and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=_servers, default=list(SERVERS),
                        help=f"comma-separated, from {','.join(SERVERS)} (default: all)")
    parser.add_argument("--runs", "--repeat", type=int, default=3, help="runs per cell (median)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each run")
    parser.add_argument("--server-cores", type=parse_cores, default=[0, 1],
                        help="cores the servers take turns on, one table each (default 0,1)")
    parser.add_argument("--path", default="/", help="request path of the upgrade (default /)")
    parser.add_argument("--subprotocol", default="",
                        help="Sec-WebSocket-Protocol to ask for (default: none); the server "
                        "must choose it")
    parser.add_argument("--quick", action="store_true", help="1 run, 2 s, only the first core")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.runs > 100 or not 0 < args.seconds <= 600:
        parser.error("--runs must be 1..100 and --seconds in (0, 600]")
    if not args.path.startswith("/"):
        parser.error("--path must start with /")
    pinnings = pinnings_for(args.server_cores, "bench.wsecho")
    if args.quick:
        args.runs, args.seconds = 1, 2.0
        pinnings = pinnings[:1]
    build_loadgen()
    skipped: dict[str, str] = {}
    argvs = _available(args.servers, skipped)
    if not argvs:
        raise SystemExit("bench.wsecho: none of the chosen servers can start")
    options = Options(args.seconds, args.path, args.subprotocol)
    total = len(pinnings) * len(LOADS) * args.runs * len(argvs)
    print(f"bench.wsecho: {', '.join(LABELS[s] for s in argvs)}; {total} runs of "
          f"{args.seconds:g} s; every server on the default asyncio event loop (no uvloop, "
          "picows without aiofastnet), no compression", file=sys.stderr)
    started = time.monotonic()
    broken: dict[str, str] = {}
    all_results = []
    for pinning in pinnings:
        results = _run_pinning(pinning, argvs, args.runs, options, broken)
        all_results.append(results)
        table, notes = _load_table(results)
        print(f"\n== {pinning.label}; median of {args.runs} x {args.seconds:g} s; "
              "x websockets: ratio to websockets, >1 is better; picows is the ceiling")
        print(table)
        for note in notes:
            print(f"note: {note}")
        sys.stdout.flush()
    print()
    print(_ratios_table(all_results))
    print()
    print(_targets_table(all_results))
    for server, reason in {**skipped, **broken}.items():
        print(f"{LABELS[server]}: not measured: {reason}")
    print(f"\nall servers on the default asyncio event loop (no uvloop; picows without "
          f"aiofastnet); took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
