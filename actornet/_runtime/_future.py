"""DispatchedFuture: a thread-safe Pykka future that lends a worker while it waits."""

from __future__ import annotations

from typing import Any, TypeVar

from pykka import ThreadingFuture

from actornet._runtime._dispatcher import current_worker

T = TypeVar("T")


class DispatchedFuture(ThreadingFuture[T]):
    """Pykka future whose `get()` works from any thread.

    It is a `pykka.ThreadingFuture`, so plain threads and `pykka.ThreadingActor`s
    can wait on it. When a worker thread of a dispatcher waits on an unfinished
    future, the wait is declared as blocking first: the worker's queued actors
    move to the shared run queue and a spare worker takes its place, so an
    `ask(...).get()` inside a handler cannot deadlock the pool.
    """

    def get(self, *, timeout: float | None = None) -> Any:
        """Get the value, waiting up to `timeout` seconds for it.

        Raises:
            pykka.Timeout: if no value arrived within `timeout` seconds.
            Exception: the exception set on the future, if any.
        """
        # Reading _result without the condition is a benign race: at worst the
        # wait is declared blocking and ends at once.
        if self._result is None and self._get_hook is None:
            worker = current_worker()
            if worker is not None:
                with worker.blocking():
                    return super().get(timeout=timeout)
        return super().get(timeout=timeout)
