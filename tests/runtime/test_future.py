"""Futures returned by asks: get, timeouts, combinators and get_all, on both runtimes."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Any

import pykka
import pytest

from ._support import WAIT

if TYPE_CHECKING:
    from ._support import Runtime


class Echo(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(WAIT)
            return None
        if isinstance(message, Exception):
            raise message
        return message


def test_future_get_returns_the_value_every_time(runtime: Runtime) -> None:
    future = runtime.start(Echo).ask("value", block=False)

    assert future.get(timeout=WAIT) == "value"
    assert future.get(timeout=WAIT) == "value"
    assert future.get() == "value"


def test_future_get_raises_the_exception_every_time(runtime: Runtime) -> None:
    future = runtime.start(Echo).ask(ValueError("boom"), block=False)

    with pytest.raises(ValueError, match="boom"):
        future.get(timeout=WAIT)
    with pytest.raises(ValueError, match="boom"):
        future.get(timeout=WAIT)


def test_future_get_with_timeout_raises_timeout_while_unanswered(runtime: Runtime) -> None:
    ref = runtime.start(Echo)
    gate = threading.Event()
    ref.tell(gate)
    future = ref.ask("late", block=False)

    with pytest.raises(pykka.Timeout):
        future.get(timeout=0.01)
    gate.set()
    assert future.get(timeout=WAIT) == "late"


def test_unset_future_times_out(runtime: Runtime) -> None:
    with pytest.raises(pykka.Timeout):
        runtime.future().get(timeout=0.01)


def test_future_set_twice_raises(runtime: Runtime) -> None:
    future = runtime.future()
    future.set(1)

    with pytest.raises(queue.Full):
        future.set(2)
    assert future.get(timeout=WAIT) == 1


def test_future_set_from_another_thread_wakes_the_getter(runtime: Runtime) -> None:
    future = runtime.future()
    thread = threading.Thread(target=future.set, args=("from thread",))
    thread.start()

    assert future.get(timeout=WAIT) == "from thread"
    thread.join(WAIT)


def test_future_set_exception_with_exc_info_is_raised_by_get(runtime: Runtime) -> None:
    future = runtime.future()
    error = KeyError("missing")
    future.set_exception((KeyError, error, None))

    with pytest.raises(KeyError, match="missing"):
        future.get(timeout=WAIT)


def test_future_map_applies_the_function_to_the_value(runtime: Runtime) -> None:
    future = runtime.start(Echo).ask({"key": 20}, block=False)

    mapped = future.map(lambda value: value["key"] + 1)

    assert mapped.get(timeout=WAIT) == 21
    assert mapped.get(timeout=WAIT) == 21


def test_future_map_passes_exceptions_through(runtime: Runtime) -> None:
    future = runtime.start(Echo).ask(ValueError("not mapped"), block=False)

    with pytest.raises(ValueError, match="not mapped"):
        future.map(lambda value: value).get(timeout=WAIT)


def test_future_join_collects_several_futures(runtime: Runtime) -> None:
    ref = runtime.start(Echo)
    first = ref.ask("a", block=False)
    second = ref.ask(2, block=False)
    third = runtime.start(Echo).ask(False, block=False)  # noqa: FBT003

    joined = first.join(second, third)

    assert joined.get(timeout=WAIT) == ["a", 2, False]


def test_future_filter_keeps_the_items_passing_the_predicate(runtime: Runtime) -> None:
    future = runtime.start(Echo).ask(list(range(10)), block=False)

    assert future.filter(lambda n: n % 3 == 0).get(timeout=WAIT) == [0, 3, 6, 9]


def test_future_filter_of_a_non_iterable_raises_type_error(runtime: Runtime) -> None:
    future = runtime.start(Echo).ask(5, block=False)

    with pytest.raises(TypeError):
        future.filter(bool).get(timeout=WAIT)


def test_future_reduce_folds_the_items(runtime: Runtime) -> None:
    ref = runtime.start(Echo)

    assert ref.ask([1, 2, 3], block=False).reduce(lambda a, b: a + b).get(timeout=WAIT) == 6
    assert ref.ask(["a", "b"], block=False).reduce(lambda a, b: a + b).get(timeout=WAIT) == "ab"
    assert ref.ask([1, 2, 3], block=False).reduce(lambda a, b: a + b, 5).get(timeout=WAIT) == 11
    assert ref.ask([], block=False).reduce(lambda a, b: a + b, 5).get(timeout=WAIT) == 5


def test_join_then_map_then_reduce_chain(runtime: Runtime) -> None:
    refs = [runtime.start(Echo) for _ in range(3)]
    futures = [ref.ask(i + 1, block=False) for i, ref in enumerate(refs)]

    total = futures[0].join(*futures[1:]).reduce(lambda a, b: a + b).map(lambda value: value * 10)

    assert total.get(timeout=WAIT) == 60


def test_get_all_collects_the_values_in_order(runtime: Runtime) -> None:
    refs = [runtime.start(Echo) for _ in range(10)]

    futures = [ref.ask(i, block=False) for i, ref in enumerate(refs)]

    assert list(pykka.get_all(futures, timeout=WAIT)) == list(range(10))


def test_get_all_raises_timeout_if_one_future_is_unanswered(runtime: Runtime) -> None:
    ref = runtime.start(Echo)
    gate = threading.Event()
    ref.tell(gate)
    futures = [runtime.start(Echo).ask(1, block=False), ref.ask(2, block=False)]

    with pytest.raises(pykka.Timeout):
        pykka.get_all(futures, timeout=0.01)
    gate.set()
    assert list(pykka.get_all(futures, timeout=WAIT)) == [1, 2]


def test_get_all_raises_the_first_exception(runtime: Runtime) -> None:
    ref = runtime.start(Echo)
    futures = [ref.ask(1, block=False), ref.ask(LookupError("second"), block=False)]

    with pytest.raises(LookupError, match="second"):
        pykka.get_all(futures, timeout=WAIT)


def test_futures_from_stop_are_of_the_runtimes_kind(runtime: Runtime) -> None:
    future = runtime.start(Echo).stop(block=False)

    assert isinstance(future, runtime.future_class)
    assert future.get(timeout=WAIT) is True
