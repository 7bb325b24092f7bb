"""Where should the poller run: inside an idle worker, or in a thread of its own?

Each configuration runs `--pairs` socket pairs over loopback (`socket.socketpair`),
an actor on each end. Every message crosses a socket, so every hop is a poller
readiness event followed by an actor turn. Both ends bounce a one-byte token
back and forth for `--seconds`; the bench counts hops per second and compares
them with an asyncio event loop doing the same with `loop.add_reader` callbacks,
in the same run.

Run: python -m bench.poller [--pairs 100] [--seconds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import actornet


@dataclass(frozen=True)
class _Readable:
    pass


READABLE = _Readable()


class Bouncer(actornet.Actor):
    """Reads tokens from its socket and writes each one back."""

    def __init__(self, sock: socket.socket, counter: list[int], stop: threading.Event) -> None:
        super().__init__()
        self.sock = sock
        self.counter = counter
        self.stop_event = stop
        self.registration: actornet.lowlevel.Registration | None = None

    def on_start(self) -> None:
        poller = self.actor_inbox.dispatcher.poller
        self.registration = poller.register(
            self.sock.fileno(), self.actor_ref, on_readable=READABLE
        )

    def on_stop(self) -> None:
        if self.registration is not None:
            self.registration.close()

    def on_receive(self, message: Any) -> None:
        if message is not READABLE or self.registration is None:
            return
        self.registration.arm_readable()
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            if not data:
                return
            self.counter[0] += len(data)
            if not self.stop_event.is_set():
                self.sock.send(data)


def _socket_pairs(count: int) -> list[tuple[socket.socket, socket.socket]]:
    pairs = []
    for _ in range(count):
        a, b = socket.socketpair()
        a.setblocking(False)  # noqa: FBT003 - socket API
        b.setblocking(False)  # noqa: FBT003 - socket API
        pairs.append((a, b))
    return pairs


def run_actornet(
    pairs: int, seconds: float, workers: int, mode: Literal["worker", "thread"]
) -> float:
    """Return hops per second with the poller hosted as `mode`."""
    dispatcher = actornet.lowlevel.Dispatcher(workers=workers, poller=mode)

    class LocalBouncer(Bouncer):
        pass

    LocalBouncer.dispatcher = dispatcher
    counter = [0]
    stop = threading.Event()
    socks = _socket_pairs(pairs)
    refs = []
    for a, b in socks:
        refs.append(LocalBouncer.start(a, counter, stop))
        refs.append(LocalBouncer.start(b, counter, stop))
    for ref in refs:
        ref.ask(None)  # on_start has registered the socket
    for a, _ in socks:
        a.send(b"x")
    start_count = counter[0]
    started = time.perf_counter()
    time.sleep(seconds)
    hops = counter[0] - start_count
    elapsed = time.perf_counter() - started
    stop.set()
    for ref in refs:
        ref.stop()
    dispatcher.close()
    for a, b in socks:
        a.close()
        b.close()
    return hops / elapsed


def run_asyncio(pairs: int, seconds: float) -> float:
    """Return hops per second for asyncio reader callbacks doing the same work."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        counter = [0]
        stopping = [False]
        socks = _socket_pairs(pairs)

        def on_readable(sock: socket.socket) -> None:
            while True:
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    return
                if not data:
                    return
                counter[0] += len(data)
                if not stopping[0]:
                    sock.send(data)

        for a, b in socks:
            loop.add_reader(a.fileno(), on_readable, a)
            loop.add_reader(b.fileno(), on_readable, b)
        for a, _ in socks:
            a.send(b"x")
        start_count = counter[0]
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        hops = counter[0] - start_count
        elapsed = time.perf_counter() - started
        stopping[0] = True
        for a, b in socks:
            loop.remove_reader(a.fileno())
            loop.remove_reader(b.fileno())
            a.close()
            b.close()
        return hops / elapsed

    return asyncio.run(main())


def main() -> None:
    """Run every configuration `--repeat` times and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    configs: list[tuple[str, Any]] = [
        ("asyncio add_reader", lambda: run_asyncio(args.pairs, args.seconds)),
    ]
    configs.extend(
        (
            f"actornet poller={mode} workers={workers}",
            lambda w=workers, m=mode: run_actornet(args.pairs, args.seconds, w, m),
        )
        for workers in (1, 2)
        for mode in ("worker", "thread")
    )
    results: dict[str, list[float]] = {name: [] for name, _ in configs}
    for _ in range(args.repeat):
        for name, run in configs:
            results[name].append(run())
    base = statistics.median(results["asyncio add_reader"])
    print(f"{args.pairs} socket pairs, {args.seconds:g} s per run, median of {args.repeat}")
    print(f"{'configuration':40} {'hops/s':>10} {'vs asyncio':>10}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:40} {median:10,.0f} {median / base:9.2f}x")


if __name__ == "__main__":
    main()
