"""Blocking handlers on a small pool: declared and detected blocking lend the pool a thread."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pykka
import pytest

import actornet

from ._support import WAIT, wait_until

if TYPE_CHECKING:
    from ._support import PoolFactory, Runtime

#: A blocking threshold no test waits out: only declared blocking can help.
NEVER = 3600.0


class Echo(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        return message


class Forwarder(pykka.Actor):
    """Answers an ask by asking the next actor and waiting for its reply."""

    def __init__(self, next_ref: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.next_ref = next_ref

    def on_receive(self, message: Any) -> Any:
        return ("via", self.next_ref.ask(message, timeout=WAIT))


class Sleeper(pykka.Actor):
    """Sleeps in its handler, without declaring it; the watchdog must notice."""

    def __init__(self, started: threading.Event, done: threading.Event) -> None:
        super().__init__()
        self.started = started
        self.done = done

    def on_receive(self, message: Any) -> Any:
        self.started.set()
        time.sleep(message)  # the blocking call under test, not a synchronisation
        self.done.set()
        return "slept"


class DeclaredWaiter(pykka.Actor):
    """Waits on an event inside `actornet.blocking()`."""

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started

    def on_receive(self, message: Any) -> Any:
        self.started.set()
        with actornet.blocking():
            return message.wait(WAIT)


class UndeclaredWaiter(DeclaredWaiter):
    def on_receive(self, message: Any) -> Any:
        self.started.set()
        return message.wait(WAIT)


class Witness(pykka.Actor):
    """Answers whether an event was already set when the ask was handled."""

    def on_receive(self, message: Any) -> Any:
        return message.is_set()


def statistics_settled(dispatcher: actornet.lowlevel.Dispatcher) -> bool:
    stats = dispatcher.statistics()
    return stats.running == dispatcher.workers and stats.blocked == 0


def pool_of(runtime: Runtime) -> actornet.lowlevel.Dispatcher:
    assert runtime.dispatcher is not None
    return runtime.dispatcher


def test_ask_from_a_handler_to_an_actor_on_the_same_one_worker_pool_does_not_deadlock(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1, blocking_threshold=NEVER)
    b = pool.start(Echo)
    a = pool.start(Forwarder, b)

    assert a.ask("x", timeout=WAIT) == ("via", "x")
    assert wait_until(lambda: statistics_settled(pool_of(pool)))


def test_chain_of_nested_asks_on_one_worker_completes(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1, blocking_threshold=NEVER)
    c = pool.start(Echo)
    b = pool.start(Forwarder, c)
    a = pool.start(Forwarder, b)

    assert a.ask("x", timeout=WAIT) == ("via", ("via", "x"))
    assert wait_until(lambda: statistics_settled(pool_of(pool)))


def test_long_chain_of_nested_asks_on_one_worker_completes(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1, blocking_threshold=NEVER, max_threads=32)
    ref: pykka.ActorRef[Any] = pool.start(Echo)
    for _ in range(10):
        ref = pool.start(Forwarder, ref)

    reply: Any = ref.ask("x", block=True, timeout=WAIT)

    for _ in range(10):
        assert reply[0] == "via"
        reply = reply[1]
    assert reply == "x"
    assert wait_until(lambda: statistics_settled(pool_of(pool)))
    assert pool_of(pool).statistics().threads <= 32


def test_nested_asks_repeated_many_times_leave_the_pool_at_its_size(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1, blocking_threshold=NEVER)
    b = pool.start(Echo)
    a = pool.start(Forwarder, b)

    futures = [a.ask(i, block=False) for i in range(200)]

    assert list(pykka.get_all(futures, timeout=WAIT)) == [("via", i) for i in range(200)]
    assert wait_until(lambda: statistics_settled(pool_of(pool)))


def test_sleeping_handler_does_not_stall_other_actors_on_a_one_worker_pool(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    started, done = threading.Event(), threading.Event()
    sleeper = pool.start(Sleeper, started, done)
    witness = pool.start(Witness)
    slept = sleeper.ask(0.3, block=False)
    assert started.wait(WAIT)

    # Answered while the sleeper still sleeps: the watchdog lent a thread.
    assert witness.ask(done, timeout=WAIT) is False

    assert slept.get(timeout=WAIT) == "slept"
    assert wait_until(lambda: statistics_settled(pool_of(pool)))


def test_undeclared_wait_in_a_handler_does_not_stall_other_actors(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    started, gate = threading.Event(), threading.Event()
    waiter = pool.start(UndeclaredWaiter, started)
    witness = pool.start(Witness)
    waited = waiter.ask(gate, block=False)
    assert started.wait(WAIT)

    try:
        assert witness.ask(gate, timeout=WAIT) is False
    finally:
        gate.set()

    assert waited.get(timeout=WAIT) is True
    assert wait_until(lambda: statistics_settled(pool_of(pool)))


def test_declared_blocking_lends_a_thread_at_once(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1, blocking_threshold=NEVER)
    dispatcher = pool_of(pool)
    started, gate = threading.Event(), threading.Event()
    waiter = pool.start(DeclaredWaiter, started)
    witness = pool.start(Witness)
    waited = waiter.ask(gate, block=False)
    assert started.wait(WAIT)

    try:
        assert witness.ask(gate, timeout=WAIT) is False
        assert wait_until(lambda: dispatcher.statistics().blocked == 1)
        stats = dispatcher.statistics()
        assert stats.running == 1
        assert stats.threads >= 2
    finally:
        gate.set()

    assert waited.get(timeout=WAIT) is True
    assert wait_until(lambda: statistics_settled(dispatcher)), dispatcher.statistics()


def test_statistics_return_to_the_pool_size_after_blocking_ends(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=2, blocking_threshold=NEVER, spare_threads=1)
    dispatcher = pool_of(pool)
    gates = [threading.Event() for _ in range(4)]
    starts = [threading.Event() for _ in range(4)]
    waiters = [pool.start(DeclaredWaiter, started) for started in starts]
    futures = [w.ask(g, block=False) for w, g in zip(waiters, gates, strict=True)]
    for started in starts:
        assert started.wait(WAIT)
    assert wait_until(lambda: dispatcher.statistics().blocked == 4)
    assert dispatcher.statistics().running == 2

    for gate in gates:
        gate.set()

    assert list(pykka.get_all(futures, timeout=WAIT)) == [True] * 4
    assert wait_until(lambda: statistics_settled(dispatcher)), dispatcher.statistics()
    # Surplus threads park (up to spare_threads) or exit.
    assert wait_until(lambda: dispatcher.statistics().threads <= 2 + 1), dispatcher.statistics()


def test_nested_blocking_sections_count_once(make_pool: PoolFactory) -> None:
    class Nested(pykka.Actor):
        def on_receive(self, message: Any) -> Any:
            with actornet.blocking(), actornet.blocking():
                return pool_of(pool).statistics().blocked

    pool = make_pool(workers=1, blocking_threshold=NEVER)
    ref = pool.start(Nested)

    assert ref.ask("go", timeout=WAIT) == 1
    assert wait_until(lambda: statistics_settled(pool_of(pool)))


def test_blocking_outside_a_worker_does_nothing(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1)
    ref = pool.start(Echo)
    ref.ask("start the pool", timeout=WAIT)
    before = pool_of(pool).statistics()

    with actornet.blocking():
        during = pool_of(pool).statistics()

    assert (during.running, during.blocked) == (before.running, before.blocked)


def test_exception_inside_a_blocking_section_still_ends_it(make_pool: PoolFactory) -> None:
    class Raises(pykka.Actor):
        def on_receive(self, message: Any) -> Any:
            with actornet.blocking():
                raise ValueError("inside blocking")

    pool = make_pool(workers=1, blocking_threshold=NEVER)
    ref = pool.start(Raises)

    with pytest.raises(ValueError, match="inside blocking"):
        ref.ask("go", timeout=WAIT)
    assert wait_until(lambda: statistics_settled(pool_of(pool))), pool_of(pool).statistics()
