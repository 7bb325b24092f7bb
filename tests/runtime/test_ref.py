"""Messaging through refs: tell, ask, stop, liveness and identity, on both runtimes."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import pykka
import pytest

from ._support import WAIT, Journal

if TYPE_CHECKING:
    from ._support import Runtime


class Collector(pykka.Actor):
    """Collects told messages; answers "get" with them, waits on events it is sent."""

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__()
        self.received: list[Any] = []
        self.journal = journal

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(WAIT)
            return None
        if message == "get":
            return list(self.received)
        if isinstance(message, tuple) and message[0] == "echo":
            return message[1]
        self.received.append(message)
        if self.journal is not None:
            self.journal.record(message)
        return None


def test_tell_delivers_many_messages_in_order(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    for i in range(2000):
        ref.tell(i)

    assert ref.ask("get", timeout=WAIT) == list(range(2000))


def test_tell_from_several_threads_keeps_each_senders_order(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    def send(sender: int) -> None:
        for i in range(500):
            ref.tell((sender, i))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()

    received = ref.ask("get", block=True, timeout=WAIT)
    assert len(received) == 2000
    for sender in range(4):
        assert [i for s, i in received if s == sender] == list(range(500))


def test_tell_returns_none(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert ref.tell("message") is None  # type: ignore[func-returns-value]


def test_ask_returns_the_handlers_reply(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert ref.ask(("echo", 42), timeout=WAIT) == 42


def test_ask_with_timeout_raises_timeout_when_no_reply_comes_in_time(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    gate = threading.Event()
    ref.tell(gate)

    try:
        with pytest.raises(pykka.Timeout):
            ref.ask(("echo", 1), timeout=0.05)
    finally:
        gate.set()
    # The late message is still handled once the actor is free.
    assert ref.ask(("echo", 2), timeout=WAIT) == 2


def test_ask_without_blocking_returns_a_future_of_the_reply(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    future = ref.ask(("echo", "value"), block=False)

    assert isinstance(future, runtime.future_class)
    assert future.get(timeout=WAIT) == "value"


def test_many_asks_without_blocking_are_all_answered(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    futures = [ref.ask(("echo", i), block=False) for i in range(500)]

    assert list(pykka.get_all(futures, timeout=WAIT)) == list(range(500))


def test_stop_returns_true_for_a_running_actor(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert ref.stop(timeout=WAIT) is True
    assert not ref.is_alive()


def test_stop_returns_false_for_an_already_dead_actor(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    ref.stop(timeout=WAIT)

    assert ref.stop(timeout=WAIT) is False


def test_stop_without_blocking_returns_a_future_of_true(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    future = ref.stop(block=False)

    assert future.get(timeout=WAIT) is True
    assert future.get(timeout=WAIT) is True
    assert ref.actor_stopped.wait(WAIT)


def test_stop_without_blocking_on_a_dead_actor_returns_a_future_of_false(
    runtime: Runtime,
) -> None:
    ref = runtime.start(Collector)
    ref.stop(timeout=WAIT)

    assert ref.stop(block=False).get(timeout=WAIT) is False


def test_concurrent_stops_all_return_true_if_queued_while_alive(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    gate = threading.Event()
    ref.tell(gate)
    first = ref.stop(block=False)
    second = ref.stop(block=False)
    gate.set()

    assert first.get(timeout=WAIT) is True
    assert second.get(timeout=WAIT) is True


def test_stop_handles_the_messages_told_before_it(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(Collector, journal)
    gate = threading.Event()
    ref.tell(gate)
    for i in range(100):
        ref.tell(i)
    stopped = ref.stop(block=False)
    gate.set()

    assert stopped.get(timeout=WAIT) is True
    assert journal.items() == list(range(100))


def test_ask_after_stop_raises_actor_dead_error(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    ref.stop(timeout=WAIT)

    with pytest.raises(pykka.ActorDeadError):
        ref.ask(("echo", 1), timeout=WAIT)


def test_ask_without_blocking_after_stop_returns_a_future_raising_actor_dead_error(
    runtime: Runtime,
) -> None:
    ref = runtime.start(Collector)
    ref.stop(timeout=WAIT)

    future = ref.ask(("echo", 1), block=False)

    with pytest.raises(pykka.ActorDeadError):
        future.get(timeout=WAIT)


def test_ask_queued_behind_stop_is_answered_with_actor_dead_error(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    gate = threading.Event()
    ref.tell(gate)
    stopped = ref.stop(block=False)
    late = ref.ask(("echo", "late"), block=False)  # the actor is still alive here
    gate.set()

    assert stopped.get(timeout=WAIT) is True
    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=WAIT)


def test_tell_after_stop_raises_actor_dead_error(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    ref.stop(timeout=WAIT)

    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")


def test_is_alive_is_true_while_running_and_false_after_stop(runtime: Runtime) -> None:
    ref = runtime.start(Collector)
    assert ref.is_alive()

    ref.stop(timeout=WAIT)

    assert not ref.is_alive()
    assert ref.actor_stopped.is_set()


def test_actor_urns_are_unique(runtime: Runtime) -> None:
    refs = [runtime.start(Collector) for _ in range(50)]

    assert len({ref.actor_urn for ref in refs}) == 50


def test_actor_urn_is_a_uuid_urn(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert ref.actor_urn.startswith("urn:uuid:")
    assert uuid.UUID(ref.actor_urn).urn == ref.actor_urn


def test_str_of_a_ref_names_the_actor_class_and_urn(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert str(ref) == f"Collector ({ref.actor_urn})"


def test_repr_of_a_ref_wraps_its_str(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert repr(ref) == f"<ActorRef for Collector ({ref.actor_urn})>"


def test_ref_knows_its_actor_class(runtime: Runtime) -> None:
    ref = runtime.start(Collector)

    assert issubclass(ref.actor_class, Collector)
    assert issubclass(ref.actor_class, runtime.base)


def test_actor_can_reach_its_own_ref_and_tell_itself(runtime: Runtime) -> None:
    journal = Journal()

    class TellsItself(pykka.Actor):
        def on_start(self) -> None:
            self.actor_ref.tell("from on_start")

        def on_receive(self, message: Any) -> Any:
            journal.record(message)

    runtime.start(TellsItself)

    assert journal.wait_for_length(1) == ["from on_start"]


def test_messages_told_in_init_wait_until_after_on_start(runtime: Runtime) -> None:
    journal = Journal()

    class ToldEarly(pykka.Actor):
        def __init__(self) -> None:
            super().__init__()
            self.actor_ref.tell("told in __init__")

        def on_start(self) -> None:
            journal.record("on_start")

        def on_receive(self, message: Any) -> Any:
            journal.record(message)

    runtime.start(ToldEarly)

    assert journal.wait_for_length(2) == ["on_start", "told in __init__"]
