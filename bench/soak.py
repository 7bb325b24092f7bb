"""Soak: the chat server under churn, steady chat and hostile clients, for a set time.

Runs `python -m examples.chat serve` in a subprocess (pinned to core 0 where
possible) and drives it from this process with asyncio clients on loopback:

* steady chatters: --chatters clients in a few rooms, each saying a message
  every --interval seconds with a sequence number and a send timestamp; every
  member checks each sender's messages arrive complete and in order, and
  records delivery latency;
* churn: clients that connect, register, join, say one thing and quit, in a loop;
* hostile clients, one at a time in rotation: a 4 GiB length header, random
  garbage, invalid UTF-8, a frame dribbled byte by byte, a connection that
  never sends (left to the idle timeout), a reset in the middle of a frame, and
  a member that never reads.

Every --report seconds it prints throughput, latency percentiles and the
server's RSS, descriptors, threads and live actors (from /proc and the server's
stats line). At the end the load stops and the server must come back to its
baseline: live actors exactly where they were before the load, descriptors
within 3, threads within 2, RSS within --max-rss-growth-mib. With
--check, any leak or unexpected error makes the exit status 1 (CI runs
`python -m bench.soak --duration 60 --check`).

Run: python -m bench.soak [--duration 300] [--chatters 60] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from protocols import chat

if TYPE_CHECKING:
    from collections.abc import Sequence

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("#soak-a", "#soak-b", "#soak-c")
_STATS = re.compile(r"(\d+) live actors, (\d+) threads")


@dataclass
class Tally:
    """What the soak saw, shared by every client task."""

    delivered: int = 0
    said: int = 0
    churned: int = 0
    hostile: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        """Record an unexpected event (printed, and fatal with --check)."""
        if len(self.errors) < 100:
            self.errors.append(text)


class ChatConnection:
    """A minimal asyncio client of protocols.chat."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = chat.WIRE.decoder()
        self.pending: list[chat.ChatMessage] = []

    @classmethod
    async def open(cls, port: int) -> ChatConnection:
        """Connect to the server on loopback."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, message: chat.ChatMessage) -> None:
        """Queue one message."""
        self.writer.write(chat.WIRE.encode(message))

    async def receive(self) -> chat.ChatMessage | None:
        """Return the next message, or None at EOF."""
        while not self.pending:
            data = await self.reader.read(65536)
            self.decoder.receive_data(data)
            self.pending.extend(self.decoder.events())
            if not data:
                return self.pending.pop(0) if self.pending else None
        return self.pending.pop(0)

    async def register(self, nick: str) -> None:
        """Send Hello and wait for Welcome."""
        self.send(chat.Hello(version=chat.PROTOCOL_VERSION, nick=nick))
        while not isinstance(message := await self.receive(), chat.Welcome):
            if message is None or isinstance(message, chat.Error):
                raise ConnectionError(f"registration of {nick} failed: {message}")

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


async def chatter(
    port: int, index: int, stop: asyncio.Event, tally: Tally, interval: float
) -> None:
    """Say numbered messages in one room and check everyone's arrive in order."""
    nick = f"steady{index}"
    room = ROOMS[index % len(ROOMS)]
    conn = await ChatConnection.open(port)
    await conn.register(nick)
    conn.send(chat.Join(room=room))
    last_seen: dict[str, int] = {}

    async def listen() -> None:
        while (message := await conn.receive()) is not None:
            if isinstance(message, chat.ServerPing):
                conn.send(chat.Pong(token=message.token))
            elif isinstance(message, chat.History) and message.nick.startswith("steady"):
                # Said before this member joined: the sequence continues from here.
                last_seen[message.nick] = int(message.text.partition(" ")[0])
            elif isinstance(message, chat.Said) and message.nick.startswith("steady"):
                seq_text, _, sent_ns = message.text.partition(" ")
                seq = int(seq_text)
                if seq != last_seen.get(message.nick, -1) + 1:
                    previous = last_seen.get(message.nick)
                    tally.error(f"{nick} saw {message.nick} #{seq} after #{previous}")
                last_seen[message.nick] = seq
                tally.delivered += 1
                tally.latencies_ms.append((time.time_ns() - int(sent_ns)) / 1e6)
        if not stop.is_set():
            tally.error(f"{nick} was disconnected during the soak")

    listener = asyncio.create_task(listen())
    seq = 0
    await asyncio.sleep(random.random() * interval)
    while not stop.is_set():
        conn.send(chat.Say(room=room, text=f"{seq} {time.time_ns()}"))
        seq += 1
        tally.said += 1
        await asyncio.sleep(interval)
    conn.send(chat.Quit(reason="soak over"))
    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
        await asyncio.wait_for(listener, 10)
    conn.close()


