"""Actor lifecycle and failure handling, as Pykka specifies them, on both runtimes."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import pykka
import pytest

import actornet

from ._support import WAIT, Journal, LogJournal

if TYPE_CHECKING:
    from types import TracebackType

    from ._support import PoolFactory, Runtime


class LifecycleRecorder(pykka.Actor):
    """Records its hooks and messages, with the thread each ran on."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def on_start(self) -> None:
        self.journal.record(("on_start", threading.current_thread()))

    def on_receive(self, message: Any) -> Any:
        self.journal.record((message, threading.current_thread()))
        return message

    def on_stop(self) -> None:
        self.journal.record(("on_stop", threading.current_thread()))

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.journal.record(("on_failure", exception_value))


class Failing(LifecycleRecorder):
    """Raises on the message "raise", and raises `SystemExit` on "exit"."""

    def on_receive(self, message: Any) -> Any:
        if message == "raise":
            raise ValueError("handler failed")
        if message == "exit":
            raise SystemExit(3)
        return super().on_receive(message)


class FailingOnStart(LifecycleRecorder):
    def on_start(self) -> None:
        super().on_start()
        raise RuntimeError("on_start failed")


class FailingOnStop(LifecycleRecorder):
    def on_stop(self) -> None:
        super().on_stop()
        raise RuntimeError("on_stop failed")


class FailingOnFailure(Failing):
    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        super().on_failure(exception_type, exception_value, traceback)
        raise RuntimeError("on_failure failed")


class StoppingOnStart(LifecycleRecorder):
    def on_start(self) -> None:
        super().on_start()
        self.stop()


class Gate(Failing):
    """Waits on an event it is sent; stops itself on "stop me"."""

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(WAIT)
            return None
        if message == "stop me":
            self.stop()
            self.stop()  # stopping twice is harmless
        return super().on_receive(message)


class WithArguments(pykka.Actor):
    def __init__(self, first: int, *, second: str) -> None:
        super().__init__()
        self.arguments = (first, second)

    def on_receive(self, message: Any) -> Any:
        return self.arguments


def names(journal: Journal) -> list[Any]:
    return [entry[0] for entry in journal.items()]


def test_start_passes_its_arguments_to_init(runtime: Runtime) -> None:
    ref = runtime.start(WithArguments, 1, second="two")

    assert ref.ask("arguments", timeout=WAIT) == (1, "two")


