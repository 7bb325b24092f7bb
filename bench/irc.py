"""IRC relay: actornet's chat IRC door beside an asyncio relay and ngircd, same run.

Four servers, each relaying channel PRIVMSGs to every other member:

* actornet: the example chat's IRC door (`python -m examples.chat serve
  --irc-port 0 --rate-limit 0`, the other doors on free ports); its port is
  read from the start line;
* asyncio (bench/peers/asyncio_irc.py): asyncio streams, a task per
  connection, `readline()` per line, each PRIVMSG built once and written to
  every other member; the baseline;
* asyncio, buffered (the same relay with --buffered): what a client is sent
  during one turn of the event loop leaves in one write() at the turn's end,
  where the baseline makes one write() (a system call) per member per line;
  asyncio written for fan-out, the strongest Python peer here;
* ngircd (Debian's C IRC server, `ngircd -n -f CONF`): the ceiling, there to
  show the load generator had headroom. It runs from a config generated in a
  temporary directory (see NGIRCD_CONF: loopback only, penalties off, no
  per-IP or join limits, no PAM, ident or DNS) and is stopped by its PID. When
  ngircd is not installed its rows say "skipped: install ngircd".

Where things run: each server is a process of its own on 127.0.0.1, pinned to
one core with taskset; the load comes from bench/loadgen.c's `irc` mode (one
epoll thread, compiled on first use) pinned to another core. The table is
measured both ways round, one table per pinning: the server on each core of
--server-cores in turn (default 0 then 1), the load generator on the lowest
other core (`--quick`: the first pinning only).

The load (loadgen.c "irc mode" says exactly what is checked):

* 100 clients register (NICK bN, USER) and JOIN #bench; once all are in (366),
  10 of them send `PRIVMSG #bench :<seq> <send-time-ns> <fill>` lines of 64
  bytes of text, each sender with at most 64 lines that have not yet reached
  every other client (so the per-receiver backlog is bounded whatever the
  server does);
* every client parses every line, counts each PRIVMSG as a delivery, takes its
  latency from the send time inside the text, checks each sender's order and
  answers PING; TCP_NODELAY is set on every client socket and TCP_QUICKACK
  after every read (ngircd does not set TCP_NODELAY, so a delayed ACK would
  hold its next write back).

Each cell is the median of --repeat runs of --seconds, the servers taking
turns (A B C A B C ...), each run in a fresh server process. Columns:
deliveries/s; p99 and max delivery latency (us; with 10 x 64 lines in flight
for 99 receivers, latency is mostly queueing: Little's law); "CPU us/del":
the server process's user + system CPU (/proc/PID/stat, all threads) from
just before to just after the load generator ran, divided by the deliveries
it counted (it includes registering and joining); "x asyncio", "x buffered"
and "x ngircd": actornet's deliveries/s relative to theirs (>1: actornet is
faster);
"loadgen CPU": the load generator's CPU share during the measured seconds
(near 100% it may be the limit); "errors": the load generator's error counts
(lost, out of order, corrupt or unexpected lines, refusals, stalls) over all
runs, which must be 0 for a valid figure.

Idle memory (first pinning only): each server in a fresh process; its RSS
(/proc/PID/status VmRSS) once settled, then `loadgen irc-idle` registers
--idle-clients clients (2,000; 50 to a channel) and holds them; the RSS once
settled again, minus the first, divided by the clients, is the memory per
idle registered client.

Run: python -m bench.irc [--repeat 3] [--seconds 5] [--server-cores 0,1]
                         [--servers actornet,asyncio,asyncio-buffered,ngircd]
                         [--idle-clients 2000]
                         [--ngircd PATH] [--quick]
--quick: 1 run of 2 s, the first pinning only, 500 idle clients.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bench._common import format_table, headroom_notes, number, ratio, times
from bench._servers import (
    ROOT,
    START_TIMEOUT,
    Pinning,
    ServerDidNotStartError,
    _pinned,
    build_loadgen,
    cpu_seconds,
    free_port,
    parse_cores,
    parse_pairs,
    pinnings_for,
    run_loadgen_measured,
    start_loadgen,
    stop,
    wait_for_rss_to_settle,
    wait_listening,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

HOST = "127.0.0.1"
ACTORNET = "actornet"
BASELINE = "asyncio"
BUFFERED = "asyncio-buffered"
CEILING = "ngircd"
SERVERS = (ACTORNET, BASELINE, BUFFERED, CEILING)
LABELS = {
    ACTORNET: "actornet",
    BASELINE: "asyncio (baseline)",
    BUFFERED: "asyncio, buffered",
    CEILING: "ngircd (ceiling)",
}
CLIENTS = 100
SENDERS = 10
TEXT_BYTES = 64
WINDOW = 64
IDLE_CLIENTS = 2000
ACTORNET_ARGV = [
    *("-m", "examples.chat", "serve", "--host", HOST, "--port", "0"),
    *("--http-port", "0", "--irc-port", "0", "--rate-limit", "0"),
    *("--stats-interval", "0", "--log-level", "WARNING"),
]
_ACTORNET_START = re.compile(r"IRC on [^ ]+:(\d+),")
#: Seconds a load generator run may take beyond --seconds: registering and
#: joining (at most 60 s, see IRC_SETUP_NS) and the settle, with room.
LOADGEN_SLACK = 90.0
#: Seconds the idle clients may take to register and join.
IDLE_SETUP_TIMEOUT = 90.0
NGIRCD_CONF = """\
[Global]
Name = bench.irc.invalid
Info = bench/irc.py ceiling
Listen = {host}
Ports = {port}
MotdPhrase = bench
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
"""


@dataclass(frozen=True)
class Sample:
    """One load generator run against one server."""

    rate: float
    p99: float
    max: float
    cpu_us: float
    loadgen_cpu: float
    errors: float


@dataclass
class Cell:
    """Every run of one server under one pinning."""

    samples: list[Sample] = field(default_factory=list)
    failed: int = 0

    def median(self, name: str) -> float:
        if not self.samples:
            return math.nan
        return float(statistics.median(getattr(sample, name) for sample in self.samples))

    def errors(self) -> float:
        return sum(sample.errors for sample in self.samples)


@dataclass(frozen=True)
class Idle:
    """RSS before and after the idle clients, in KiB."""

    clients: int
    before: int
    after: int

    @property
    def per_client(self) -> float:
        return (self.after - self.before) / self.clients if self.clients else math.nan


def _read_then_close(stream: IO[str], lines: queue.Queue[str]) -> None:
    with stream:
        lines.put(stream.readline())
        for _ in stream:
            pass


def start_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Return the first line `process` prints ("" if none within `timeout` s).

    Like bench._servers.first_line(), but the reading thread closes the pipe
    once the process has exited, so no file is left for the garbage collector.
    """
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_then_close, args=(process.stdout, lines), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def _find_ngircd(option: str | None) -> str | None:
    """Return the ngircd binary to run, or None if there is none."""
    if option:
        return shutil.which(option)
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    return shutil.which("ngircd", path=path)