async def churner(port: int, index: int, stop: asyncio.Event, tally: Tally) -> None:
    """Connect, register, join, say one thing, quit; again and again."""
    cycle = 0
    while not stop.is_set():
        cycle += 1
        try:
            conn = await ChatConnection.open(port)
            await asyncio.wait_for(conn.register(f"churn{index}x{cycle % 1000}"), 10)
            conn.send(chat.Join(room=ROOMS[cycle % len(ROOMS)]))
            conn.send(chat.Say(room=ROOMS[cycle % len(ROOMS)], text="passing through"))
            conn.send(chat.Quit(reason="churn"))
            while await asyncio.wait_for(conn.receive(), 10) is not None:
                pass
            conn.close()
            tally.churned += 1
        except (TimeoutError, OSError) as exc:
            tally.error(f"churn client {index} failed: {exc!r}")
            await asyncio.sleep(0.1)


async def hostile(port: int, stop: asyncio.Event, tally: Tally, rng: random.Random) -> None:
    """Run one misbehaving client after another until told to stop."""
    attacks = [
        _oversize,
        _garbage,
        _bad_utf8,
        _dribble,
        _silent,
        _reset_mid_frame,
        _never_reads,
    ]
    turn = 0
    while not stop.is_set():
        attack = attacks[turn % len(attacks)]
        turn += 1
        try:
            await asyncio.wait_for(attack(port, rng), 30)
            tally.hostile += 1
        except (TimeoutError, OSError) as exc:
            tally.error(f"hostile client {attack.__name__} did not end cleanly: {exc!r}")


async def _expect_error_and_close(conn: ChatConnection) -> None:
    while (message := await conn.receive()) is not None:
        if isinstance(message, chat.Error):
            pass
    conn.close()