def test_hooks_run_in_order_start_messages_stop(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(LifecycleRecorder, journal)
    ref.tell("a")
    ref.tell("b")

    assert ref.stop(timeout=WAIT) is True

    assert names(journal) == ["on_start", "a", "b", "on_stop"]


def test_hooks_and_handlers_run_on_a_thread_other_than_the_callers(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(LifecycleRecorder, journal)
    ref.ask("message", timeout=WAIT)
    ref.stop(timeout=WAIT)

    threads = {thread for _, thread in journal.items()}
    assert threading.current_thread() not in threads


def test_on_start_runs_before_the_first_message_even_one_told_at_once(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(LifecycleRecorder, journal)
    ref.tell("first")

    journal.wait_for_length(2)
    assert names(journal) == ["on_start", "first"]


class Plain(actornet.Actor):
    """No on_start(): answers every message with itself."""

    def on_receive(self, message: Any) -> Any:
        return message


def test_an_actor_without_on_start_runs_no_turn_until_its_first_message(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    assert pool.dispatcher is not None
    refs = [pool.start(Plain) for _ in range(10)]

    assert pool.dispatcher.statistics().turns == 0
    assert refs[0].ask("hello", timeout=WAIT) == "hello"
    assert pool.dispatcher.statistics().turns == 1
    for ref in refs:
        ref.stop(timeout=WAIT)


def test_on_start_can_stop_the_actor_before_it_handles_messages(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(StoppingOnStart, journal)

    assert ref.actor_stopped.wait(WAIT)
    assert names(journal) == ["on_start", "on_stop"]


def test_on_start_raising_stops_the_actor_and_logs_the_error(
    runtime: Runtime, pykka_log: LogJournal
) -> None:
    journal = Journal()
    ref = runtime.start(FailingOnStart, journal)

    assert ref.actor_stopped.wait(WAIT)
    errors = pykka_log.wait_for(1, logging.ERROR)
    assert not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("after", timeout=WAIT)
    # As in Pykka: the failure is logged; neither on_failure nor on_stop runs.
    assert names(journal) == ["on_start"]
    assert len(errors) == 1
    assert errors[0].getMessage().startswith("Unhandled exception in")
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


def test_on_stop_raising_still_stops_the_actor_and_logs_the_error(
    runtime: Runtime, pykka_log: LogJournal
) -> None:
    journal = Journal()
    ref = runtime.start(FailingOnStop, journal)

    assert ref.stop(timeout=WAIT) is True

    assert not ref.is_alive()
    assert names(journal) == ["on_start", "on_stop"]
    errors = pykka_log.wait_for(1, logging.ERROR)
    assert errors[0].getMessage().startswith("Unhandled exception in")


def test_exception_in_an_asked_handler_reaches_the_askers_future(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(Failing, journal)

    with pytest.raises(ValueError, match="handler failed"):
        ref.ask("raise", timeout=WAIT)


def test_actor_keeps_running_after_an_exception_reached_the_asker(runtime: Runtime) -> None:
    journal = Journal()
    ref = runtime.start(Failing, journal)
    future = ref.ask("raise", block=False)
    with pytest.raises(ValueError, match="handler failed"):
        future.get(timeout=WAIT)

    assert ref.is_alive()
    assert ref.ask("still here", timeout=WAIT) == "still here"
    assert "on_failure" not in names(journal)


def test_exception_returned_to_the_asker_is_logged_at_info_level(
    runtime: Runtime, pykka_log: LogJournal
) -> None:
    ref = runtime.start(Failing, Journal())
    with pytest.raises(ValueError, match="handler failed"):
        ref.ask("raise", timeout=WAIT)

    # The reply is set after the log call, so the record is already there.
    records = [r for r in pykka_log.records() if "returned from" in r.getMessage()]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert pykka_log.records(logging.WARNING) == []


def test_exception_with_no_reply_future_calls_on_failure_and_stops_the_actor(
    runtime: Runtime, pykka_log: LogJournal
) -> None:
    journal = Journal()
    ref = runtime.start(Failing, journal)

    ref.tell("raise")

    assert ref.actor_stopped.wait(WAIT)
    entries = journal.wait_for_length(2)
    assert not ref.is_alive()
    assert entries[-1][0] == "on_failure"
    assert isinstance(entries[-1][1], ValueError)
    assert "on_stop" not in names(journal)
    errors = pykka_log.wait_for(1, logging.ERROR)
    assert errors[0].getMessage().startswith("Unhandled exception in")


def test_messages_queued_behind_a_failure_are_answered_with_actor_dead_error(
    runtime: Runtime, pykka_log: LogJournal
) -> None:
    gate = threading.Event()
    ref = runtime.start(Gate, Journal())
    ref.tell(gate)
    ref.tell("raise")
    later = ref.ask("later", block=False)
    gate.set()

    with pytest.raises(pykka.ActorDeadError):
        later.get(timeout=WAIT)
    assert not ref.is_alive()


def test_on_failure_raising_is_logged_and_the_actor_stops(
    runtime: Runtime, pykka_log: LogJournal
) -> None:
    journal = Journal()
    ref = runtime.start(FailingOnFailure, journal)

    ref.tell("raise")

    assert ref.actor_stopped.wait(WAIT)
    journal.wait_for_length(2)
    unhandled = pykka_log.wait_for(2, logging.ERROR)
    assert all(r.getMessage().startswith("Unhandled exception in") for r in unhandled)
    assert unhandled[1].exc_info is not None
    assert str(unhandled[1].exc_info[1]) == "on_failure failed"
    assert not ref.is_alive()


def test_base_exception_in_a_handler_stops_the_actor_and_all_others(runtime: Runtime) -> None:
    journal = Journal()
    bystander_journal = Journal()
    ref = runtime.start(Failing, journal)
    bystander = runtime.start(LifecycleRecorder, bystander_journal)
    assert bystander.ask("ready", timeout=WAIT) == "ready"

    ref.tell("exit")

    assert ref.actor_stopped.wait(WAIT)
    assert bystander.actor_stopped.wait(WAIT)
    # The failing actor's own on_stop runs, and the others are stopped normally.
    journal.wait_for_length(2)
    bystander_journal.wait_for_length(3)
    assert names(journal) == ["on_start", "on_stop"]
    assert names(bystander_journal) == ["on_start", "ready", "on_stop"]


def test_actor_that_stops_itself_first_handles_messages_queued_before(runtime: Runtime) -> None:
    journal = Journal()
    gate = threading.Event()
    ref = runtime.start(Gate, journal)
    ref.tell(gate)
    ref.tell("stop me")
    ref.tell("x")
    ref.tell("y")
    gate.set()

    assert ref.actor_stopped.wait(WAIT)
    journal.wait_for_length(5)
    assert names(journal) == ["on_start", "stop me", "x", "y", "on_stop"]


def test_base_exception_in_on_receive_is_not_returned_to_the_asker_as_a_value(
    runtime: Runtime,
) -> None:
    # SystemExit is not an Exception: Pykka stops the actor rather than answer
    # the asker, so the asker's wait ends in a timeout, not in SystemExit.
    ref = runtime.start(Failing, Journal())
    future = ref.ask("exit", block=False)

    assert ref.actor_stopped.wait(WAIT)
    with pytest.raises(pykka.Timeout):
        future.get(timeout=0.05)


class ForgetsSuperInit(actornet.Actor):
    def __init__(self) -> None:  # deliberately does not call super().__init__()
        self.value = 1


def test_init_without_super_init_raises_type_error_naming_super_init(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=1)
    cls = pool.build(ForgetsSuperInit)
    baseline = actornet.live_actor_count()

    with pytest.raises(TypeError, match=r"super\(\)\.__init__\(\)"):
        cls.start()

    assert actornet.live_actor_count() == baseline