@contextlib.contextmanager
def _running(server: str, core: int, ngircd: str | None) -> Iterator[tuple[int, int]]:
    """Start one server pinned to `core`; yield its PID and IRC port once it listens."""
    with contextlib.ExitStack() as stack:
        if server == CEILING:
            assert ngircd is not None
            port = free_port()
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-irc-")))
            conf = directory / "ngircd.conf"
            conf.write_text(NGIRCD_CONF.format(host=HOST, port=port), encoding="ascii")
            conf.chmod(0o644)  # ngircd may drop root for "nobody" before it re-reads it
            directory.chmod(0o755)
            argv = [ngircd, "-n", "-f", str(conf)]
        elif server in (BASELINE, BUFFERED):
            port = free_port()
            argv = [sys.executable, "-m", "bench.peers.asyncio_irc", "--host", HOST,
                    "--port", str(port), *(["--buffered"] if server == BUFFERED else [])]
        else:
            port = 0
            argv = [sys.executable, *ACTORNET_ARGV]
        stdout = subprocess.DEVNULL if server == CEILING else subprocess.PIPE
        process = subprocess.Popen(_pinned(core, argv), cwd=ROOT, stdout=stdout,
                                   stderr=subprocess.DEVNULL, text=True)
        stack.callback(stop, process)
        if server == CEILING:
            wait_listening(process, port)
        else:
            line = start_line(process, START_TIMEOUT)
            if "listening" not in line:
                raise ServerDidNotStartError(f"its first line was {line!r}")
            if server == ACTORNET:
                match = _ACTORNET_START.search(line)
                if match is None:
                    raise ServerDidNotStartError(f"no IRC port in its start line {line!r}")
                port = int(match.group(1))
        yield process.pid, port


