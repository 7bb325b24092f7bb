"""The scheduler's guarantees on a real one-worker dispatcher, counted in turns, not timed.

docs/runtime.md: a runnable actor waits only for actors that were runnable before it, each for
one turn, plus bounded hand-off chains; woken from another thread, it waits at most
`REFILL_INTERVAL` turns to join them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pykka
from pykka._envelope import Envelope

import actornet
from actornet._runtime._dispatcher import MAX_NESTED_TURNS, REFILL_INTERVAL
from actornet._runtime._runqueue import MAX_CHAINED_HANDOFFS

from ._support import WAIT, Journal

if TYPE_CHECKING:
    from ._support import PoolFactory

TARGETS = 600  # more than one poll's worth of readiness used to overflow the run queue


class Spinner(pykka.Actor):
    """Tells itself forever, recording each message, until `stop` is set."""

    def __init__(self, journal: Journal, stop: threading.Event) -> None:
        super().__init__()
        self.journal = journal
        self.stop_flag = stop

    def on_receive(self, message: Any) -> None:
        self.journal.record("spin")
        if not self.stop_flag.is_set():
            self.actor_ref.tell(message)


class Target(pykka.Actor):
    """Records its name when told anything; sets `done` if it has one."""

    def __init__(self, journal: Journal, name: object, done: threading.Event | None) -> None:
        super().__init__()
        self.journal = journal
        self.name = name
        self.done = done

    def on_receive(self, _message: Any) -> None:
        self.journal.record(self.name)
        if self.done is not None:
            self.done.set()


class Fanout(pykka.Actor):
    """Records "fanout", then tells every target once, in one turn."""

    def __init__(self, journal: Journal, targets: list[pykka.ActorRef[Any]]) -> None:
        super().__init__()
        self.journal = journal
        self.targets = targets

    def on_receive(self, _message: Any) -> None:
        self.journal.record("fanout")
        for target in self.targets:
            target.tell("go")


def spins_between(items: list[Any], first: object, last: object) -> int:
    start, end = items.index(first), items.index(last)
    return sum(1 for item in items[start:end] if item == "spin")


def test_mailboxes_woken_by_one_turn_run_in_the_order_told_while_an_actor_spins(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    assert pool.dispatcher is not None
    journal = Journal()
    stop = threading.Event()
    done = threading.Event()
    targets = [
        pool.start(Target, journal, index, done if index == TARGETS - 1 else None)
        for index in range(TARGETS)
    ]
    fanout = pool.start(Fanout, journal, targets)
    spinner = pool.start(Spinner, journal, stop)
    try:
        spinner.tell("spin")
        journal.wait_for_length(100)  # the spinner has the worker to itself
        fanout.tell("go")
        assert done.wait(WAIT)
    finally:
        stop.set()
    items = journal.items()
    assert [item for item in items if item not in ("spin", "fanout")] == list(range(TARGETS))
    # Every target was runnable before the spinner's next turn, so the spinner
    # gets at most one turn (batch_size messages) while they run, plus the one
    # it was in when the fan-out was woken.
    assert spins_between(items, 0, TARGETS - 1) <= 2 * pool.dispatcher.batch_size


def test_an_actor_woken_from_another_thread_waits_at_most_a_refill_interval(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    assert pool.dispatcher is not None
    journal = Journal()
    stop = threading.Event()
    spinner = pool.start(Spinner, journal, stop)
    done = threading.Event()
    observer = pool.start(Target, journal, "observer", done)
    try:
        spinner.tell("spin")
        journal.wait_for_length(100)
        observer.tell("from the main thread")
        # Recorded after the tell: spins counted from here can only be fewer
        # than those after the tell, never more.
        journal.record("told")
        assert done.wait(WAIT)
    finally:
        stop.set()
    # The observer joins the FIFO at the next refill, at most REFILL_INTERVAL
    # turns away, and runs after the spinner's turn; a turn is at most
    # batch_size spins.
    spins = spins_between(journal.items(), "told", "observer")
    assert spins <= (REFILL_INTERVAL + 2) * pool.dispatcher.batch_size


class PingPong(pykka.Actor):
    """Answers every number with the next one, to its partner, until `stop` is set."""

    def __init__(self, journal: Journal, stop: threading.Event) -> None:
        super().__init__()
        self.journal = journal
        self.stop_flag = stop
        self.partner: pykka.ActorRef[Any] | None = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, pykka.ActorRef):
            self.partner = message
            return
        self.journal.record("spin")
        if not self.stop_flag.is_set() and self.partner is not None:
            self.partner.tell(message + 1)


def test_a_ping_pong_pair_handing_off_to_each_other_cannot_starve_a_third_actor(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    journal = Journal()
    stop = threading.Event()
    ping, pong = pool.start(PingPong, journal, stop), pool.start(PingPong, journal, stop)
    ping.tell(pong)
    pong.tell(ping)
    done = threading.Event()
    third = pool.start(Target, journal, "third", done)
    kick = pool.start(Fanout, journal, [third])
    try:
        ping.tell(0)
        journal.wait_for_length(100)
        kick.tell("go")  # from the main thread: it joins the FIFO at the next refill
        assert done.wait(WAIT)
    finally:
        stop.set()
    items = journal.items()
    # The third actor is woken by the kick's turn while the pair keeps handing
    # off to each other: the pair's chain is cut within MAX_CHAINED_HANDOFFS.
    assert items.index("third") - items.index("fanout") <= MAX_CHAINED_HANDOFFS + 1


class Nested(pykka.Actor):
    """Records how deep in nested turns it runs, then wakes the next with put_and_run()."""

    def __init__(self, journal: Journal, name: str, next_ref: pykka.ActorRef[Any] | None) -> None:
        super().__init__()
        self.journal = journal
        self.name = name
        self.next_ref = next_ref

    def on_receive(self, _message: Any) -> None:
        worker = actornet.lowlevel.current_worker()
        assert worker is not None
        self.journal.record((self.name, worker.nested))
        if self.next_ref is not None:
            self.next_ref.actor_inbox.put_and_run(Envelope("go"))  # type: ignore[attr-defined]


def test_turns_run_inside_turns_at_most_max_nested_turns_deep(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1)
    journal = Journal()
    chain: pykka.ActorRef[Any] | None = None
    names = [f"actor-{n}" for n in range(MAX_NESTED_TURNS + 2)]
    for name in reversed(names):
        chain = pool.start(Nested, journal, name, chain)
    assert chain is not None
    chain.tell("go")
    items = journal.wait_for_length(len(names), timeout=WAIT)
    # actor-0 runs a normal turn, the next MAX_NESTED_TURNS each inside the
    # one before, and the last is scheduled as usual once the chain is too deep.
    assert items == [*((name, depth) for depth, name in enumerate(names[:-1])), (names[-1], 0)]
