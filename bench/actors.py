"""Compare `actornet.Actor` with `pykka.ThreadingActor` in one run.

What it measures, each `--repeat` times (the median is reported):

1. start+stop cost: start N actors, then stop them all (`ref.stop(block=False)`,
   then wait on every future); microseconds per actor. N is `--actors` for
   actornet and at most 2,000 for ThreadingActor, whose threads are expensive.
2. RSS per idle actor: in a fresh subprocess per runtime and repeat, the growth
   of the resident set (/proc/self/statm, after `gc.collect()`) when N idle
   actors are alive, divided by N. ThreadingActor is capped at 5,000 actors
   (one OS thread each; thread limits are near). The subprocess also reports its
   OS thread count (/proc/self/task) with the actors alive.
3. tell throughput, messages per second: (a) the main thread tells one actor M
   messages, then one ask waits for them to be handled; (b) actor to actor: 100
   pairs of actors pass a counter back and forth until each pair has exchanged
   K messages.
4. ask latency: round trip of `ref.ask()` from the main thread to an echo actor,
   median and p99 in microseconds, over 5,000 asks after 500 warm-up asks.

Ratios are oriented so that >1 means actornet is better: threading/actornet for
costs (time, memory, threads, latency), actornet/threading for throughputs.

Run it from the project root::

    python -m bench.actors                # full run, about 1-2 minutes
    python -m bench.actors --quick        # smoke run, smaller N, well under 20 s
    python -m bench.actors --repeat 5 --actors 50000
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pykka

import actornet
from bench._common import format_table, median, percentile, rss_bytes, thread_count

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Runtime = Literal["actornet", "threading"]
RUNTIMES: tuple[Runtime, Runtime] = ("actornet", "threading")

#: Seconds any single wait may take before the benchmark gives up.
WAIT = 120.0

THREADING_START_STOP_CAP = 2_000
THREADING_MEMORY_CAP = 5_000
PING_PONG_PAIRS = 100
ASK_WARMUP = 500

# Targets, from the actornet design brief.
TARGET_RSS_KIB = 3.0
TARGET_TELL_RATIO = 3.0
TARGET_START_STOP_RATIO = 20.0
TARGET_MAX_THREADS = 16
TARGET_THREADS_AT = 20_000

_INC = "inc"
_GET = "get"
_PING = "ping"
_ROOT = Path(__file__).resolve().parent.parent


# -- actors ---------------------------------------------------------------------


class _Countdown:
    """Event set once `count_down()` has been called `count` times (any thread)."""

    def __init__(self, count: int) -> None:
        self._left = count
        self._lock = threading.Lock()
        self._done = threading.Event()
        if count <= 0:
            self._done.set()

    def count_down(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self._done.set()

    def wait(self, timeout: float) -> None:
        if not self._done.wait(timeout):
            raise TimeoutError(f"countdown not finished within {timeout} s")


class _EchoBehaviour:
    """Answers every message with itself; used idle, and for ask latency."""

    def on_receive(self, message: Any) -> Any:
        return message


class _CounterBehaviour:
    """Counts `_INC` messages; answers `_GET` with the count."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message is _INC:
            self.count += 1
            return None
        if message is _GET:
            return self.count
        raise ValueError(f"unexpected message {message!r}")


class _PingPongBehaviour:
    """Passes ("ball", n) to its peer until n reaches `limit`, then counts down."""

    def __init__(self, done: _Countdown, limit: int) -> None:
        super().__init__()
        self.done = done
        self.limit = limit
        self.peer: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> Any:
        kind, value = message
        if kind == "peer":
            self.peer = value
        elif value >= self.limit:
            self.done.count_down()
        else:
            assert self.peer is not None
            self.peer.tell(("ball", value + 1))
        return None


class ActornetEcho(_EchoBehaviour, actornet.Actor):
    pass


class ThreadingEcho(_EchoBehaviour, pykka.ThreadingActor):
    pass


class ActornetCounter(_CounterBehaviour, actornet.Actor):
    pass


class ThreadingCounter(_CounterBehaviour, pykka.ThreadingActor):
    pass


class ActornetPingPong(_PingPongBehaviour, actornet.Actor):
    pass


class ThreadingPingPong(_PingPongBehaviour, pykka.ThreadingActor):
    pass


ECHO: dict[Runtime, type[pykka.Actor]] = {"actornet": ActornetEcho, "threading": ThreadingEcho}
COUNTER: dict[Runtime, type[pykka.Actor]] = {
    "actornet": ActornetCounter,
    "threading": ThreadingCounter,
}
PING_PONG: dict[Runtime, type[pykka.Actor]] = {
    "actornet": ActornetPingPong,
    "threading": ThreadingPingPong,
}