def _measure(server: str, pinning: Pinning, seconds: float, ngircd: str | None) -> Sample:
    """One run; raises ServerDidNotStartError, or RuntimeError if the load generator failed."""
    with _running(server, pinning.server, ngircd) as (pid, port):
        args = ["irc", HOST, str(port), str(CLIENTS), str(SENDERS), str(TEXT_BYTES),
                str(seconds), str(WINDOW)]
        before = cpu_seconds(pid)
        run = run_loadgen_measured(args, timeout=seconds + LOADGEN_SLACK, core=pinning.loadgen)
        after = cpu_seconds(pid)
    result = run.result
    count = result.get("count", 0.0)
    return Sample(
        rate=result.get("rate", 0.0),
        p99=result.get("p99_us", math.nan),
        max=result.get("max_us", math.nan),
        cpu_us=(after - before) / count * 1e6 if count else math.nan,
        loadgen_cpu=result.get("cpu_pct", math.nan),
        errors=result.get("errors", 0.0),
    )


def _idle(server: str, pinning: Pinning, clients: int, ngircd: str | None) -> Idle:
    """Measure one server's RSS before and after `clients` idle registered clients."""
    with _running(server, pinning.server, ngircd) as (pid, port):
        before = wait_for_rss_to_settle(pid, 0.5)
        hold = IDLE_SETUP_TIMEOUT + 60
        loadgen = start_loadgen(["irc-idle", HOST, str(port), str(clients), str(hold)],
                                pinning.loadgen)
        try:
            line = start_line(loadgen, IDLE_SETUP_TIMEOUT)
            result = parse_pairs(line)
            if not line or result.get("errors", 1.0):
                raise RuntimeError(f"the idle clients did not all join: {line.strip()!r}")
            after = wait_for_rss_to_settle(pid, 1.0)
        finally:
            stop(loadgen)
    return Idle(int(result.get("joined", 0)), before, after)


def _run_pinning(pinning: Pinning, servers: Sequence[str], *, repeat: int, seconds: float,
                 ngircd: str | None, broken: dict[str, str]) -> dict[str, Cell]:
    cells = {server: Cell() for server in servers}
    started = time.monotonic()
    for attempt in range(1, repeat + 1):
        for server in servers:
            if server in broken:
                continue
            try:
                sample = _measure(server, pinning, seconds, ngircd)
            except ServerDidNotStartError as exc:
                broken[server] = f"did not start: {exc}"
                print(f"{LABELS[server]}: skipping its remaining runs: {broken[server]}",
                      file=sys.stderr)
                continue
            except RuntimeError as exc:
                cells[server].failed += 1
                print(f"{LABELS[server]}: run failed ({exc})", file=sys.stderr)
                continue
            cells[server].samples.append(sample)
            print(f"  {time.monotonic() - started:4.0f} s  {server} run {attempt}: "
                  f"{sample.rate:,.0f} deliveries/s, p99 {sample.p99:,.0f} us, "
                  f"errors {sample.errors:.0f}", file=sys.stderr)
    return cells


def _table(cells: dict[str, Cell]) -> tuple[str, list[str]]:
    header = ["server", "deliveries/s", "p99 us", "max us", "CPU us/del", "x asyncio",
              "x buffered", "x ngircd", "loadgen CPU", "errors", "failed"]
    rows: list[list[str]] = []
    notes: list[str] = []
    ours = cells[ACTORNET].median("rate") if ACTORNET in cells else math.nan
    ceiling = cells[CEILING].median("rate") if CEILING in cells else math.nan
    for server, cell in cells.items():
        runs = len(cell.samples) + cell.failed
        busy = cell.median("loadgen_cpu")
        versus = {
            other: ratio(ours, cells[other].median("rate")) if other in cells else math.nan
            for other in (BASELINE, BUFFERED, CEILING)
        }
        rows.append([
            LABELS[server],
            number(cell.median("rate")),
            number(cell.median("p99")),
            number(cell.median("max")),
            number(cell.median("cpu_us"), 2),
            times(versus[BASELINE]) if server == ACTORNET else "",
            times(versus[BUFFERED]) if server == ACTORNET else "",
            times(versus[CEILING]) if server == ACTORNET else "",
            "-" if math.isnan(busy) else f"{busy:.0f}%",
            number(cell.errors()),
            f"{cell.failed} of {runs}" if runs else "not run",
        ])
        if cell.errors() or cell.failed:
            notes.append(f"{LABELS[server]}: the load generator counted errors or failed runs "
                         "(its messages are on stderr); not a valid measurement")
        notes += headroom_notes(
            LABELS[server], loadgen_pct=busy, rate=cell.median("rate"),
            ceiling_rate=None if server == CEILING else ceiling, ceiling="ngircd",
        )
    return format_table(header, rows), notes