async def _oversize(port: int, _rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    conn.writer.write(struct.pack(">I", 0xFFFF_FFFF) + b"\x01" * 64)
    await _expect_error_and_close(conn)


async def _garbage(port: int, rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    payload = rng.randbytes(rng.randrange(1, 200))
    conn.writer.write(struct.pack(">I", len(payload)) + payload)
    await _expect_error_and_close(conn)


async def _bad_utf8(port: int, _rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    payload = b"\x01\x01\x03\xff\xfe\xfd"  # Hello with an invalid UTF-8 nick
    conn.writer.write(struct.pack(">I", len(payload)) + payload)
    await _expect_error_and_close(conn)


async def _dribble(port: int, rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    frame = chat.WIRE.encode(chat.Hello(version=1, nick=f"drip{rng.randrange(10**6)}"))
    for byte in frame:
        conn.writer.write(bytes([byte]))
        await conn.writer.drain()
        await asyncio.sleep(0.01)
    message = await conn.receive()
    if not isinstance(message, chat.Welcome | chat.Error):
        raise ConnectionError(f"a dribbled Hello got {message!r}")
    conn.send(chat.Quit(reason="done dripping"))
    await _expect_error_and_close(conn)


async def _silent(port: int, _rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    await _expect_error_and_close(conn)  # the idle timeout ends it


async def _reset_mid_frame(port: int, rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    frame = chat.WIRE.encode(chat.Hello(version=1, nick=f"cut{rng.randrange(10**6)}"))
    conn.writer.write(frame[: len(frame) // 2])
    await conn.writer.drain()
    sock = conn.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


async def _never_reads(port: int, rng: random.Random) -> None:
    conn = await ChatConnection.open(port)
    sock = conn.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.send(chat.Hello(version=1, nick=f"deaf{rng.randrange(10**6)}"))
    conn.send(chat.Join(room=ROOMS[0]))
    await conn.writer.drain()
    await asyncio.sleep(3)  # hear the room without reading it
    conn.close()


@dataclass
class ServerProbe:
    """Reads the server process's resources from /proc and its stats lines."""

    process: subprocess.Popen[str]
    live_actors: int = -1
    threads_reported: int = -1
    echo_errors: bool = True

    def follow_stats(self) -> None:
        """Parse stats lines from the server's stderr (runs in a thread)."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if match := _STATS.search(line):
                self.live_actors, self.threads_reported = int(match[1]), int(match[2])
            elif self.echo_errors and (" ERROR " in line or line.startswith(("Traceback", " "))):
                print(f"server: {line.rstrip()}", file=sys.stderr)

    def rss_mib(self) -> float:
        """Return the server's resident set size in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fds(self) -> int:
        """Return how many descriptors the server holds."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))  # noqa: PTH208 - a count

    def threads(self) -> int:
        """Return how many threads the server runs."""
        return len(os.listdir(f"/proc/{self.process.pid}/task"))  # noqa: PTH208 - a count


def start_server() -> tuple[subprocess.Popen[str], int]:
    """Start the chat server on a free port; return it and the port."""
    argv = [
        sys.executable, "-m", "examples.chat", "serve", "--port", "0", "--http-port", "0",
        "--irc-port", "0", "--stats-interval", "1", "--log-level", "INFO", "--rate-limit", "0",
        "--idle-timeout", "2",
    ]
    if (os.cpu_count() or 1) > 1 and Path("/usr/bin/taskset").exists():
        argv = ["taskset", "-c", "0", *argv]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening" not in line:
        process.kill()
        raise SystemExit(f"the chat server did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1])


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _wait_for_actors(probe: ServerProbe, at_most: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    # The probe is fed by a thread reading the server's log: poll it.
    while probe.live_actors > at_most and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.5)


async def soak(args: argparse.Namespace) -> int:  # noqa: PLR0912 - one script
    """Run the soak; return the exit status."""
    process, port = start_server()
    probe = ServerProbe(process)
    threading.Thread(target=probe.follow_stats, daemon=True).start()
    tally = Tally()
    rng = random.Random(args.seed)
    try:
        await asyncio.sleep(1.5)  # a first stats line
        base = (probe.fds(), probe.threads(), probe.live_actors, probe.rss_mib())
        print(f"baseline: {base[0]} fds, {base[1]} threads, {base[2]} live actors, "
              f"{base[3]:.1f} MiB RSS")
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(chatter(port, i, stop, tally, args.interval))
            for i in range(args.chatters)
        ]
        tasks += [asyncio.create_task(churner(port, i, stop, tally)) for i in range(args.churners)]
        tasks.append(asyncio.create_task(hostile(port, stop, tally, rng)))
        started = time.monotonic()
        print(f"{'t/s':>5} {'said/s':>8} {'deliv/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'churn':>6} {'hostile':>7} {'RSS MiB':>8} {'fds':>5} {'thr':>4} {'actors':>6}")
        last = (0, 0)
        while (elapsed := time.monotonic() - started) < args.duration:
            await asyncio.sleep(min(args.report, args.duration - elapsed))
            window, tally.latencies_ms = tally.latencies_ms, []
            said, delivered = tally.said - last[0], tally.delivered - last[1]
            last = (tally.said, tally.delivered)
            print(f"{time.monotonic() - started:5.0f} {said / args.report:8.0f} "
                  f"{delivered / args.report:9.0f} {_percentile(window, 0.5):7.1f} "
                  f"{_percentile(window, 0.99):7.1f} {tally.churned:6d} {tally.hostile:7d} "
                  f"{probe.rss_mib():8.1f} {probe.fds():5d} {probe.threads():4d} "
                  f"{probe.live_actors:6d}", flush=True)
            if process.poll() is not None:
                tally.error(f"the server exited with status {process.returncode}")
                break
        stop.set()
        await asyncio.wait(tasks, timeout=30)
        for task in tasks:
            if not task.done():
                task.cancel()
                tally.error("a client task did not finish within 30 s of the stop")
            elif task.exception() is not None:
                tally.error(f"a client task raised {task.exception()!r}")
        await _wait_for_actors(probe, base[2], seconds=15)
        await asyncio.sleep(2)  # one more stats line after the last close
        end = (probe.fds(), probe.threads(), probe.live_actors, probe.rss_mib())
        print(f"after:    {end[0]} fds, {end[1]} threads, {end[2]} live actors, "
              f"{end[3]:.1f} MiB RSS")
        if end[0] > base[0] + 3:
            tally.error(f"descriptor leak: {base[0]} before, {end[0]} after")
        if end[1] > base[1] + 2:
            tally.error(f"thread leak: {base[1]} before, {end[1]} after")
        if end[2] > base[2]:
            tally.error(f"actor leak: {base[2]} live before, {end[2]} after")
        if end[3] - base[3] > args.max_rss_growth_mib:
            tally.error(f"RSS grew {end[3] - base[3]:.1f} MiB (limit {args.max_rss_growth_mib})")
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            tally.error("the server did not shut down within 15 s of SIGINT")
    said_per_s = tally.said / args.duration
    print(f"total: {tally.said} said ({said_per_s:.0f}/s), {tally.delivered} delivered, "
          f"{tally.churned} churn cycles, {tally.hostile} hostile clients, "
          f"{len(tally.errors)} errors")
    if tally.latencies_ms:
        print(f"last window latency: median {statistics.median(tally.latencies_ms):.1f} ms")
    for error in tally.errors:
        print(f"error: {error}")
    return 1 if args.check and tally.errors else 0


def main(argv: Sequence[str] | None = None) -> None:
    """Parse options and run the soak."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--chatters", type=int, default=60)
    parser.add_argument("--churners", type=int, default=4)
    parser.add_argument(
        "--interval", type=float, default=0.2, help="seconds between a chatter's messages"
    )
    parser.add_argument("--report", type=float, default=5.0, help="seconds between report lines")
    parser.add_argument("--max-rss-growth-mib", type=float, default=64.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="exit 1 on a leak or an error")
    args = parser.parse_args(argv)
    raise SystemExit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