def _stop_all(refs: Sequence[pykka.ActorRef[Any]]) -> None:
    futures = [ref.stop(block=False) for ref in refs]
    for future in futures:
        future.get(timeout=WAIT)


# -- measurements ---------------------------------------------------------------


def start_stop_us(runtime: Runtime, count: int) -> float:
    """Start `count` actors, stop them all; return microseconds per actor."""
    cls = ECHO[runtime]
    gc.collect()
    began = time.perf_counter()
    refs = [cls.start() for _ in range(count)]
    _stop_all(refs)
    elapsed = time.perf_counter() - began
    return elapsed / count * 1e6


def tell_one_per_s(runtime: Runtime, count: int) -> float:
    """Tell one actor `count` messages from this thread, ask once; return messages/s."""
    ref = COUNTER[runtime].start()
    try:
        ref.ask(_GET, timeout=WAIT)  # the actor is running
        gc.collect()
        began = time.perf_counter()
        for _ in range(count):
            ref.tell(_INC)
        handled = ref.ask(_GET, timeout=WAIT)
        elapsed = time.perf_counter() - began
    finally:
        ref.stop(timeout=WAIT)
    assert handled == count, (handled, count)
    return count / elapsed


def ping_pong_per_s(runtime: Runtime, pairs: int, per_pair: int) -> float:
    """Run `pairs` ping-pong pairs of `per_pair` messages each; return messages/s."""
    cls = PING_PONG[runtime]
    done = _Countdown(pairs)
    refs: list[pykka.ActorRef[Any]] = []
    try:
        for _ in range(pairs):
            ping = cls.start(done, per_pair)
            pong = cls.start(done, per_pair)
            refs += [ping, pong]
            ping.ask(("peer", pong), timeout=WAIT)
            pong.ask(("peer", ping), timeout=WAIT)
        gc.collect()
        began = time.perf_counter()
        for ping in refs[::2]:
            ping.tell(("ball", 1))
        done.wait(WAIT)
        elapsed = time.perf_counter() - began
    finally:
        _stop_all(refs)
    return pairs * per_pair / elapsed


def ask_latencies_us(runtime: Runtime, count: int) -> list[float]:
    """Time `count` asks to an echo actor after a warm-up; return microseconds each."""
    ref = ECHO[runtime].start()
    samples: list[float] = []
    try:
        for _ in range(ASK_WARMUP):
            ref.ask(_PING, timeout=WAIT)
        gc.collect()
        clock = time.perf_counter_ns
        for _ in range(count):
            began = clock()
            ref.ask(_PING, timeout=WAIT)
            samples.append((clock() - began) / 1000)
    finally:
        ref.stop(timeout=WAIT)
    return samples


@dataclass
class MemoryResult:
    """What a memory subprocess reports."""

    actors: int
    rss_before: int
    rss_after: int
    threads: int

    @property
    def per_actor_kib(self) -> float:
        return (self.rss_after - self.rss_before) / self.actors / 1024


def memory_child(runtime: Runtime, count: int) -> None:
    """Run in a fresh process: measure RSS growth for `count` idle actors, print JSON."""
    cls = ECHO[runtime]
    # Warm up: start the dispatcher's threads and run every code path once, so
    # that one-off costs do not land on the actors.
    warm = [cls.start() for _ in range(10)]
    for ref in warm:
        ref.ask(_PING, timeout=WAIT)
    _stop_all(warm)
    del warm
    gc.collect()
    before = rss_bytes()
    refs = [cls.start() for _ in range(count)]
    # One ask each: every actor has run on_start() and is idle.
    futures = [ref.ask(_PING, block=False) for ref in refs]
    for future in futures:
        future.get(timeout=WAIT)
    del futures
    gc.collect()
    result = MemoryResult(count, before, rss_bytes(), thread_count())
    print(json.dumps(result.__dict__), flush=True)
    _stop_all(refs)


def run_memory_child(runtime: Runtime, count: int) -> MemoryResult:
    """Run `memory_child` in a fresh interpreter and parse its report."""
    command = [
        sys.executable,
        "-m",
        "bench.actors",
        "--memory-child",
        runtime,
        "--actors",
        str(count),
    ]
    completed = subprocess.run(  # noqa: PLW1510 - checked below, with stderr shown
        command, cwd=_ROOT, capture_output=True, text=True, timeout=WAIT
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"memory subprocess for {runtime} failed ({completed.returncode}):\n{completed.stderr}"
        )
    fields = json.loads(completed.stdout.strip().splitlines()[-1])
    return MemoryResult(**fields)


