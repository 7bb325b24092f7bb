"""Dispatcher: runs scheduled mailboxes on a small pool of worker threads.

Theory of operation
-------------------
An actor costs no thread. Its mailbox is handed to the dispatcher when a message
arrives in an idle mailbox; a worker takes the mailbox from a run queue, runs
one *turn* of the actor (at most `batch_size` messages), and the mailbox joins
the back of the queue again if messages remain.

Run queues. Each worker has a `RunQueue`: a FIFO plus a hand-off slot for the
mailbox the current turn woke last (see `_runqueue.py`). A mailbox woken from
any other thread (a plain thread, a `pykka.ThreadingActor`, a poller thread)
goes to the global queue, where idle workers wait.

Fairness. Every `REFILL_INTERVAL` turns, and whenever its run queue is empty, a
worker *refills*: it moves what waits in the global queue to the back of its
FIFO and polls the poller without waiting, whose readiness and timer messages
wake mailboxes at the back of the FIFO too. So no runnable mailbox waits behind
work that became runnable after it, except for hand-off chains, which are
bounded (`MAX_CHAINED_HANDOFFS`); from another thread it waits at most
`REFILL_INTERVAL` turns to join the FIFO. With idle workers around, a refill
also moves the older half of a long FIFO to the global queue for them.

Blocking and the pool's threads: `_pool.py`; stuck workers: `_watchdog.py`.

Poller hosting. The dispatcher owns one `Poller`. With `poller="worker"` an idle
worker waits in the poller (event-loop style) and busy workers poll it during
refills, so readiness messages are delivered on the worker that will run the
reader, with no thread switch. With `poller="thread"` a dedicated thread polls
and every readiness message crosses threads. docs/runtime.md has the
measurement behind the default.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from actornet._runtime import _worker
from actornet._runtime._poller import Poller
from actornet._runtime._pool import WorkerPool
from actornet._runtime._watchdog import Watchdog
from actornet._runtime._worker import Worker, bind_worker

if TYPE_CHECKING:
    from actornet._runtime._mailbox import Mailbox

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLOCKING_THRESHOLD",
    "DEFAULT_MAX_THREADS",
    "DEFAULT_SPARE_THREADS",
    "DEFAULT_WORKERS",
    "MAX_NESTED_TURNS",
    "REFILL_INTERVAL",
    "Dispatcher",
    "DispatcherStatistics",
]

logger = logging.getLogger("actornet.runtime")

#: Workers running actors at once. Under the GIL only one thread runs Python
#: code at a time, so a second worker adds no throughput for Python code
#: (bench/poller.py: 117k vs 92k socket hops/s in one run, 123k vs 131k in
#: another) but adds a thread and hand-offs. Blocked workers are replaced on
#: demand, so one is enough by default.
DEFAULT_WORKERS = 1

#: Upper bound on threads, spares and blocked workers included. Each blocked
#: handler pins one thread, so this also bounds concurrent blocking calls.
DEFAULT_MAX_THREADS = 64

#: Parked threads kept ready to replace a blocked worker: unparking one is one
#: thread wake-up (~30 us here), starting one 150-500 us depending on load.
DEFAULT_SPARE_THREADS = 1

#: Messages an actor handles per turn before the worker moves on. Akka's default
#: throughput is 5; a larger batch amortises scheduling, a smaller one is fairer.
DEFAULT_BATCH_SIZE = 32

#: Seconds a worker may spend in one turn, while others wait, before the
#: watchdog lends the pool another thread. Go preempts after 10 ms.
DEFAULT_BLOCKING_THRESHOLD = 0.02

#: Turns between two refills of a busy worker (global queue and poller). Go
#: checks its global run queue every 61 scheduler ticks; a prime avoids falling
#: into step with other periodic work. A refill costs one epoll_wait(0).
REFILL_INTERVAL = 61

#: Turns one turn may run inside itself with `Mailbox.put_and_run()`: a
#: session's turn runs its writer's; deeper chains are scheduled as usual.
MAX_NESTED_TURNS = 1

# A refill shares the older half of a FIFO longer than this with idle workers;
# shorter ones are not worth waking a thread for.
_SHARE_THRESHOLD = 64


class _Kick:
    """Run-queue item that sends an idle worker back to look at the poller."""

    __slots__ = ()


_KICK = _Kick()


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatcherStatistics:
    """Snapshot of a dispatcher's threads and queues, from `Dispatcher.statistics()`."""

    threads: int
    """Worker threads alive, parked spares and blocked workers included."""
    running: int
    """Workers counted as taking work."""
    parked: int
    """Spare threads waiting to replace a blocked worker."""
    blocked: int
    """Workers blocked in a turn, declared or detected."""
    runnable: int
    """Mailboxes waiting for a turn, in every run queue and the global queue."""
    turns: int
    """Turns run so far by the threads alive now."""


