"""Start a ring of actors, pass a token around it, and print what it cost.

Run: python -m examples.ring [--actors 20000] [--laps 5]

Each actor tells the token to its neighbour; after the last lap the first actor
resolves a future the main thread waits on. Every actor is a plain object on
actornet's worker pool, so twenty thousand of them need no more threads than one.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from typing import Any

import pykka

import actornet


class First(actornet.Actor):
    """The first link: counts laps as the token comes back to it."""

    def __init__(self, done: threading.Event, laps: int) -> None:
        super().__init__()
        self.next_ref: pykka.ActorRef[Any] | None = None
        self.done = done
        self.laps = laps

    def on_receive(self, message: Any) -> None:
        """Remember the neighbour, or count a lap and forward the token."""
        if isinstance(message, pykka.ActorRef):
            self.next_ref = message
            return
        lap = int(message) + 1
        if lap > self.laps:
            self.done.set()
        elif self.next_ref is not None:
            self.next_ref.tell(lap)


class Forward(actornet.Actor):
    """Any other link: passes the lap count on unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.next_ref: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> None:
        """Remember the neighbour, or pass the token to it."""
        if isinstance(message, pykka.ActorRef):
            self.next_ref = message
        elif self.next_ref is not None:
            self.next_ref.tell(message)


def _threads() -> int:
    return sum(1 for _ in Path("/proc/self/task").iterdir())


def main() -> None:
    """Build the ring, run the laps and print the figures."""
    parser = argparse.ArgumentParser(description="Pass a token around a ring of actors.")
    parser.add_argument("--actors", type=int, default=20_000)
    parser.add_argument("--laps", type=int, default=5)
    args = parser.parse_args()

    done = threading.Event()
    started = time.perf_counter()
    first = First.start(done, args.laps)
    refs: list[pykka.ActorRef[Any]] = [first]
    refs.extend(Forward.start() for _ in range(args.actors - 1))
    for ref, neighbour in zip(refs, refs[1:] + refs[:1], strict=True):
        ref.tell(neighbour)
    built = time.perf_counter()
    print(f"started {len(refs):,} actors in {built - started:.2f} s on {_threads()} threads")

    first.tell(0)
    if not done.wait(timeout=120):
        raise SystemExit("the token did not come back within 120 s")
    hops = args.actors * args.laps
    elapsed = time.perf_counter() - built
    print(f"{args.laps} laps, {hops:,} hops in {elapsed:.2f} s: {hops / elapsed:,.0f} messages/s")

    actornet.stop_all(timeout=30)
    print(f"stopped; {actornet.live_actor_count()} actors left")


if __name__ == "__main__":
    main()
