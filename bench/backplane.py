"""Chat relay across processes: the example chat without Redis, with it, and two workers through it.

Every configuration serves the same load, bench/loadgen.c's `chat` mode: 100
clients say Hello and Join #bench, then 10 of them send 64-byte Says as fast as
their own echoes come back (64 outstanding each); every client counts every Said
as a delivery and takes its latency from the send time in the text. Servers:

* `one process`: `python -m examples.chat serve`, rooms in the process;
* `one process + Redis`: the same with `--redis` (each line is published, and
  comes back to the same process, which drops it);
* `2 workers + Redis`: `--workers 2 --redis` on one port: the kernel spreads the
  clients over the two workers, so most deliveries cross Redis;
* `asyncio relay`: bench/peers/asyncio_chat.py, the peer of bench.chat.

The server, its workers and `redis-server` (a fresh one per run, nothing on disk)
are pinned to one core and the load generator to the other, so the Redis rows
measure overhead, not scaling. Each cell is the median of --repeat runs, the
configurations taking turns; both pinnings are run. CPU figures are those of the
whole run (setup included) divided by its deliveries: server CPU sums the
supervisor and its workers; Redis CPU is per line published.

Last, Redis alone: its CPU per turn published the way RedisBackplane publishes one
(PUBLISH + XADD + PEXPIRE) with S = 1, 2, 4, 8 subscribed connections, for turns of 1
and 16 lines, fitted as a + b x S, and what one Redis core would then carry for N
machines of 2 workers each.

Run: python -m bench.backplane [--repeat 3] [--seconds 4] [--quick] [--server-cores 0,1]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench._common import format_table, median, number
from bench._servers import (
    _pinned,
    build_loadgen,
    cpu_seconds,
    free_port,
    parse_cores,
    pinnings_for,
    run_loadgen_measured,
    running_server,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from redis.typing import EncodableT, FieldT

CLIENTS = 100
SENDERS = 10
TEXT_BYTES = 64
CHAT = [
    *("examples.chat", "serve", "--rate-limit", "0", "--stats-interval", "0"),
    *("--log-level", "WARNING", "--http-port", "0", "--irc-port", "0"),
]
CONFIGS = ("one process", "one process + Redis", "2 workers + Redis", "asyncio relay")
#: Seconds redis-server may take to answer PING.
REDIS_START = 10.0


@dataclass
class Cell:
    """Every run of one configuration under one pinning."""

    rate: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    worst: list[float] = field(default_factory=list)
    server_us: list[float] = field(default_factory=list)
    redis_us: list[float] = field(default_factory=list)
    lines_per_publish: list[float] = field(default_factory=list)
    loadgen_pct: list[float] = field(default_factory=list)
    errors: float = 0.0
    lost: float = 0.0


@contextlib.contextmanager
def _redis(core: int) -> Iterator[tuple[str, int, int]]:
    """Start a fresh redis-server pinned to `core`; yield its URL, PID and port; stop it by PID."""
    program = shutil.which("redis-server")
    if program is None:
        raise SystemExit("bench.backplane needs redis-server (apt-get install redis-server)")
    port = free_port()
    argv = [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    process = subprocess.Popen(
        _pinned(core, [*argv, "no", "--loglevel", "warning"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + REDIS_START
        while not _answers_ping(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"redis-server on port {port} did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process.pid, port
    finally:
        process.kill()
        process.wait()


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _publishes(port: int) -> float:
    """Return how many PUBLISH commands the Redis on `port` has run (INFO commandstats)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"INFO commandstats\r\n")
        stream = sock.makefile("rb")
        header = stream.readline()  # a bulk string: $LENGTH, then that many bytes
        if not header.startswith(b"$"):
            raise RuntimeError(f"INFO commandstats answered {header!r}")
        reply = stream.read(int(header[1:]))
    for line in reply.decode().splitlines():
        if line.startswith("cmdstat_publish:"):
            return float(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0.0


def _family(pid: int) -> list[int]:
    """Return `pid` and its children's PIDs (a supervisor and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii").split()
    return [pid, *(int(child) for child in children)]


def _run_one(config: str, server_core: int, loadgen_core: int, seconds: float) -> dict[str, float]:
    with contextlib.ExitStack() as stack:
        redis_pid = redis_port = None
        if config == "asyncio relay":
            argv = ["bench.peers.asyncio_chat", "--rate-limit", "0"]
        else:
            argv = list(CHAT)
            if "Redis" in config:
                url, redis_pid, redis_port = stack.enter_context(_redis(server_core))
                argv += ["--redis", url]
            if config.startswith("2 workers"):
                argv += ["--workers", "2"]
        port = free_port()
        server = stack.enter_context(running_server(argv, port, core=server_core))
        pids = _family(server.pid)
        before = sum(cpu_seconds(pid) for pid in pids)
        redis_before = cpu_seconds(redis_pid) if redis_pid else 0.0
        args = ["chat", "127.0.0.1", str(port), str(CLIENTS), str(SENDERS), str(TEXT_BYTES)]
        run = run_loadgen_measured([*args, str(seconds)], seconds + 60, loadgen_core)
        server_cpu = sum(cpu_seconds(pid) for pid in pids) - before
        redis_cpu = cpu_seconds(redis_pid) - redis_before if redis_pid else 0.0
        result = dict(run.result)
        count = max(result.get("count", 0.0), 1.0)
        result["server_us"] = server_cpu / count * 1e6
        result["redis_us_per_line"] = redis_cpu / (count / CLIENTS) * 1e6 if redis_pid else 0.0
        publishes = _publishes(redis_port) if redis_port else 0.0
        result["lines_per_publish"] = count / CLIENTS / publishes if publishes else 0.0
        result["loadgen_pct"] = 100 * run.cpu_seconds / run.wall_seconds
        result["processes"] = len(pids)
        return result


def _add(cell: Cell, result: dict[str, float]) -> None:
    cell.rate.append(result["rate"])
    cell.p50.append(result["p50_us"] / 1000)
    cell.p99.append(result["p99_us"] / 1000)
    cell.worst.append(result["max_us"] / 1000)
    cell.server_us.append(result["server_us"])
    cell.redis_us.append(result["redis_us_per_line"])
    cell.lines_per_publish.append(result["lines_per_publish"])
    cell.loadgen_pct.append(result["loadgen_pct"])
    cell.errors += result.get("errors", 0.0)
    cell.lost += result.get("lost", 0.0)


def _table(cells: dict[str, Cell], label: str, repeat: int) -> str:
    base = median(cells["one process"].rate)
    rows = []
    for config in CONFIGS:
        cell = cells[config]
        rate = median(cell.rate)
        redis = median(cell.redis_us)
        rows.append(
            [
                config,
                number(rate),
                f"{rate / base:.2f}x" if base else "-",
                number(median(cell.p50), 1),
                number(median(cell.p99), 1),
                number(median(cell.worst), 1),
                number(median(cell.server_us), 2),
                number(redis, 1) if redis else "-",
                number(median(cell.lines_per_publish), 1) if redis else "-",
                number(median(cell.loadgen_pct)),
                f"{cell.errors:.0f}/{cell.lost:.0f}",
            ]
        )
    header = [
        "server",
        "deliveries/s",
        "x one process",
        "p50 ms",
        "p99 ms",
        "max ms",
        "server CPU us/delivery",
        "Redis CPU us/line",
        "lines/PUBLISH",
        "loadgen CPU %",
        "errors/lost",
    ]
    return f"{label} (median of {repeat})\n{format_table(header, rows)}"


def _redis_cost(core: int, subscribers: int, lines: int, groups: int) -> float:
    """Return Redis's CPU (us) per turn published as RedisBackplane publishes it.

    A turn is PUBLISH (`lines` lines, encoded as the backplane does) + XADD (one
    entry of `lines` lines) + PEXPIRE, sent in pipelines of 512 commands, to a
    Redis with `subscribers` raw connections subscribed to the channel, each
    reading and discarding what arrives.
    """
    import redis  # noqa: PLC0415 - only this measurement needs redis-py

    from examples.chat.backplane import encode_events  # noqa: PLC0415
    from examples.chat.events import MessageSaid  # noqa: PLC0415

    with _redis(core) as (_, pid, port):
        readers = []
        for _ in range(subscribers):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"SUBSCRIBE chat:room:#bench\r\n")
            readers.append(sock)
        stop = threading.Event()

        def drain(sock: socket.socket) -> None:
            sock.settimeout(0.2)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    if not sock.recv(1 << 20):
                        return

        threads = [threading.Thread(target=drain, args=(r,), daemon=True) for r in readers]
        for thread in threads:
            thread.start()
        said = [MessageSaid("#bench", "b1", "x" * TEXT_BYTES, 1) for _ in range(lines)]
        data = encode_events("bench", [(line, ()) for line in said])
        entry: dict[FieldT, EncodableT] = {}
        for index in range(lines):
            entry[f"n{index}"], entry[f"t{index}"] = "b1", "x" * TEXT_BYTES
            entry[f"ms{index}"] = 1
        client = redis.Redis(port=port)
        pipe = client.pipeline(transaction=False)
        before = cpu_seconds(pid)
        for _ in range(groups):
            pipe.publish("chat:room:#bench", data)
            pipe.xadd("chat:history:#bench", entry, maxlen=50, approximate=True)
            pipe.pexpire("chat:history:#bench", 30_000)
            if len(pipe) >= 510:
                pipe.execute()
        pipe.execute()
        client.ping()  # every command above has run
        used = cpu_seconds(pid) - before
        stop.set()
        for thread in threads:
            thread.join()
        for sock in readers:
            sock.close()
        client.close()
        return used / groups * 1e6


def _capacity(core: int) -> str:
    """Measure Redis's cost per turn published against S subscribed processes; size Redis."""
    groups = 50_000
    sizes = (1, 16)
    subscribers = (1, 2, 4, 8)
    cost = {(s, n): _redis_cost(core, s, n, groups) for n in sizes for s in subscribers}
    lines = [
        (
            f"Redis CPU per turn published (PUBLISH + XADD + PEXPIRE, {groups:,} turns, "
            f"{TEXT_BYTES}-byte lines; Redis on core {core}), by subscribed processes S:"
        )
    ]
    header = ["lines per turn", *(f"S={s}" for s in subscribers), "a (us)", "b (us per S)"]
    rows = []
    fits = {}
    for n in sizes:
        # Least squares of cost = a + b x S over the measured S.
        xs, ys = list(subscribers), [cost[s, n] for s in subscribers]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
        fits[n] = (mean_y - slope * mean_x, slope)
        rows.append([str(n), *(number(cost[s, n], 1) for s in subscribers)])
        rows[-1] += [number(fits[n][0], 1), number(fits[n][1], 2)]
    lines.append(format_table(header, rows))
    lines.append(
        "On paper, from that fit: the lines/s one Redis core (it is single-threaded) carries "
        "for busy rooms whose members are on every process, N machines of 2 workers each "
        f"(each line reaching {CLIENTS} members):"
    )
    header = ["machines", "processes S"]
    for n in sizes:
        header += [f"lines/s, {n}/turn", f"deliveries/s, {n}/turn"]
    rows = []
    for machines in (1, 2, 4, 8, 16, 32):
        s = 2 * machines
        row = [str(machines), str(s)]
        for n in sizes:
            a, b = fits[n]
            per_line = (a + b * s) / n
            row += [number(1e6 / per_line), number(1e6 / per_line * CLIENTS)]
        rows.append(row)
    lines.append(format_table(header, rows))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run every configuration under each pinning and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--quick", action="store_true", help="1 repeat, 2 s")
    parser.add_argument(
        "--server-cores", type=parse_cores, default=[0, 1], help="server cores to run with"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.seconds = 1, 2.0
    build_loadgen()
    started = time.monotonic()
    tables = []
    all_cells = []
    for pinning in pinnings_for(args.server_cores, "bench.backplane"):
        cells = {config: Cell() for config in CONFIGS}
        for attempt in range(1, args.repeat + 1):
            for config in CONFIGS:
                result = _run_one(config, pinning.server, pinning.loadgen, args.seconds)
                _add(cells[config], result)
                print(
                    f"  {pinning.label}, {config}, run {attempt}: "
                    + " ".join(f"{key}={value:.6g}" for key, value in result.items()),
                    file=sys.stderr,
                )
        tables.append(_table(cells, pinning.label, args.repeat))
        all_cells.append(cells)
    print("\n\n".join(tables))
    print()
    print(_capacity(args.server_cores[0]))
    print(f"took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
