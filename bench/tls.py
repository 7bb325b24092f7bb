"""TLS: handshakes per second and TLS echo, actornet beside asyncio streams, same run.

Three servers, each terminating TLS with the same trustme certificate (made in a
temporary directory, never kept) and echoing 4-byte big-endian length + payload
frames:

* actornet: `python -m examples.echo --tls-cert FILE --tls-key FILE`;
* asyncio streams: `python -m bench.peers.asyncio_streams echo --tls-cert ...
  --tls-key ...` (`start_server(ssl=...)`, a task per connection), the baseline
  every ratio is taken against;
* C: `loadgen tls-echo-server` (bench/loadgen.c, one epoll thread, OpenSSL,
  every byte read written back): the ceiling, there to show the load generator
  had headroom.

The load comes from bench/loadgen.c, built with its TLS modes (OpenSSL), which
checks every byte it gets back:

* handshakes: `loadgen tls-handshakes`, 16 full TLS 1.3 handshakes in flight
  (no resumption), each connection closed once established and replaced; the
  handshake itself is OpenSSL's cost on every server, so what differs is what
  each adds around it (accepting, the memory BIOs or the SSL transport, the
  actors or tasks, closing);
* echo 100 connections x 4 frames in flight x 64 B, and 1,000 x 1 x 512 B
  (`loadgen tls-echo`; the handshakes are done before the clock starts, and
  the CPU columns count only the time the clock ran).

Each server is pinned to one core and the load generator to another, both ways
round (one table per pinning); servers take turns (A B C A B C ...) and each cell
is the median of --repeat runs of --seconds. Columns as in bench.echo: rate;
"x asyncio", the ratio of medians to asyncio streams, >1 is better; p50, p99,
max latency in microseconds (handshake: connect to established; echo: round
trip); "CPU us/op", the server process's user + system CPU per handshake or
round trip (/proc/PID/stat), the least noisy figure on shared cores; "loadgen
CPU", the load generator's CPU as a share of the run; errors.

Targets, per pinning, against asyncio streams: >= 1.0x on both echo loads and
on handshakes/s. The target table also gives actornet's CPU per operation as a
multiple of asyncio's (<1 is better): the handshake rate is close to the load
generator's own limit (compare the ceiling's), so CPU per handshake is what tells
the servers apart there.

Run: python -m bench.tls [--repeat 3] [--seconds 4] [--server-cores 0,1] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trustme

from bench._common import format_table, headroom_notes, number, ratio, times, verdict
from bench._servers import (
    ROOT,
    START_TIMEOUT,
    Pinning,
    _pinned,
    build_loadgen,
    first_line,
    free_port,
    parse_cores,
    pinnings_for,
    stop,
)
from bench.echo import Cell, Sample, measure_server

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

HOST = "127.0.0.1"
ACTORNET = "actornet"
BASELINE = "asyncio streams"
CEILING = "C + OpenSSL (ceiling)"
SERVERS = (ACTORNET, BASELINE, CEILING)
#: Handshakes the load generator keeps in flight.
HANDSHAKE_CONCURRENCY = 16


@dataclass(frozen=True)
class Load:
    """One load of the table: its title, unit and the load generator's arguments."""

    title: str
    unit: str
    mode: str
    args: tuple[int, ...]


LOADS = (
    Load(
        f"handshakes, {HANDSHAKE_CONCURRENCY} in flight",
        "handshakes/s",
        "tls-handshakes",
        (HANDSHAKE_CONCURRENCY,),
    ),
    Load("echo 100 conns x 4 in flight x 64 B", "round trips/s", "tls-echo", (100, 4, 64)),
    Load("echo 1,000 conns x 1 in flight x 512 B", "round trips/s", "tls-echo", (1000, 1, 512)),
)


