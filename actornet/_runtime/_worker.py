"""Worker: one thread of a dispatcher's pool, its run queue, and blocking sections."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from actornet._runtime._runqueue import RunQueue

if TYPE_CHECKING:
    from types import TracebackType

    from actornet._runtime._dispatcher import Dispatcher

__all__ = ["Worker", "blocking", "current_worker"]

_state = threading.local()


def current_worker() -> Worker | None:
    """Return the dispatcher worker running on this thread, or None."""
    return getattr(_state, "worker", None)


def bind_worker(worker: Worker) -> None:
    """Record `worker` as the one running on the calling thread."""
    _state.worker = worker


class BlockingSection:
    """Context manager that declares a worker blocked for its duration."""

    __slots__ = ("_worker",)

    def __init__(self, worker: Worker | None) -> None:
        self._worker = worker

    def __enter__(self) -> None:
        if self._worker is not None:
            self._worker.dispatcher._enter_blocking(self._worker)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._worker is not None:
            self._worker.dispatcher._exit_blocking(self._worker)


def blocking() -> BlockingSection:
    """Declare that the calling handler is about to block.

    Use it around a slow call inside an actor's handler, so the dispatcher lends
    the pool another thread at once instead of after `blocking_threshold`::

        with actornet.blocking():
            rows = database.query(...)

    Outside a dispatcher worker it does nothing, so it is safe in code shared
    with plain threads.
    """
    return BlockingSection(current_worker())


class Worker:
    """One thread of a dispatcher's pool and its run queue."""

    __slots__ = (
        "blocked_depth",
        "busy",
        "delivering",
        "dispatcher",
        "lent",
        "name",
        "nested",
        "park",
        "parked",
        "queue",
        "seen_turn",
        "thread",
        "turn",
    )

    def __init__(self, dispatcher: Dispatcher, name: str) -> None:
        self.dispatcher = dispatcher
        self.name = name
        #: Mailboxes this worker runs, in order.
        self.queue = RunQueue()
        #: Turns run so far; the watchdog compares it between two looks.
        self.turn = 0
        self.seen_turn = -1
        #: True while a turn runs.
        self.busy = False
        #: True while the poller delivers on this thread: what it wakes joins
        #: the back of the queue instead of being handed off.
        self.delivering = False
        #: Turns running inside the current one (`Dispatcher.run_now()`).
        self.nested = 0
        #: True while the pool counts this worker as blocked and has lent a
        #: thread in its place.
        self.lent = False
        self.blocked_depth = 0
        self.parked = False
        self.thread: threading.Thread | None = None
        # Held while the worker runs; a parked worker waits to acquire it.
        self.park = threading.Lock()
        self.park.acquire()

    def __repr__(self) -> str:
        return f"<Worker {self.name} {self.queue!r}{' lent' if self.lent else ''}>"

    def blocking(self) -> BlockingSection:
        """Return a context manager that declares this worker blocked."""
        return BlockingSection(self)
