"""The live-actor directory, and opting in to pykka.ActorRegistry."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

import pykka
import pytest

import actornet
from actornet._runtime import _registry

from ._support import WAIT, Journal, Runtime

if TYPE_CHECKING:
    from ._support import LogJournal, PoolFactory


class Echo(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(WAIT)
            return None
        if message == "fail":
            raise ValueError("failed")
        return message


class Registered(Echo):
    use_pykka_registry: ClassVar[bool] = True


class StopRecorder(Echo):
    def __init__(self, journal: Journal, name: str) -> None:
        super().__init__()
        self.journal = journal
        self.name = name

    def on_stop(self) -> None:
        self.journal.record(self.name)


@pytest.fixture
def pool(make_pool: PoolFactory) -> Runtime:
    return make_pool(workers=2)


def urns(refs: list[pykka.ActorRef[Any]]) -> list[str]:
    return [ref.actor_urn for ref in refs]


def test_started_actor_is_listed_in_live_actors(pool: Runtime) -> None:
    baseline = actornet.live_actor_count()

    ref = pool.start(Echo)

    assert ref.actor_urn in urns(actornet.live_actors())
    assert actornet.live_actor_count() == baseline + 1


def test_stopped_actor_leaves_live_actors(pool: Runtime) -> None:
    baseline = actornet.live_actor_count()
    ref = pool.start(Echo)

    ref.stop(timeout=WAIT)

    assert ref.actor_urn not in urns(actornet.live_actors())
    assert actornet.live_actor_count() == baseline


def test_failed_actor_leaves_live_actors(pool: Runtime, pykka_log: LogJournal) -> None:
    baseline = actornet.live_actor_count()
    ref = pool.start(Echo)

    ref.tell("fail")

    assert ref.actor_stopped.wait(WAIT)
    assert ref.actor_urn not in urns(actornet.live_actors())
    assert actornet.live_actor_count() == baseline


def test_live_actors_lists_oldest_first(pool: Runtime) -> None:
    refs = [pool.start(Echo) for _ in range(5)]

    listed = [urn for urn in urns(actornet.live_actors()) if urn in urns(refs)]

    assert listed == urns(refs)


def test_live_actors_returns_a_snapshot(pool: Runtime) -> None:
    ref = pool.start(Echo)
    snapshot = actornet.live_actors()

    ref.stop(timeout=WAIT)

    assert ref.actor_urn in urns(snapshot)


def test_stop_all_stops_every_actornet_actor_and_counts_them(pool: Runtime) -> None:
    baseline = actornet.live_actor_count()
    refs = [pool.start(Echo) for _ in range(20)]

    stopped = actornet.stop_all(timeout=WAIT)

    assert stopped == baseline + 20
    assert all(not ref.is_alive() for ref in refs)
    assert actornet.live_actor_count() == 0


def test_stop_all_with_nothing_running_returns_zero() -> None:
    actornet.stop_all(timeout=WAIT)

    assert actornet.stop_all(timeout=WAIT) == 0


def test_stop_all_stops_newest_first(make_pool: PoolFactory) -> None:
    actornet.stop_all(timeout=WAIT)
    pool = make_pool(workers=1)  # one worker runs the stops in the order they were asked
    journal = Journal()
    refs = [pool.start(StopRecorder, journal, name) for name in ("first", "second", "third")]
    for ref in refs:
        ref.ask("started", timeout=WAIT)

    actornet.stop_all(timeout=WAIT)

    assert journal.items() == ["third", "second", "first"]


def test_stop_all_raises_timeout_if_an_actor_does_not_stop_in_time(pool: Runtime) -> None:
    gate = threading.Event()
    ref = pool.start(Echo)
    ref.tell(gate)

    try:
        with pytest.raises(pykka.Timeout):
            actornet.stop_all(timeout=0.05)
    finally:
        gate.set()
    assert ref.actor_stopped.wait(WAIT)


def test_stop_all_leaves_threading_actors_alone(pool: Runtime) -> None:
    threaded = pykka.ThreadingActor.start()
    try:
        actornet.stop_all(timeout=WAIT)
        assert threaded.is_alive()
    finally:
        threaded.stop(timeout=WAIT)


def test_actornet_actors_are_not_in_the_pykka_registry_by_default(pool: Runtime) -> None:
    ref = pool.start(Echo)

    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None
    assert ref.actor_urn not in urns(pykka.ActorRegistry.get_all())
    assert pykka.ActorRegistry.get_by_class(ref.actor_class) == []


def test_pykka_registry_stop_all_does_not_stop_unregistered_actors(pool: Runtime) -> None:
    ref = pool.start(Echo)

    pykka.ActorRegistry.stop_all(timeout=WAIT)

    assert ref.is_alive()


def test_class_that_opts_in_is_registered_in_the_pykka_registry(pool: Runtime) -> None:
    ref = pool.start(Registered)

    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is ref
    assert pykka.ActorRegistry.get_by_class(ref.actor_class) == [ref]
    assert ref.actor_urn in urns(actornet.live_actors())


def test_opted_in_actor_leaves_the_pykka_registry_when_it_stops(pool: Runtime) -> None:
    ref = pool.start(Registered)

    ref.stop(timeout=WAIT)

    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None
    assert ref.actor_urn not in urns(actornet.live_actors())


def test_opted_in_actor_leaves_the_pykka_registry_when_it_fails(
    pool: Runtime, pykka_log: LogJournal
) -> None:
    ref = pool.start(Registered)

    ref.tell("fail")

    assert ref.actor_stopped.wait(WAIT)
    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None


def test_pykka_registry_stop_all_stops_opted_in_actors(pool: Runtime) -> None:
    ref = pool.start(Registered)

    pykka.ActorRegistry.stop_all(timeout=WAIT)

    assert not ref.is_alive()
    assert ref.actor_urn not in urns(actornet.live_actors())


def test_starting_on_a_closed_unused_dispatcher_raises_and_leaves_no_live_actor() -> None:
    dispatcher = actornet.lowlevel.Dispatcher(workers=1, name="test-closed-unused")
    dispatcher.close()
    cls = Runtime(
        name="dispatched",
        base=actornet.Actor,
        future_class=actornet.lowlevel.DispatchedFuture,
        dispatcher=dispatcher,
    ).build(Registered)
    baseline = actornet.live_actor_count()

    with pytest.raises(RuntimeError, match="closed"):
        cls.start()

    assert actornet.live_actor_count() == baseline
    assert pykka.ActorRegistry.get_by_class(cls) == []
    assert actornet.stop_all(timeout=WAIT) == baseline


def test_starting_on_a_closed_used_dispatcher_raises_and_leaves_no_live_actor(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    assert pool.dispatcher is not None
    first = pool.start(Echo)
    assert first.stop(timeout=WAIT) is True
    pool.dispatcher.close()
    baseline = actornet.live_actor_count()

    # An actor started here would never run: its asks would never be answered
    # and actornet.stop_all() would wait on it forever.
    started: pykka.ActorRef[Echo] | None = None
    try:
        with pytest.raises(RuntimeError, match="closed"):
            started = pool.start(Echo)
    finally:
        if started is not None:  # it can never stop; keep it from failing later tests
            _registry.discard(started)

    assert actornet.live_actor_count() == baseline
