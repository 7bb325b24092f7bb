"""actornet actors and pykka.ThreadingActors talk to each other both ways, even from handlers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pykka
import pytest

from ._support import WAIT, Journal, Runtime, wait_until

if TYPE_CHECKING:
    from ._support import PoolFactory

THREADING = Runtime(name="threading", base=pykka.ThreadingActor, future_class=pykka.ThreadingFuture)


class Echo(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Exception):
            raise message
        return ("echo", message)


class Forwarder(pykka.Actor):
    """Answers by asking the next actor from inside its handler."""

    def __init__(self, next_ref: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.next_ref = next_ref

    def on_receive(self, message: Any) -> Any:
        return ("via", self.next_ref.ask(message, timeout=WAIT))


class ProxyForwarder(Forwarder):
    def on_receive(self, message: Any) -> Any:
        proxy: pykka.ActorProxy[Any] = self.next_ref.proxy()
        return ("proxied", proxy.on_receive(message).get(timeout=WAIT))


class Teller(pykka.Actor):
    """Tells each message to the next actor, from its handler."""

    def __init__(self, next_ref: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.next_ref = next_ref

    def on_receive(self, message: Any) -> Any:
        self.next_ref.tell(message)


class Recorder(pykka.Actor):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def on_receive(self, message: Any) -> Any:
        self.journal.record(message)


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def pool(request: pytest.FixtureRequest, make_pool: PoolFactory) -> Runtime:
    return make_pool(workers=request.param)


def test_plain_thread_asks_both_kinds(pool: Runtime) -> None:
    dispatched = pool.start(Echo)
    threaded = THREADING.start(Echo)

    assert dispatched.ask(1, timeout=WAIT) == ("echo", 1)
    assert threaded.ask(2, timeout=WAIT) == ("echo", 2)


def test_dispatched_actor_asks_a_threading_actor_from_its_handler(pool: Runtime) -> None:
    threaded = THREADING.start(Echo)
    dispatched = pool.start(Forwarder, threaded)

    assert dispatched.ask("x", timeout=WAIT) == ("via", ("echo", "x"))


def test_threading_actor_asks_a_dispatched_actor_from_its_handler(pool: Runtime) -> None:
    dispatched = pool.start(Echo)
    threaded = THREADING.start(Forwarder, dispatched)

    assert threaded.ask("x", timeout=WAIT) == ("via", ("echo", "x"))


def test_ask_chain_crosses_runtimes_back_and_forth(pool: Runtime) -> None:
    # dispatched -> threading -> dispatched -> threading -> dispatched(echo)
    ref: pykka.ActorRef[Any] = pool.start(Echo)
    for runtime in (THREADING, pool, THREADING, pool):
        ref = runtime.start(Forwarder, ref)

    reply: Any = ref.ask("x", block=True, timeout=WAIT)

    assert reply == ("via", ("via", ("via", ("via", ("echo", "x")))))


def test_threading_actor_asking_back_into_a_blocked_one_worker_pool_completes(
    make_pool: PoolFactory,
) -> None:
    # The dispatched actor waits on a ThreadingFuture, which the runtime cannot
    # see; the threading actor then needs the pool's only worker. The watchdog
    # must lend a thread.
    pool = make_pool(workers=1)
    inner = pool.start(Echo)
    threaded = THREADING.start(Forwarder, inner)
    outer = pool.start(Forwarder, threaded)

    assert outer.ask("x", timeout=WAIT) == ("via", ("via", ("echo", "x")))


def test_proxies_work_across_runtimes_from_handlers(pool: Runtime) -> None:
    threaded = THREADING.start(Echo)
    dispatched = pool.start(ProxyForwarder, threaded)
    threaded_front = THREADING.start(ProxyForwarder, dispatched)

    assert threaded_front.ask("x", timeout=WAIT) == ("proxied", ("proxied", ("echo", "x")))


def test_exception_from_a_threading_actor_reaches_a_dispatched_asker(pool: Runtime) -> None:
    threaded = THREADING.start(Echo)
    dispatched = pool.start(Forwarder, threaded)

    with pytest.raises(KeyError, match="from threading"):
        dispatched.ask(KeyError("from threading"), timeout=WAIT)
    assert dispatched.is_alive()
    assert threaded.is_alive()


def test_exception_from_a_dispatched_actor_reaches_a_threading_asker(pool: Runtime) -> None:
    dispatched = pool.start(Echo)
    threaded = THREADING.start(Forwarder, dispatched)

    with pytest.raises(KeyError, match="from dispatched"):
        threaded.ask(KeyError("from dispatched"), timeout=WAIT)


def test_tells_across_runtimes_keep_their_order(pool: Runtime) -> None:
    journal_a, journal_b = Journal(), Journal()
    to_threaded = pool.start(Teller, THREADING.start(Recorder, journal_a))
    to_dispatched = THREADING.start(Teller, pool.start(Recorder, journal_b))
    for i in range(300):
        to_threaded.tell(i)
        to_dispatched.tell(i)

    assert journal_a.wait_for_length(300) == list(range(300))
    assert journal_b.wait_for_length(300) == list(range(300))


def test_threading_actor_stops_a_dispatched_actor_from_its_handler(pool: Runtime) -> None:
    class Stopper(pykka.Actor):
        def on_receive(self, message: Any) -> Any:
            return message.stop(timeout=WAIT)

    dispatched = pool.start(Echo)
    stopper = THREADING.start(Stopper)

    assert stopper.ask(dispatched, timeout=WAIT) is True
    assert not dispatched.is_alive()
    assert stopper.ask(dispatched, timeout=WAIT) is False


def test_dispatched_actor_stops_a_threading_actor_from_its_handler(pool: Runtime) -> None:
    class Stopper(pykka.Actor):
        def on_receive(self, message: Any) -> Any:
            return message.stop(timeout=WAIT)

    threaded = THREADING.start(Echo)
    stopper = pool.start(Stopper)

    assert stopper.ask(threaded, timeout=WAIT) is True
    assert not threaded.is_alive()


def test_futures_of_both_kinds_combine(pool: Runtime) -> None:
    dispatched = pool.start(Echo).ask(1, block=False)
    threaded = THREADING.start(Echo).ask(2, block=False)

    assert dispatched.join(threaded).get(timeout=WAIT) == [("echo", 1), ("echo", 2)]
    assert list(pykka.get_all([threaded, dispatched], timeout=WAIT)) == [
        ("echo", 2),
        ("echo", 1),
    ]


def test_pool_settles_after_interop_blocking(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1)
    assert pool.dispatcher is not None
    dispatcher = pool.dispatcher
    threaded_gate = threading.Event()

    class Waits(pykka.Actor):
        def on_receive(self, message: Any) -> Any:
            threaded_gate.wait(WAIT)
            return message

    threaded = THREADING.start(Waits)
    dispatched = pool.start(Forwarder, threaded)
    witness = pool.start(Echo)
    pending = dispatched.ask("x", block=False)

    assert witness.ask("free", timeout=WAIT) == ("echo", "free")
    threaded_gate.set()
    assert pending.get(timeout=WAIT) == ("via", "x")
    assert wait_until(
        lambda: dispatcher.statistics().running == 1 and dispatcher.statistics().blocked == 0
    ), dispatcher.statistics()