# -- driver ---------------------------------------------------------------------


@dataclass
class Sizes:
    """Problem sizes of one run."""

    actornet_actors: int
    threading_start_stop: int
    threading_memory: int
    tells: int
    ping_pong_per_pair: int
    asks: int

    @classmethod
    def for_args(cls, actors: int, *, quick: bool) -> Sizes:
        if quick:
            return cls(actors, min(actors, 200), min(actors, 500), 10_000, 100, 1_000)
        return cls(
            actors,
            min(actors, THREADING_START_STOP_CAP),
            min(actors, THREADING_MEMORY_CAP),
            100_000,
            500,
            5_000,
        )


@dataclass
class Row:
    """One line of the result table."""

    name: str
    actornet: float
    threading: float
    higher_is_better: bool
    unit_format: str
    target: str = "-"
    met: bool | None = None

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.actornet / self.threading
        return self.threading / self.actornet

    def cells(self) -> list[str]:
        status = {None: "", True: "ok", False: "MISSED"}[self.met]
        return [
            self.name,
            format(self.actornet, self.unit_format),
            format(self.threading, self.unit_format),
            f"{self.ratio:.1f}x",
            self.target,
            status,
        ]


def _repeat(repeat: int, measure: Callable[[Runtime], float]) -> dict[Runtime, float]:
    """Measure both runtimes `repeat` times, alternating; return each one's median."""
    samples: dict[Runtime, list[float]] = {runtime: [] for runtime in RUNTIMES}
    for _ in range(repeat):
        for runtime in RUNTIMES:
            samples[runtime].append(measure(runtime))
    return {runtime: median(values) for runtime, values in samples.items()}


def _progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def run(repeat: int, sizes: Sizes) -> list[Row]:
    """Run every measurement; return the table rows."""
    counts: dict[Runtime, int] = {
        "actornet": sizes.actornet_actors,
        "threading": sizes.threading_start_stop,
    }
    rows: list[Row] = []

    _progress("RSS per idle actor (fresh subprocesses)")
    memory_counts: dict[Runtime, int] = {
        "actornet": sizes.actornet_actors,
        "threading": sizes.threading_memory,
    }
    memory: dict[Runtime, list[MemoryResult]] = {runtime: [] for runtime in RUNTIMES}
    for _ in range(repeat):
        for runtime in RUNTIMES:
            memory[runtime].append(run_memory_child(runtime, memory_counts[runtime]))
    rss = {rt: median([m.per_actor_kib for m in memory[rt]]) for rt in RUNTIMES}
    threads = {rt: median([m.threads for m in memory[rt]]) for rt in RUNTIMES}

    _progress("start+stop")
    start_stop = _repeat(repeat, lambda rt: start_stop_us(rt, counts[rt]))
    rows.append(
        Row(
            f"start+stop, us/actor (N={counts['actornet']:,} / {counts['threading']:,})",
            start_stop["actornet"],
            start_stop["threading"],
            higher_is_better=False,
            unit_format=",.1f",
            target=f">= {TARGET_START_STOP_RATIO:g}x",
        )
    )
    rows[-1].met = rows[-1].ratio >= TARGET_START_STOP_RATIO
    if counts["actornet"] != counts["threading"]:
        # The same N for both: a large heap makes the cyclic GC's passes
        # costlier, which the capped ThreadingActor count would not show.
        equal_n = counts["threading"]
        actornet_equal = median([start_stop_us("actornet", equal_n) for _ in range(repeat)])
        rows.append(
            Row(
                f"start+stop, us/actor (equal N={equal_n:,})",
                actornet_equal,
                start_stop["threading"],
                higher_is_better=False,
                unit_format=",.1f",
                target=f">= {TARGET_START_STOP_RATIO:g}x",
            )
        )
        rows[-1].met = rows[-1].ratio >= TARGET_START_STOP_RATIO
    rows.append(
        Row(
            "RSS per idle actor, KiB "
            f"(N={memory_counts['actornet']:,} / {memory_counts['threading']:,})",
            rss["actornet"],
            rss["threading"],
            higher_is_better=False,
            unit_format=",.2f",
            target=f"actornet <= {TARGET_RSS_KIB:g} KiB",
            met=rss["actornet"] <= TARGET_RSS_KIB,
        )
    )
    rows.append(
        Row(
            "OS threads, N actors alive "
            f"(N={memory_counts['actornet']:,} / {memory_counts['threading']:,})",
            threads["actornet"],
            threads["threading"],
            higher_is_better=False,
            unit_format=",.0f",
            target=f"actornet <= {TARGET_MAX_THREADS}",
            met=threads["actornet"] <= TARGET_MAX_THREADS,
        )
    )

    _progress("tell throughput, main thread -> one actor")
    tell_one = _repeat(repeat, lambda rt: tell_one_per_s(rt, sizes.tells))
    rows.append(
        Row(
            f"tell main->actor, msg/s ({sizes.tells:,} tells)",
            tell_one["actornet"],
            tell_one["threading"],
            higher_is_better=True,
            unit_format=",.0f",
            target=f">= {TARGET_TELL_RATIO:g}x",
        )
    )
    rows[-1].met = rows[-1].ratio >= TARGET_TELL_RATIO

    _progress("tell throughput, actor <-> actor ping-pong")
    pairs, per_pair = PING_PONG_PAIRS, sizes.ping_pong_per_pair
    ping_pong = _repeat(repeat, lambda rt: ping_pong_per_s(rt, pairs, per_pair))
    rows.append(
        Row(
            f"tell actor<->actor, msg/s ({pairs} pairs x {per_pair:,})",
            ping_pong["actornet"],
            ping_pong["threading"],
            higher_is_better=True,
            unit_format=",.0f",
            target=f">= {TARGET_TELL_RATIO:g}x",
        )
    )
    rows[-1].met = rows[-1].ratio >= TARGET_TELL_RATIO

    _progress("ask latency")
    latency: dict[Runtime, list[list[float]]] = {runtime: [] for runtime in RUNTIMES}
    for _ in range(repeat):
        for runtime in RUNTIMES:
            latency[runtime].append(ask_latencies_us(runtime, sizes.asks))
    for label, fraction in (("median", 0.5), ("p99", 0.99)):
        value = {
            rt: median([percentile(samples, fraction) for samples in latency[rt]])
            for rt in RUNTIMES
        }
        rows.append(
            Row(
                f"ask latency {label}, us ({sizes.asks:,} asks)",
                value["actornet"],
                value["threading"],
                higher_is_better=False,
                unit_format=",.1f",
            )
        )
    return rows


