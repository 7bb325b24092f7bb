"""Dispatcher: runs scheduled mailboxes on a small pool of worker threads.

Theory of operation
-------------------
An actor costs no thread. Its mailbox is handed to the dispatcher when a message
arrives in an idle mailbox; a worker thread takes the mailbox from a run queue,
runs one *turn* of the actor (at most `batch_size` messages, for fairness), and
the mailbox schedules itself again if messages remain.

Run queues. Each worker has a local run queue (a deque) and all share one global
queue (a `queue.SimpleQueue`). A mailbox scheduled *from* a worker goes to that
worker's local queue: under the GIL, waking another thread to run it would cost
a thread switch (several microseconds) and gain no parallelism. A mailbox
scheduled from any other thread (a plain thread, a `pykka.ThreadingActor`, the
poller thread) goes to the global queue, where idle workers wait. A worker takes
local work first, looks at the global queue every `_GLOBAL_CHECK_INTERVAL` turns
so that it is never starved, and a local queue past `_LOCAL_QUEUE_LIMIT` spills
into the global one. This is Go's scheduler without work stealing.

Blocking. A worker that blocks (a handler waiting on a future, sleeping, or in a
slow library call) would hold its queued actors hostage and, in a pool of one,
deadlock. Two mechanisms lend the pool a thread while a worker blocks:

* *Declared* blocking: `DispatchedFuture.get()` and `blocking()` mark the worker
  as blocked before they wait. Its local queue moves to the global queue and a
  parked spare thread (or a new one, up to `max_threads`) starts taking work.
* *Detected* blocking: a watchdog thread looks every `blocking_threshold`
  seconds for a worker that has been in the same turn since its last look while
  work is waiting, and does the same for it. This covers waits the runtime
  cannot see, such as `pykka.ThreadingFuture.get()` or `time.sleep()`.

When a blocked worker finishes its turn the pool has one thread too many; the
first worker to notice parks itself as a spare (at most `spare_threads` are kept;
the rest exit), so the number of running workers returns to `workers`.

Poller hosting. The dispatcher owns one `Poller`. With `poller="worker"` an idle
worker polls it (event-loop style): readiness messages are then delivered on the
worker that will run the reader, with no thread switch. With `poller="thread"` a
dedicated thread polls and every readiness message crosses threads. See
docs/runtime.md for the measurement behind the default.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from typing import TYPE_CHECKING, Literal

from actornet._runtime._poller import Poller

if TYPE_CHECKING:
    from types import TracebackType

    from actornet._runtime._mailbox import Mailbox

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLOCKING_THRESHOLD",
    "DEFAULT_MAX_THREADS",
    "DEFAULT_SPARE_THREADS",
    "DEFAULT_WORKERS",
    "Dispatcher",
    "DispatcherStatistics",
    "Worker",
    "blocking",
    "current_worker",
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

# Go checks its global run queue every 61 scheduler ticks; a prime avoids
# falling into step with other periodic work.
_GLOBAL_CHECK_INTERVAL = 61

# Go's per-P run queue holds 256 goroutines before spilling to the global queue.
_LOCAL_QUEUE_LIMIT = 256

# A busy worker polls the poller without waiting every this many turns, so
# socket readiness is seen even when no worker is ever idle.
_BUSY_POLL_INTERVAL = 16

_state = threading.local()


class _Kick:
    """Run-queue item that sends an idle worker back to look at the poller."""

    __slots__ = ()


_KICK = _Kick()


def current_worker() -> Worker | None:
    """Return the dispatcher worker running on this thread, or None."""
    return getattr(_state, "worker", None)


class _BlockingSection:
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


def blocking() -> _BlockingSection:
    """Declare that the calling handler is about to block.

    Use it around a slow call inside an actor's handler, so the dispatcher lends
    the pool another thread at once instead of after `blocking_threshold`::

        with actornet.blocking():
            rows = database.query(...)

    Outside a dispatcher worker it does nothing, so it is safe in code shared
    with plain threads.
    """
    return _BlockingSection(current_worker())


class Worker:
    """One thread of a dispatcher's pool and its local run queue."""

    __slots__ = (
        "blocked_depth",
        "busy",
        "dispatcher",
        "lent",
        "local",
        "name",
        "park",
        "parked",
        "seen_turn",
        "thread",
        "turn",
    )

    def __init__(self, dispatcher: Dispatcher, name: str) -> None:
        self.dispatcher = dispatcher
        self.name = name
        self.local: deque[Mailbox] = deque()
        self.turn = 0
        self.seen_turn = -1
        self.busy = False
        #: True while the pool counts this worker as blocked and has lent a
        #: thread in its place.
        self.lent = False
        self.blocked_depth = 0
        self.parked = False
        self.thread: threading.Thread | None = None
        # Held while the worker runs; a parked worker waits to acquire it.
        self.park = threading.Lock()
        self.park.acquire()

    def blocking(self) -> _BlockingSection:
        """Return a context manager that declares this worker blocked."""
        return _BlockingSection(self)