def _idle_table(idle: dict[str, Idle]) -> str:
    header = ["server", "clients", "RSS before MiB", "RSS after MiB", "KiB per client"]
    rows = [
        [LABELS[server], number(m.clients), number(m.before / 1024, 1),
         number(m.after / 1024, 1), number(m.per_client, 1)]
        for server, m in idle.items()
    ]
    return format_table(header, rows)


def _servers(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown server(s) {unknown}; choose from {','.join(SERVERS)}")
    return list(dict.fromkeys(names))


def main(argv: Sequence[str] | None = None) -> None:
    """Run every chosen server under each pinning, then the idle clients; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=_servers, default=list(SERVERS),
                        help=f"comma-separated, from {','.join(SERVERS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    parser.add_argument("--server-cores", type=parse_cores, default=[0, 1],
                        help="cores the servers take turns on, one table each (default 0,1)")
    parser.add_argument("--idle-clients", type=int, default=IDLE_CLIENTS,
                        help=f"idle registered clients for the memory figure (default "
                        f"{IDLE_CLIENTS:,}; 0 skips it)")
    parser.add_argument("--ngircd", default=None, metavar="PATH",
                        help="the ngircd binary (default: ngircd on PATH or in /usr/sbin)")
    parser.add_argument("--quick", action="store_true",
                        help="1 run of 2 s, the first pinning only, 500 idle clients")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.repeat > 100 or not 0 < args.seconds <= 600:
        parser.error("--repeat must be 1..100 and --seconds in (0, 600]")
    pinnings = pinnings_for(args.server_cores, "bench.irc")
    if args.quick:
        args.repeat, args.seconds = 1, min(args.seconds, 2.0)
        args.idle_clients = min(args.idle_clients, 500)
        pinnings = pinnings[:1]
    build_loadgen()
    servers: list[str] = list(args.servers)
    skipped: dict[str, str] = {}
    ngircd = _find_ngircd(args.ngircd) if CEILING in servers else None
    if CEILING in servers and ngircd is None:
        skipped[CEILING] = (f"skipped: install ngircd (Debian: apt-get install ngircd); "
                            f"{args.ngircd or 'ngircd'} not found")
        print(f"{LABELS[CEILING]}: {skipped[CEILING]}", file=sys.stderr)
        servers.remove(CEILING)
    if not servers:
        raise SystemExit("bench.irc: none of the chosen servers can run")
    print(f"bench.irc: {', '.join(LABELS[s] for s in servers)}; {args.repeat} x "
          f"{args.seconds:g} s per pinning; {CLIENTS} clients, {SENDERS} sending "
          f"{TEXT_BYTES} B, window {WINDOW}", file=sys.stderr)
    started = time.monotonic()
    broken: dict[str, str] = {}
    for pinning in pinnings:
        cells = _run_pinning(pinning, servers, repeat=args.repeat, seconds=args.seconds,
                             ngircd=ngircd, broken=broken)
        table, notes = _table({s: c for s, c in cells.items() if s not in broken or c.samples})
        print(f"\n== {pinning.label}; median of {args.repeat} x {args.seconds:g} s; "
              f"{CLIENTS} clients in #bench, {SENDERS} sending {TEXT_BYTES} B PRIVMSGs, "
              f"window {WINDOW}; x asyncio / x buffered / x ngircd: actornet's deliveries/s "
              "relative to theirs, >1 is better; ngircd is the ceiling")
        print(table)
        for note in notes:
            print(f"note: {note}")
        sys.stdout.flush()
    if args.idle_clients > 0:
        idle: dict[str, Idle] = {}
        for server in servers:
            if server in broken:
                continue
            try:
                idle[server] = _idle(server, pinnings[0], args.idle_clients, ngircd)
            except RuntimeError as exc:  # ServerDidNotStartError included
                print(f"{LABELS[server]}: idle memory not measured: {exc}", file=sys.stderr)
        print(f"\n== idle memory: {args.idle_clients:,} registered clients, 50 to a channel, "
              f"{pinnings[0].label}; RSS from /proc/PID/status; per client = (after - before) "
              "/ clients")
        print(_idle_table(idle))
    for server, reason in {**skipped, **broken}.items():
        print(f"{LABELS[server]}: {reason}")
    print(f"\ntook {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
