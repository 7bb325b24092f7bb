"""Watchdog: finds workers stuck in one turn while work waits, and lends a thread.

A handler can block in ways the runtime cannot see (`time.sleep()`, asking a
`pykka.ThreadingActor`, a C call that holds no GIL). Every `blocking_threshold`
seconds the watchdog compares each busy worker's turn counter with the one it
saw last time; a worker still in the same turn while other work waits (in its
own run queue, in the global queue, or as sockets in a poller no idle worker is
watching, as Go's sysmon also checks the network) is treated as blocked.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actornet._runtime._dispatcher import Dispatcher

__all__ = ["Watchdog"]

logger = logging.getLogger("actornet.runtime")


class Watchdog:
    """Thread that lends the pool a thread in place of a stuck worker."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._stop = threading.Event()
        self.thread = threading.Thread(
            target=self._watch, name=f"{dispatcher.name}-watchdog", daemon=True
        )

    def start(self) -> None:
        """Start looking."""
        self.thread.start()

    def stop(self) -> None:
        """Stop looking; the thread ends within one threshold."""
        self._stop.set()

    def _watch(self) -> None:
        dispatcher = self._dispatcher
        pool = dispatcher.pool
        while not self._stop.wait(dispatcher.blocking_threshold):
            with pool.lock:
                waiting = dispatcher._work_is_waiting()
                for worker in pool.all:
                    turn = worker.turn
                    stuck = worker.busy and turn == worker.seen_turn and not worker.lent
                    worker.seen_turn = turn
                    if stuck and (waiting or len(worker.queue)):
                        logger.debug(
                            "%s has been in one turn for over %.0f ms; lending a thread",
                            worker.name,
                            dispatcher.blocking_threshold * 1000,
                        )
                        pool.lend_locked(worker)