class DispatcherStatistics:
    """Snapshot of a dispatcher's threads, as returned by `Dispatcher.statistics()`."""

    __slots__ = ("blocked", "parked", "running", "threads")

    def __init__(self, threads: int, running: int, parked: int, blocked: int) -> None:
        #: Worker threads alive, parked spares and blocked workers included.
        self.threads = threads
        #: Workers counted as taking work.
        self.running = running
        #: Spare threads waiting to replace a blocked worker.
        self.parked = parked
        #: Workers blocked in a turn, declared or detected.
        self.blocked = blocked

    def __repr__(self) -> str:
        return (
            f"DispatcherStatistics(threads={self.threads}, running={self.running}, "
            f"parked={self.parked}, blocked={self.blocked})"
        )


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
        self.workers = workers
        self.max_threads = max_threads
        self.spare_threads = spare_threads
        self.batch_size = batch_size
        self.blocking_threshold = blocking_threshold
        self.name = name
        self.poller_mode = poller
        self.poller = Poller()

        self._global: queue.SimpleQueue[Mailbox | _Kick | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all: list[Worker] = []
        self._spares: list[Worker] = []
        self._running = 0
        self._idle = 0
        self._started = False
        self._closed = False
        self._thread_counter = 0
        self._warned_exhausted = False
        self._poll_token = threading.Lock()
        # True while idle workers wait on the run queue instead of the poller
        # because it had nothing to watch; a new descriptor or timer kicks one.
        self._poller_unwatched = False
        if poller == "worker":
            self.poller.on_interest = self._poller_gained_interest
        self._stop_watchdog = threading.Event()
        self._service_threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"<Dispatcher {self.name!r} workers={self.workers} {self.statistics()!r}>"

    # -- scheduling ---------------------------------------------------------

    def schedule(self, mailbox: Mailbox) -> None:
        """Queue a mailbox to run one turn; called by the mailbox itself."""
        worker: Worker | None = getattr(_state, "worker", None)
        if (
            worker is not None
            and worker.dispatcher is self
            and not worker.lent
            and len(worker.local) < _LOCAL_QUEUE_LIMIT
        ):
            worker.local.append(mailbox)
            return
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
        """Return a snapshot of the pool's threads."""
        with self._lock:
            return DispatcherStatistics(
                threads=len(self._all),
                running=self._running,
                parked=len(self._spares),
                blocked=sum(1 for w in self._all if w.lent),
            )

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the pool's threads once they finish their current turn.

        Actors left on the dispatcher stop being run; stop them first. Threads
        that do not finish within `timeout` seconds are left behind as daemons.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = [w.thread for w in self._all if w.thread is not None]
            threads.extend(self._service_threads)
            for worker in self._spares:
                worker.parked = False
                worker.park.release()
            self._spares.clear()
            for _ in self._all:
                self._global.put(None)
        self._stop_watchdog.set()
        self.poller.wake()
        for thread in threads:
            thread.join(timeout)
        self.poller.close()

    # -- threads ------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            if self._closed:
                raise RuntimeError(
                    f"dispatcher {self.name!r} is closed: start actors on another dispatcher"
                )
            for _ in range(self.workers):
                self._spawn_locked()
            for _ in range(self.spare_threads):
                worker = self._spawn_locked(parked=True)
                self._spares.append(worker)
            watchdog = threading.Thread(
                target=self._watch, name=f"{self.name}-watchdog", daemon=True
            )
            self._service_threads.append(watchdog)
            watchdog.start()
            if self.poller_mode == "thread":
                poll_thread = threading.Thread(
                    target=self._poll_forever, name=f"{self.name}-poller", daemon=True
                )
                self._service_threads.append(poll_thread)
                poll_thread.start()
            self._started = True

    def _spawn_locked(self, *, parked: bool = False) -> Worker:
        self._thread_counter += 1
        worker = Worker(self, f"{self.name}-worker-{self._thread_counter}")
        worker.parked = parked
        if not parked:
            self._running += 1
        thread = threading.Thread(
            target=self._work, args=(worker,), name=worker.name, daemon=True
        )
        worker.thread = thread
        self._all.append(worker)
        thread.start()
        return worker

    def _work(self, worker: Worker) -> None:
        _state.worker = worker
        try:
            if worker.parked and not self._wait_unparked(worker):
                return
            while True:
                mailbox = self._next(worker)
                if mailbox is None:
                    return
                worker.turn += 1
                worker.busy = True
                try:
                    mailbox.run(self.batch_size)
                except BaseException:
                    logger.exception("actornet bug: a turn raised out of its mailbox")
                worker.busy = False
                if (worker.lent or self._running > self.workers) and not self._after_turn(
                    worker
                ):
                    return
        finally:
            with self._lock:
                self._all.remove(worker)
                self._hand_off_locked(worker)

    def _next(self, worker: Worker) -> Mailbox | None:
        local = worker.local
        while True:
            if worker.turn % _GLOBAL_CHECK_INTERVAL == 0 or not local:
                try:
                    item = self._global.get_nowait()
                except queue.Empty:
                    pass
                else:
                    if isinstance(item, _Kick):
                        continue
                    return item
            if local:
                if self.poller_mode == "worker" and worker.turn % _BUSY_POLL_INTERVAL == 0:
                    self._poll_in_worker(wait=False)
                try:
                    return local.popleft()
                except IndexError:  # the watchdog handed it off meanwhile
                    continue
            item = self._wait_for_work()
            if not isinstance(item, _Kick):
                return item

    def _wait_for_work(self) -> Mailbox | _Kick | None:
        """Poll, or wait on the global queue; return what to run next or a kick."""
        if self.poller_mode == "worker":
            # Set before looking, so that interest added meanwhile kicks us.
            self._poller_unwatched = True
            # With nothing to watch, wait on the run queue: a futex wake is
            # cheaper than the eventfd that ends an epoll wait.
            if self.poller.has_interest() and self._poll_in_worker(wait=True):
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

    def _poll_in_worker(self, *, wait: bool) -> bool:
        if not self._poll_token.acquire(blocking=False):
            return False
        try:
            if self._closed:
                return False
            poller = self.poller
            if wait:
                self._poller_unwatched = False
                poller.sleeping = True
                if not self._global.empty():
                    wait = False
            poller.poll(None if wait else 0.0)
        finally:
            self._poll_token.release()
        return True

    def _poll_forever(self) -> None:
        while not self._closed:
            self.poller.poll(None)

    def _after_turn(self, worker: Worker) -> bool:
        """Rejoin after a blocked turn and park if the pool has a thread too many.

        Returns False if the thread should exit.
        """
        with self._lock:
            if worker.lent:
                worker.lent = False
                self._running += 1
            if self._running <= self.workers or self._closed:
                return True
            self._running -= 1
            self._hand_off_locked(worker)
            if len(self._spares) >= self.spare_threads:
                return False
            worker.parked = True
            self._spares.append(worker)
        return self._wait_unparked(worker)

    def _wait_unparked(self, worker: Worker) -> bool:
        worker.park.acquire()
        return not self._closed

    def _hand_off_locked(self, worker: Worker) -> None:
        local = worker.local
        while local:
            try:
                self._global.put(local.popleft())
            except IndexError:
                return
        if self._idle == 0 and self.poller.sleeping:
            self.poller.wake()

    def _lend_thread_locked(self) -> None:
        if self._closed:
            return
        if self._spares:
            spare = self._spares.pop()
            spare.parked = False
            self._running += 1
            spare.park.release()
        elif len(self._all) < self.max_threads:
            self._spawn_locked()
        elif not self._warned_exhausted:
            self._warned_exhausted = True
            logger.warning(
                "all %d threads of dispatcher %r are blocked or busy; raise max_threads "
                "or move blocking calls to a pykka.ThreadingActor",
                self.max_threads,
                self.name,
            )

    def _enter_blocking(self, worker: Worker) -> None:
        worker.blocked_depth += 1
        if worker.blocked_depth > 1:
            return
        with self._lock:
            if worker.lent:
                return
            worker.lent = True
            self._running -= 1
            self._hand_off_locked(worker)
            self._lend_thread_locked()

    def _exit_blocking(self, worker: Worker) -> None:
        worker.blocked_depth -= 1
        if worker.blocked_depth:
            return
        with self._lock:
            if worker.lent:
                worker.lent = False
                self._running += 1

    def _watch(self) -> None:
        while not self._stop_watchdog.wait(self.blocking_threshold):
            with self._lock:
                # Work waits in the run queue, or unseen in the poller when no
                # idle worker watches it (Go's sysmon polls the network too).
                waiting = not self._global.empty() or (
                    self.poller_mode == "worker"
                    and self.poller.has_interest()
                    and not self._poll_token.locked()
                )
                for worker in self._all:
                    turn = worker.turn
                    stuck = worker.busy and turn == worker.seen_turn and not worker.lent
                    worker.seen_turn = turn
                    if stuck and (waiting or worker.local):
                        logger.debug(
                            "%s has been in one turn for over %.0f ms; lending a thread",
                            worker.name,
                            self.blocking_threshold * 1000,
                        )
                        worker.lent = True
                        self._running -= 1
                        self._hand_off_locked(worker)
                        self._lend_thread_locked()
