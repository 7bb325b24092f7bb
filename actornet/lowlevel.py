"""The runtime beneath actornet's API, for tuning it and building on it.

A server author needs none of this: `actornet.Actor`, `actornet.Session` and
`actornet.serve_tcp()` run on the default dispatcher. Reach here to size a
worker pool (`Dispatcher`), give some actors a pool of their own
(`Actor.dispatcher`), read a pool's `statistics()`, or watch a file descriptor
of your own with the dispatcher's `Poller`. As with `trio.lowlevel`, these
names are public and documented, but they expose how the runtime works and may
change with it.
"""

from actornet._runtime._actor import default_dispatcher, set_default_dispatcher
from actornet._runtime._dispatcher import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BLOCKING_THRESHOLD,
    DEFAULT_MAX_THREADS,
    DEFAULT_SPARE_THREADS,
    DEFAULT_WORKERS,
    Dispatcher,
    DispatcherStatistics,
)
from actornet._runtime._future import DispatchedFuture
from actornet._runtime._poller import Poller, Registration, Timer
from actornet._runtime._worker import current_worker

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLOCKING_THRESHOLD",
    "DEFAULT_MAX_THREADS",
    "DEFAULT_SPARE_THREADS",
    "DEFAULT_WORKERS",
    "DispatchedFuture",
    "Dispatcher",
    "DispatcherStatistics",
    "Poller",
    "Registration",
    "Timer",
    "current_worker",
    "default_dispatcher",
    "set_default_dispatcher",
]
