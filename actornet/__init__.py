"""actornet: network servers and clients in the actor model, on Pykka.

Every connection is three actors: a reader, a writer and the `Session` you
subclass. Actors are cheap `actornet.Actor`s on a small worker pool; the pool,
its poller and its futures are in `actornet.lowlevel`.
"""

import logging

from actornet import lowlevel as lowlevel
from actornet._client import connect_tcp, connect_ws
from actornet._connection import format_peer
from actornet._exceptions import BrokenConnectionError, ClosedConnectionError
from actornet._limits import Limits
from actornet._logging import QueuedLogging, log_to_stream
from actornet._messages import DisconnectReason
from actornet._runtime._actor import Actor, tell_or_drop
from actornet._runtime._registry import live_actor_count, live_actors, stop_all
from actornet._runtime._worker import blocking
from actornet._server import Server, serve_tcp
from actornet._session import Outbox, Session
from actornet._statistics import ConnectionStatistics, ServerStatistics
from actornet._tls import TlsInfo

__all__ = [
    "Actor",
    "BrokenConnectionError",
    "ClosedConnectionError",
    "ConnectionStatistics",
    "DisconnectReason",
    "Limits",
    "Outbox",
    "QueuedLogging",
    "Server",
    "ServerStatistics",
    "Session",
    "TlsInfo",
    "blocking",
    "connect_tcp",
    "connect_ws",
    "format_peer",
    "live_actor_count",
    "live_actors",
    "log_to_stream",
    "serve_tcp",
    "stop_all",
    "tell_or_drop",
]

logging.getLogger("actornet").addHandler(logging.NullHandler())