def report(rows: Sequence[Row], repeat: int, sizes: Sizes, seconds: float) -> str:
    """Format the result table and its notes."""
    header = [
        "measurement (median of repeats)",
        "actornet",
        "threading",
        "ratio*",
        "target",
        "",
    ]
    title = (
        f"actornet.Actor vs pykka.ThreadingActor: Python {sys.version.split()[0]}, "
        f"pykka {_pykka_version()}, {repeat} repeat(s), {seconds:.0f} s"
    )
    legend = (
        "* ratio = how many times better actornet is; >1 means actornet is better "
        "(threading/actornet for costs, actornet/threading for throughputs)"
    )
    caps = (
        f"Notes: ThreadingActor is capped at {sizes.threading_start_stop:,} actors for "
        f"start+stop and {sizes.threading_memory:,} for RSS/threads (one OS thread each);\n"
        "its per-actor figures are computed from those counts. RSS is measured in a fresh "
        "subprocess per runtime and repeat."
    )
    lines = [title, legend, "", format_table(header, [row.cells() for row in rows]), "", caps]
    if sizes.actornet_actors < TARGET_THREADS_AT:
        lines.append(
            f"The thread target is for {TARGET_THREADS_AT:,} live actors; this run had "
            f"{sizes.actornet_actors:,}."
        )
    return "\n".join(lines)


def _pykka_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415 - only for the report

    return version("pykka")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.actors",
        description="Compare actornet.Actor with pykka.ThreadingActor.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--actors",
        type=int,
        default=None,
        help="actornet actors for start+stop and RSS (default 20000; 2000 with --quick)",
    )
    parser.add_argument("--memory-child", choices=RUNTIMES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    actors: int = args.actors or (2_000 if args.quick else 20_000)
    if actors < 1 or args.repeat < 1:
        parser.error("--actors and --repeat must be positive")

    if args.memory_child is not None:
        memory_child(args.memory_child, actors)
        return 0

    sizes = Sizes.for_args(actors, quick=args.quick)
    began = time.perf_counter()
    rows = run(args.repeat, sizes)
    print(report(rows, args.repeat, sizes, time.perf_counter() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