class Dispatcher:
    """Pool of worker threads that runs actors while they have messages.

    Args:
        workers: threads that run actors at once (see `DEFAULT_WORKERS`).
        max_threads: bound on all threads of the pool, spares and blocked ones
            included.
        spare_threads: parked threads kept ready to replace a blocked worker.
        batch_size: messages an actor handles per turn.
        blocking_threshold: seconds in one turn after which a worker is treated
            as blocked, if work is waiting.
        poller: where the poller runs: `"worker"` (an idle worker polls) or
            `"thread"` (a dedicated thread).
        name: prefix of the thread names.

    Threads start on first use. They are daemon threads: like goroutines, actors
    do not keep the process alive, so a program keeps its main thread busy (for
    example in a server's `serve_forever()`) for as long as it runs.
    """

    def __init__(  # noqa: PLR0913 - every knob is a documented limit
        self,
        *,
        workers: int = DEFAULT_WORKERS,
        max_threads: int = DEFAULT_MAX_THREADS,
        spare_threads: int = DEFAULT_SPARE_THREADS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        blocking_threshold: float = DEFAULT_BLOCKING_THRESHOLD,
        poller: Literal["worker", "thread"] = "worker",
        name: str = "actornet",
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers}: a dispatcher needs at least one worker")
        if max_threads < workers + 1:
            raise ValueError(
                f"max_threads={max_threads} must exceed workers={workers}, "
                "so that a blocked worker can be replaced"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: an actor must handle at least 1 message")
        if blocking_threshold <= 0:
            raise ValueError(f"blocking_threshold={blocking_threshold} must be positive seconds")
        if poller not in ("worker", "thread"):
            raise ValueError(f"poller={poller!r}: use 'worker' or 'thread'")
        self.batch_size = batch_size
        self.blocking_threshold = blocking_threshold
        self.name = name
        self.poller_mode = poller
        self.poller = Poller()
        self.pool = WorkerPool(
            self,
            self._work,
            workers=workers,
            max_threads=max_threads,
            spare_threads=spare_threads,
        )
        self.watchdog = Watchdog(self)

        self._global: queue.SimpleQueue[Mailbox | _Kick | None] = queue.SimpleQueue()
        self._idle = 0
        self._started = False
        self._closed = False
        self._poll_in_workers = poller == "worker"
        self._poll_token = threading.Lock()
        self._poll_thread: threading.Thread | None = None
        # True while idle workers wait on the run queue instead of the poller
        # because it had nothing to watch; a new descriptor or timer kicks one.
        self._poller_unwatched = False
        if self._poll_in_workers:
            self.poller.on_interest = self._poller_gained_interest

    def __repr__(self) -> str:
        return f"<Dispatcher {self.name!r} workers={self.workers} {self.statistics()!r}>"

    @property
    def workers(self) -> int:
        """Threads that run actors at once."""
        return self.pool.workers

    @property
    def max_threads(self) -> int:
        """Bound on all threads of the pool."""
        return self.pool.max_threads

    @property
    def spare_threads(self) -> int:
        """Parked threads kept ready to replace a blocked worker."""
        return self.pool.spare_threads

    # -- scheduling ---------------------------------------------------------

    def schedule(self, mailbox: Mailbox) -> None:
        """Queue a mailbox that a message just woke; called by the mailbox itself."""
        worker: Worker | None = getattr(_worker._state, "worker", None)
        if worker is not None and worker.dispatcher is self and not worker.lent:
            if worker.delivering:
                worker.queue.push(mailbox)
            else:
                worker.queue.hand_off(mailbox)
            self._pass_on_if_lent(worker)
            return
        self._schedule_globally(mailbox)

    def requeue(self, mailbox: Mailbox) -> None:
        """Queue a mailbox whose turn ended with messages left, at the back."""
        worker: Worker | None = getattr(_worker._state, "worker", None)
        if worker is not None and worker.dispatcher is self and not worker.lent:
            worker.queue.push(mailbox)
            self._pass_on_if_lent(worker)
            return
        self._schedule_globally(mailbox)

    def run_now(self, mailbox: Mailbox) -> bool:
        """Run a scheduled mailbox's turn inside the current turn, if this worker may.

        Returns False, leaving the mailbox to be scheduled, unless the caller
        is a running worker of this dispatcher that is not delivering poller
        events and not already `MAX_NESTED_TURNS` turns deep.
        """
        worker: Worker | None = getattr(_worker._state, "worker", None)
        if (
            worker is None
            or worker.dispatcher is not self
            or worker.lent
            or worker.delivering
            or worker.nested >= MAX_NESTED_TURNS
        ):
            return False
        worker.nested += 1
        try:
            mailbox.run(self.batch_size)
        except BaseException:
            logger.exception("actornet bug: a turn raised out of its mailbox")
        finally:
            worker.nested -= 1
        return True

    def _pass_on_if_lent(self, worker: Worker) -> None:
        # The watchdog may have lent the worker between the caller's look at
        # `lent` and its push: then what was pushed must not wait for it.
        if worker.lent:
            self._hand_off_queue(worker)

    def ensure_running(self) -> None:
        """Start the threads if no actor has run yet, as a first schedule would.

        Raises:
            RuntimeError: if the dispatcher is closed.
        """
        if self._closed:
            raise RuntimeError(
                f"dispatcher {self.name!r} is closed: nothing it holds will run; "
                "start actors on another dispatcher"
            )
        if not self._started:
            self._start()

    def _schedule_globally(self, mailbox: Mailbox) -> None:
        if not self._started:
            self._start()
        elif self._closed:
            raise RuntimeError(
                f"dispatcher {self.name!r} is closed: nothing it holds will run; "
                "start actors on another dispatcher"
            )
        self._global.put(mailbox)
        if self._idle == 0 and self.poller.sleeping:
            self.poller.wake()

    def statistics(self) -> DispatcherStatistics:
        """Return a snapshot of the pool's threads and run queues."""
        pool = self.pool
        with pool.lock:
            return DispatcherStatistics(
                threads=len(pool.all),
                running=pool.running,
                parked=pool.parked_count(),
                blocked=sum(1 for w in pool.all if w.lent),
                runnable=self._global.qsize() + sum(len(w.queue) for w in pool.all),
                turns=sum(w.turn for w in pool.all),
            )

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the pool's threads once they finish their current turn.

        Actors left on the dispatcher stop being run; stop them first. Threads
        that do not finish within `timeout` seconds are left behind as daemons.
        """
        pool = self.pool
        with pool.lock:
            if self._closed:
                return
            self._closed = True
            threads = pool.close_locked()
            for _ in pool.all:
                self._global.put(None)
        if self._started:
            threads.append(self.watchdog.thread)
        if self._poll_thread is not None:
            threads.append(self._poll_thread)
        self.watchdog.stop()
        self.poller.wake()
        for thread in threads:
            thread.join(timeout)
        self.poller.close()

    # -- threads ------------------------------------------------------------

    def _start(self) -> None:
        with self.pool.lock:
            if self._started:
                return
            if self._closed:
                raise RuntimeError(
                    f"dispatcher {self.name!r} is closed: start actors on another dispatcher"
                )
            self.pool.start_locked()
            self.watchdog.start()
            if not self._poll_in_workers:
                self._poll_thread = threading.Thread(
                    target=self._poll_forever, name=f"{self.name}-poller", daemon=True
                )
                self._poll_thread.start()
            self._started = True

    def _work(self, worker: Worker) -> None:
        bind_worker(worker)
        pool = self.pool
        batch_size = self.batch_size
        try:
            if worker.parked and not pool.wait_unparked(worker):
                return
            while True:
                mailbox = self._next(worker)
                if mailbox is None:
                    return
                worker.turn += 1
                worker.busy = True
                try:
                    mailbox.run(batch_size)
                except BaseException:
                    logger.exception("actornet bug: a turn raised out of its mailbox")
                worker.busy = False
                if (worker.lent or pool.running > pool.workers) and not pool.after_turn(worker):
                    return
        finally:
            pool.exited(worker)

    def _next(self, worker: Worker) -> Mailbox | None:
        """Return the mailbox to run next, waiting for one; None when closing."""
        run_queue = worker.queue
        if worker.turn % REFILL_INTERVAL == 0 and not self._refill(worker):
            return None
        while True:
            mailbox = run_queue.pop()
            if mailbox is not None:
                return mailbox
            if not self._refill(worker):
                return None
            mailbox = run_queue.pop()
            if mailbox is not None:
                return mailbox
            item = self._wait_for_work(worker)
            if item is None:
                return None
            if not isinstance(item, _Kick):
                return item

    def _refill(self, worker: Worker) -> bool:
        """Take in cross-thread work and poller events; False once closing."""
        if self._closed:
            return False
        pending = self._global
        run_queue = worker.queue
        if not pending.empty() and not self._take_global(worker):
            return False
        if self._poll_in_workers:
            self._poll_in_worker(worker, wait=False)
        if self._idle and len(run_queue) > _SHARE_THRESHOLD:
            for mailbox in run_queue.take_half():
                pending.put(mailbox)
        return True

    def _take_global(self, worker: Worker) -> bool:
        """Move this worker's share of the global queue to its FIFO; False once closing."""
        pending = self._global
        count = pending.qsize()
        if self.pool.workers > 1:
            count = count // self.pool.workers + 1
        push = worker.queue.push
        for _ in range(count):
            try:
                item = pending.get_nowait()
            except queue.Empty:
                break
            if item is None:  # closing: leave the wake-up for a waiting worker
                pending.put(None)
                return False
            if not isinstance(item, _Kick):
                push(item)
        return True

    def _wait_for_work(self, worker: Worker) -> Mailbox | _Kick | None:
        """Poll, or wait on the global queue; return what to run next or a kick."""
        if self._poll_in_workers:
            # Set before looking, so that interest added meanwhile kicks us.
            self._poller_unwatched = True
            # With nothing to watch, wait on the run queue: a futex wake is
            # cheaper than the eventfd that ends an epoll wait.
            if self.poller.has_interest() and self._poll_in_worker(worker, wait=True):
                return _KICK
        self._idle += 1
        try:
            return self._global.get()
        finally:
            self._idle -= 1

    def _poller_gained_interest(self) -> None:
        if self._poller_unwatched:
            self._poller_unwatched = False
            self._global.put(_KICK)

    def _poll_in_worker(self, worker: Worker, *, wait: bool) -> bool:
        if not self._poll_token.acquire(blocking=False):
            return False
        try:
            if self._closed:
                return False
            poller = self.poller
            timeout: float | None = 0.0
            if wait:
                self._poller_unwatched = False
                # Before looking at the global queue: a schedule() from another
                # thread after the look sees the flag and wakes the poller.
                poller.sleeping = True
                if self._global.empty():
                    timeout = None
            worker.delivering = True
            try:
                poller.poll(timeout)
            finally:
                worker.delivering = False
        finally:
            self._poll_token.release()
        return True

    def _poll_forever(self) -> None:
        while not self._closed:
            self.poller.poll(None)

    def _hand_off_queue(self, worker: Worker) -> None:
        """Move a worker's run queue to the global queue, for other workers."""
        pending = self._global
        for mailbox in worker.queue.take_all():
            pending.put(mailbox)
        if self._idle == 0 and self.poller.sleeping:
            self.poller.wake()

    def _work_is_waiting(self) -> bool:
        """Return whether work waits that no running worker will get to."""
        return not self._global.empty() or (
            self._poll_in_workers
            and self.poller.has_interest()
            and not self._poll_token.locked()
        )

    def _enter_blocking(self, worker: Worker) -> None:
        self.pool.enter_blocking(worker)

    def _exit_blocking(self, worker: Worker) -> None:
        self.pool.exit_blocking(worker)
