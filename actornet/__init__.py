"""actornet: network servers and clients in the actor model, on Pykka."""

import logging

from actornet._runtime._actor import Actor, default_dispatcher, set_default_dispatcher
from actornet._runtime._dispatcher import Dispatcher, DispatcherStatistics, blocking
from actornet._runtime._future import DispatchedFuture
from actornet._runtime._poller import Poller, Registration, Timer
from actornet._runtime._registry import live_actor_count, live_actors, stop_all

__all__ = [
    "Actor",
    "DispatchedFuture",
    "Dispatcher",
    "DispatcherStatistics",
    "Poller",
    "Registration",
    "Timer",
    "blocking",
    "default_dispatcher",
    "live_actor_count",
    "live_actors",
    "set_default_dispatcher",
    "stop_all",
]

logging.getLogger("actornet").addHandler(logging.NullHandler())
