"""Actor proxies: calls, attributes and traversable attributes, on both runtimes."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pykka
import pytest

from ._support import WAIT, Journal

if TYPE_CHECKING:
    from ._support import Runtime


class Inner:
    """A plain object the actor owns, reached through a traversable attribute."""

    def __init__(self) -> None:
        self.level = 1
        self.deeper = pykka.traversable(Deeper())

    def add(self, a: int, b: int) -> int:
        return a + b + self.level


class Deeper:
    def __init__(self) -> None:
        self.name = "deeper"

    def shout(self) -> str:
        return self.name.upper()


class Counter(pykka.Actor):
    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__()
        self.count = 0
        self.label = "counter"
        self.inner = pykka.traversable(Inner())
        self.plain = Inner()  # not traversable: its value is returned instead
        self.journal = journal

    def increment(self, by: int = 1) -> int:
        self.count += by
        return self.count

    def fail(self) -> None:
        raise ValueError("proxy call failed")

    def thread(self) -> threading.Thread:
        return threading.current_thread()

    def record(self, value: Any) -> None:
        if self.journal is not None:
            self.journal.record(value)

    def on_failure(self, *_exc_info: object) -> None:
        if self.journal is not None:
            self.journal.record("on_failure")


def test_proxy_method_call_returns_a_future_of_the_result(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    future = proxy.increment(5)

    assert isinstance(future, runtime.future_class)
    assert future.get(timeout=WAIT) == 5


def test_proxy_method_calls_are_handled_in_order(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    futures = [proxy.increment() for _ in range(100)]

    assert list(pykka.get_all(futures, timeout=WAIT)) == list(range(1, 101))


def test_proxy_method_runs_on_the_actors_thread(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    assert proxy.thread().get(timeout=WAIT) is not threading.current_thread()


def test_exception_in_a_proxy_call_is_raised_by_the_futures_get(runtime: Runtime) -> None:
    ref = runtime.start(Counter)
    proxy = ref.proxy()

    with pytest.raises(ValueError, match="proxy call failed"):
        proxy.fail().get(timeout=WAIT)
    assert ref.is_alive()


def test_deferred_proxy_call_has_tell_semantics(runtime: Runtime) -> None:
    journal = Journal()
    proxy = runtime.start(Counter, journal).proxy()

    assert proxy.record.defer("deferred") is None

    assert journal.wait_for_length(1) == ["deferred"]


def test_failing_deferred_proxy_call_calls_on_failure_and_stops_the_actor(
    runtime: Runtime,
) -> None:
    journal = Journal()
    ref = runtime.start(Counter, journal)

    ref.proxy().fail.defer()

    assert journal.wait_for_length(1) == ["on_failure"]
    assert ref.actor_stopped.wait(WAIT)


def test_proxy_attribute_get_returns_a_future_of_the_value(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    assert proxy.label.get(timeout=WAIT) == "counter"


def test_proxy_attribute_set_is_seen_by_the_actor(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    proxy.count = 10

    assert proxy.increment().get(timeout=WAIT) == 11
    assert proxy.count.get(timeout=WAIT) == 11


def test_proxy_reaches_methods_of_a_traversable_attribute(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    assert proxy.inner.add(1, 2).get(timeout=WAIT) == 4


def test_proxy_reads_and_writes_attributes_of_a_traversable_attribute(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    assert proxy.inner.level.get(timeout=WAIT) == 1
    proxy.inner.level = 5

    assert proxy.inner.add(1, 2).get(timeout=WAIT) == 8


def test_proxy_reaches_nested_traversable_attributes(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    assert proxy.inner.deeper.shout().get(timeout=WAIT) == "DEEPER"
    proxy.inner.deeper.name = "changed"
    assert proxy.inner.deeper.name.get(timeout=WAIT) == "changed"


def test_non_traversable_attribute_is_returned_as_a_value(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    value = proxy.plain.get(timeout=WAIT)

    assert isinstance(value, Inner)


def test_proxy_to_an_unknown_attribute_raises_attribute_error(runtime: Runtime) -> None:
    proxy = runtime.start(Counter).proxy()

    with pytest.raises(AttributeError, match="no_such_attribute"):
        _ = proxy.no_such_attribute


def test_creating_a_proxy_to_a_dead_actor_raises_actor_dead_error(runtime: Runtime) -> None:
    ref = runtime.start(Counter)
    ref.stop(timeout=WAIT)

    with pytest.raises(pykka.ActorDeadError):
        ref.proxy()


def test_proxy_call_after_the_actor_stopped_raises_actor_dead_error(runtime: Runtime) -> None:
    ref = runtime.start(Counter)
    proxy = ref.proxy()
    ref.stop(timeout=WAIT)

    with pytest.raises(pykka.ActorDeadError):
        proxy.increment().get(timeout=WAIT)
    with pytest.raises(pykka.ActorDeadError):
        proxy.label.get(timeout=WAIT)


def test_proxy_attribute_set_after_the_actor_stopped_raises_actor_dead_error(
    runtime: Runtime,
) -> None:
    ref = runtime.start(Counter)
    proxy = ref.proxy()
    ref.stop(timeout=WAIT)

    with pytest.raises(pykka.ActorDeadError):
        proxy.count = 3


def test_proxies_of_the_same_actor_are_equal(runtime: Runtime) -> None:
    ref = runtime.start(Counter)

    assert ref.proxy() == ref.proxy()
    assert hash(ref.proxy()) == hash(ref.proxy())
    assert ref.proxy() != runtime.start(Counter).proxy()


def test_proxy_repr_names_the_ref(runtime: Runtime) -> None:
    ref = runtime.start(Counter)

    assert repr(ref.proxy()) == f"<ActorProxy for {ref}, attr_path=()>"


def test_actor_can_call_another_actor_through_a_proxy_in_a_handler(runtime: Runtime) -> None:
    class Caller(pykka.Actor):
        def __init__(self, other: pykka.ActorProxy[Counter]) -> None:
            super().__init__()
            self.other = other

        def on_receive(self, message: Any) -> Any:
            return self.other.increment(message).get(timeout=WAIT)

    counter = runtime.start(Counter).proxy()
    caller = runtime.start(Caller, counter)

    assert caller.ask(3, timeout=WAIT) == 3
    assert caller.ask(4, timeout=WAIT) == 7
