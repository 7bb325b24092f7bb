"""WorkerPool: the dispatcher's threads, and lending one while a worker blocks.

Theory of operation
-------------------
`workers` threads take work; `spare_threads` more are parked, each waiting on
its own lock. When a worker blocks (declared by `DispatchedFuture.get()` or
`blocking()`, or detected by the watchdog), the pool marks it *lent*, moves its
run queue to the global queue and unparks a spare (or starts a thread, up to
`max_threads`) to take its place. When the blocked turn ends, the pool has one
running thread too many; the first worker to notice parks itself as a spare, or
exits if enough are parked, so the count of running workers returns to
`workers`.

All counts change under one lock. The run queues themselves are not locked:
see `RunQueue` for why a queue emptied by another thread loses nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from actornet._runtime._worker import Worker

if TYPE_CHECKING:
    from collections.abc import Callable

    from actornet._runtime._dispatcher import Dispatcher

__all__ = ["WorkerPool"]

logger = logging.getLogger("actornet.runtime")


class WorkerPool:
    """Threads of one dispatcher: running, parked and lent."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        run: Callable[[Worker], None],
        *,
        workers: int,
        max_threads: int,
        spare_threads: int,
    ) -> None:
        self._dispatcher = dispatcher
        self._run = run
        self.workers = workers
        self.max_threads = max_threads
        self.spare_threads = spare_threads
        #: Guards every count and list below.
        self.lock = threading.Lock()
        #: Every live thread of the pool, parked and lent ones included.
        self.all: list[Worker] = []
        self._spares: list[Worker] = []
        #: Workers counted as taking work.
        self.running = 0
        self.closed = False
        self._thread_counter = 0
        self._warned_exhausted = False

    def start_locked(self) -> None:
        """Start the running workers and the parked spares."""
        for _ in range(self.workers):
            self._spawn_locked()
        for _ in range(self.spare_threads):
            self._spares.append(self._spawn_locked(parked=True))

    def parked_count(self) -> int:
        """Return how many spare threads are parked."""
        return len(self._spares)

    def close_locked(self) -> list[threading.Thread]:
        """Mark the pool closed, release the spares, and return the threads to join."""
        self.closed = True
        for worker in self._spares:
            worker.parked = False
            worker.park.release()
        self._spares.clear()
        return [w.thread for w in self.all if w.thread is not None]

    def _spawn_locked(self, *, parked: bool = False) -> Worker:
        self._thread_counter += 1
        worker = Worker(self._dispatcher, f"{self._dispatcher.name}-worker-{self._thread_counter}")
        worker.parked = parked
        if not parked:
            self.running += 1
        thread = threading.Thread(target=self._run, args=(worker,), name=worker.name, daemon=True)
        worker.thread = thread
        self.all.append(worker)
        thread.start()
        return worker

    def exited(self, worker: Worker) -> None:
        """Forget a worker whose thread ends; its queue goes to the others."""
        with self.lock:
            self.all.remove(worker)
            self._dispatcher._hand_off_queue(worker)

    def wait_unparked(self, worker: Worker) -> bool:
        """Wait until unparked; return False if the thread should exit instead."""
        worker.park.acquire()
        return not self.closed

    def has_surplus(self, worker: Worker) -> bool:
        """Return whether `worker` must rejoin or step back after its turn."""
        return worker.lent or self.running > self.workers

    def after_turn(self, worker: Worker) -> bool:
        """Rejoin after a blocked turn and park if the pool has a thread too many.

        Returns False if the thread should exit.
        """
        with self.lock:
            if worker.lent:
                worker.lent = False
                self.running += 1
            if self.running <= self.workers or self.closed:
                return True
            self.running -= 1
            self._dispatcher._hand_off_queue(worker)
            if len(self._spares) >= self.spare_threads:
                return False
            worker.parked = True
            self._spares.append(worker)
        return self.wait_unparked(worker)

    def lend_locked(self, worker: Worker) -> None:
        """Count `worker` as blocked, move its queue, and put a thread in its place."""
        worker.lent = True
        self.running -= 1
        self._dispatcher._hand_off_queue(worker)
        if self.closed:
            return
        if self._spares:
            spare = self._spares.pop()
            spare.parked = False
            self.running += 1
            spare.park.release()
        elif len(self.all) < self.max_threads:
            self._spawn_locked()
        elif not self._warned_exhausted:
            self._warned_exhausted = True
            logger.warning(
                "all %d threads of dispatcher %r are blocked or busy; raise max_threads "
                "or move blocking calls to a pykka.ThreadingActor",
                self.max_threads,
                self._dispatcher.name,
            )

    def enter_blocking(self, worker: Worker) -> None:
        """Declare `worker` blocked (nested sections count once)."""
        worker.blocked_depth += 1
        if worker.blocked_depth > 1:
            return
        with self.lock:
            if not worker.lent:
                self.lend_locked(worker)

    def exit_blocking(self, worker: Worker) -> None:
        """End a declared blocking section."""
        worker.blocked_depth -= 1
        if worker.blocked_depth:
            return
        with self.lock:
            if worker.lent:
                worker.lent = False
                self.running += 1