def _certificates(directory: Path) -> tuple[Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    chain, key = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    return chain, key


def _server_argv(name: str, port: int, chain: Path, key: Path) -> list[str]:
    if name == CEILING:
        return [str(build_loadgen(tls=True)), "tls-echo-server", str(port), str(chain), str(key)]
    tls = ["--tls-cert", str(chain), "--tls-key", str(key)]
    address = ["--host", HOST, "--port", str(port)]
    if name == BASELINE:
        return [sys.executable, "-m", "bench.peers.asyncio_streams", "echo", *address, *tls]
    return [sys.executable, "-m", "examples.echo", *address, "--log-level", "WARNING", *tls]


@contextlib.contextmanager
def _server(name: str, core: int, chain: Path, key: Path) -> Iterator[tuple[int, int]]:
    """Start one server pinned to `core`; yield its PID and port once it listens."""
    port = free_port()
    process = subprocess.Popen(
        _pinned(core, _server_argv(name, port, chain, key)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        if "listening" not in first_line(process, START_TIMEOUT):
            raise RuntimeError(f"{name} did not start")
        yield process.pid, port
    finally:
        stop(process)


def _measure(
    load: Load, name: str, pinning: Pinning, seconds: float, certs: tuple[Path, Path]
) -> Sample:
    with _server(name, pinning.server, *certs) as (pid, port):
        args = [load.mode, HOST, str(port), *map(str, load.args), str(seconds)]
        if load.mode == "tls-echo":  # CPU counted while the clock runs, not while connecting
            args.append(str(pid))
        return measure_server(pid, args, pinning, seconds, f"{name}, {load.title}")


def _run_pinning(
    pinning: Pinning, repeat: int, seconds: float, certs: tuple[Path, Path]
) -> dict[tuple[str, str], Cell]:
    cells: dict[tuple[str, str], Cell] = {}
    started = time.monotonic()
    for load in LOADS:
        for _ in range(repeat):
            for name in SERVERS:
                sample = _measure(load, name, pinning, seconds, certs)
                cells.setdefault((load.title, name), Cell()).samples.append(sample)
        print(
            f"  {time.monotonic() - started:4.0f} s  done: {load.title} ({pinning.label})",
            file=sys.stderr,
        )
    return cells


def _table(cells: dict[tuple[str, str], Cell]) -> tuple[str, list[str]]:
    header = [
        "load / server",
        "rate",
        "x asyncio",
        "p50 us",
        "p99 us",
        "max us",
        "CPU us/op",
        "loadgen CPU",
        "errors",
    ]
    rows: list[list[str]] = []
    notes: list[str] = []
    for load in LOADS:
        rows.append([f"{load.title} ({load.unit})", *[""] * (len(header) - 1)])
        baseline = cells[load.title, BASELINE].median("rate")
        ceiling = cells[load.title, CEILING].median("rate")
        for name in SERVERS:
            cell = cells[load.title, name]
            rate, busy = cell.median("rate"), cell.median("loadgen_cpu_pct")
            rows.append(
                [
                    f"  {name}",
                    number(rate),
                    times(ratio(rate, baseline)),
                    number(cell.median("p50"), 1),
                    number(cell.median("p99"), 1),
                    number(cell.median("max"), 1),
                    number(cell.median("cpu_us_per_op"), 1),
                    f"{busy:.0f}%",
                    f"{cell.errors:.0f}",
                ]
            )
            notes += headroom_notes(
                f"{load.title}, {name}",
                loadgen_pct=busy,
                rate=rate,
                ceiling_rate=None if name == CEILING else ceiling,
            )
            if cell.errors:
                notes.append(
                    f"{load.title}, {name}: {cell.errors:.0f} errors; not a valid measurement"
                )
    return format_table(header, rows), notes


def _targets(all_cells: Sequence[tuple[Pinning, dict[tuple[str, str], Cell]]]) -> str:
    header = [
        "target (actornet vs asyncio streams)",
        *(f"server core {p.server} / loadgen {p.loadgen}" for p, _ in all_cells),
    ]
    rows = [[f"{load.title} >= 1.0x"] for load in LOADS]
    for _, cells in all_cells:
        for row, load in zip(rows, LOADS, strict=True):
            ours, theirs = cells[load.title, ACTORNET], cells[load.title, BASELINE]
            value = ratio(ours.median("rate"), theirs.median("rate"))
            # Where the load generator is the limit (handshakes), the rate hardly
            # tells the servers apart; their CPU per operation does.
            cpu = ratio(ours.median("cpu_us_per_op"), theirs.median("cpu_us_per_op"))
            row.append(f"{times(value)} {verdict(value >= 1.0)}, CPU/op {times(cpu)} asyncio's")
    return format_table(header, rows)


def main(argv: Sequence[str] | None = None) -> None:
    """Run every load against every server under each pinning and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each run")
    parser.add_argument(
        "--server-cores",
        type=parse_cores,
        default=[0, 1],
        help="cores the servers take turns on, one table each (default 0,1)",
    )
    parser.add_argument("--quick", action="store_true", help="1 run of 2 s, the first pinning")
    args = parser.parse_args(argv)
    pinnings = pinnings_for(args.server_cores, "bench.tls")
    if args.quick:
        args.repeat, args.seconds = 1, 2.0
        pinnings = pinnings[:1]
    build_loadgen(tls=True)
    started = time.monotonic()
    all_cells = []
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as directory:
        certs = _certificates(Path(directory))
        for pinning in pinnings:
            cells = _run_pinning(pinning, args.repeat, args.seconds, certs)
            all_cells.append((pinning, cells))
            table, notes = _table(cells)
            print(
                f"\n== {pinning.label}; median of {args.repeat} x {args.seconds:g} s; "
                "x asyncio: ratio to asyncio streams, >1 is better"
            )
            print(table)
            for note in notes:
                print(f"note: {note}")
            sys.stdout.flush()
    print()
    print(_targets(all_cells))
    print(f"\ntook {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
