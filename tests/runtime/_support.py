"""Helpers for the runtime tests: the two runtimes under test, and a thread-safe journal."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pykka

import actornet

if TYPE_CHECKING:
    from collections.abc import Callable

A = TypeVar("A", bound=pykka.Actor)

#: Seconds any single expected event may take on a loaded machine. Waits that
#: are expected to succeed use this; it is never the expected duration.
WAIT = 5.0


@dataclass(frozen=True)
class Runtime:
    """One way of running Pykka actors, as Pykka's own tests abstract it.

    Behaviours are written as abstract `pykka.Actor` subclasses; `build()` mixes
    one with the runtime's concrete actor class (and, for actornet, the test's
    own dispatcher).
    """

    name: str
    base: type[pykka.Actor]
    future_class: type[pykka.Future[Any]]
    dispatcher: actornet.lowlevel.Dispatcher | None = None

    def build(self, behaviour: Callable[..., A]) -> type[A]:
        """Return a concrete actor class running `behaviour` on this runtime."""
        namespace: dict[str, Any] = {}
        if self.dispatcher is not None:
            namespace["dispatcher"] = self.dispatcher
        behaviour_class = cast("type[A]", behaviour)
        built = type(behaviour_class.__name__, (behaviour_class, self.base), namespace)
        return cast("type[A]", built)

    def start(self, behaviour: Callable[..., A], *args: Any, **kwargs: Any) -> pykka.ActorRef[A]:
        """Start an actor running `behaviour` on this runtime."""
        return self.build(behaviour).start(*args, **kwargs)

    def future(self) -> pykka.Future[Any]:
        """Return a new, unset future of this runtime's kind."""
        return self.future_class()


class PoolFactory:
    """Creates actornet runtimes on dedicated dispatchers, and closes them all."""

    def __init__(self) -> None:
        self.dispatchers: list[actornet.lowlevel.Dispatcher] = []

    def __call__(self, **options: Any) -> Runtime:
        options.setdefault("name", f"test-pool-{len(self.dispatchers)}")
        dispatcher = actornet.lowlevel.Dispatcher(**options)
        self.dispatchers.append(dispatcher)
        return Runtime(
            name="dispatched",
            base=actornet.Actor,
            future_class=actornet.lowlevel.DispatchedFuture,
            dispatcher=dispatcher,
        )

    def close(self) -> None:
        try:
            actornet.stop_all(timeout=5)
        finally:
            for dispatcher in self.dispatchers:
                dispatcher.close()


@dataclass
class Journal:
    """Thread-safe list of what happened, which a test can wait on."""

    _items: list[Any] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def record(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def items(self) -> list[Any]:
        with self._cond:
            return list(self._items)

    def wait_for_length(self, length: int, timeout: float = WAIT) -> list[Any]:
        """Wait until at least `length` items are recorded; return them all.

        Raises:
            AssertionError: if they were not recorded within `timeout` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._items) >= length, timeout):
                raise AssertionError(
                    f"expected {length} journal items within {timeout} s, got {self._items!r}"
                )
            return list(self._items)


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass; return its last value.

    For state that nothing signals (such as a dispatcher's statistics); the
    short pauses between polls are not a synchronisation by themselves.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        pause.wait(0.002)
    return True


class LogJournal(logging.Handler):
    """Logging handler whose records a test can wait for, as they come from other threads."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._cond = threading.Condition()
        self._records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    def records(self, level: int = logging.DEBUG) -> list[logging.LogRecord]:
        with self._cond:
            return [r for r in self._records if r.levelno >= level]

    def wait_for(
        self, count: int, level: int = logging.DEBUG, timeout: float = WAIT
    ) -> list[logging.LogRecord]:
        """Wait until `count` records at `level` or above arrived; return those records.

        Raises:
            AssertionError: if they did not arrive within `timeout` seconds.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.records(level)) >= count, timeout):
                raise AssertionError(f"expected {count} log records, got {self._records!r}")
            return self.records(level)
