"""The chat's /metrics page: Prometheus text exposition of the doors, the chat and the runtime.

Every figure is read when the page is asked for, from snapshots that cost the
connections nothing: `Server.statistics()` per door, the directory's
`ChatStatistics`, and the dispatcher's statistics. Nothing here asks an actor
and waits, so serving the page never blocks the thread that serves it.

| metric | type | labels |
|---|---|---|
| `actornet_connections_open` | gauge | door |
| `actornet_connections_accepted_total` | counter | door |
| `actornet_connections_refused_total` | counter | door (refused at `max_connections`) |
| `actornet_disconnects_total` | counter | door, reason (`slow_consumer`, `protocol_error`, ...) |
| `actornet_frames_received_total`, `actornet_frames_sent_total` | counter | door |
| `actornet_bytes_received_total`, `actornet_bytes_sent_total` | counter | door |
| `actornet_runnable_mailboxes` | gauge | (mailboxes waiting for a turn: the run-queue length) |
| `actornet_worker_threads`, `actornet_blocked_workers` | gauge | |
| `actornet_turns_total` | counter | (actor turns run) |
| `actornet_live_actors` | gauge | |
| `chat_registered_users`, `chat_rooms`, `chat_room_memberships` | gauge | |
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

import actornet
from actornet import lowlevel

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from prometheus_client.core import Metric

    from examples.chat.directory import ChatStatistics

__all__ = ["CONTENT_TYPE", "ChatMetrics"]

#: The Content-Type of the page (Prometheus text format).
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ChatMetrics:
    """Collector of the chat's figures, rendered by `page()`.

    Args:
        doors: The chat's servers by door name ("binary", "browser", ...); a
            door may be added after construction (`doors[name] = server`).
        chat: The directory's figures.
    """

    def __init__(self, doors: Mapping[str, actornet.Server[Any]], chat: ChatStatistics) -> None:
        self.doors = doors
        self.chat = chat
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def page(self) -> bytes:
        """Render every metric in the Prometheus text format."""
        return generate_latest(self._registry)

    def collect(self) -> Iterable[Metric]:
        """Yield the metric families; called by the registry for each page."""
        yield from self._door_metrics()
        runtime = lowlevel.default_dispatcher().statistics()
        yield _gauge(
            "actornet_runnable_mailboxes", "Mailboxes waiting for a turn.", runtime.runnable
        )
        yield _gauge("actornet_worker_threads", "Dispatcher worker threads.", runtime.threads)
        yield _gauge("actornet_blocked_workers", "Workers inside a blocking call.", runtime.blocked)
        turns = CounterMetricFamily("actornet_turns", "Actor turns run by the dispatcher.")
        turns.add_metric([], runtime.turns)
        yield turns
        yield _gauge("actornet_live_actors", "Actors running now.", actornet.live_actor_count())
        chat = self.chat
        yield _gauge("chat_registered_users", "Users with a nick.", chat.registered)
        yield _gauge("chat_rooms", "Rooms.", chat.rooms)
        yield _gauge(
            "chat_room_memberships", "Members of all rooms, a user once per room.", chat.memberships
        )

    def _door_metrics(self) -> Iterable[Metric]:
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "open": GaugeMetricFamily(
                "actornet_connections_open", "Connections open now.", labels=["door"]
            ),
            "accepted": CounterMetricFamily(
                "actornet_connections_accepted", "Connections accepted.", labels=["door"]
            ),
            "refused": CounterMetricFamily(
                "actornet_connections_refused",
                "Connections closed at once at Limits.max_connections.",
                labels=["door"],
            ),
            "disconnects": CounterMetricFamily(
                "actornet_disconnects", "Ended connections by reason.", labels=["door", "reason"]
            ),
            "frames_in": CounterMetricFamily(
                "actornet_frames_received", "Frames (messages) received.", labels=["door"]
            ),
            "frames_out": CounterMetricFamily(
                "actornet_frames_sent",
                "Frames queued for sending (a room's lines of one turn count as one).",
                labels=["door"],
            ),
            "bytes_in": CounterMetricFamily(
                "actornet_bytes_received", "Bytes read from sockets.", labels=["door"]
            ),
            "bytes_out": CounterMetricFamily(
                "actornet_bytes_sent", "Bytes written to sockets.", labels=["door"]
            ),
        }
        for door, server in list(self.doors.items()):
            stats = server.statistics()
            families["open"].add_metric([door], stats.open_connections)
            families["accepted"].add_metric([door], stats.accepted)
            families["refused"].add_metric([door], stats.refused)
            for reason, count in sorted(stats.disconnects.items()):
                families["disconnects"].add_metric([door, reason], count)
            families["frames_in"].add_metric([door], stats.received_frames)
            families["frames_out"].add_metric([door], stats.sent_frames)
            families["bytes_in"].add_metric([door], stats.received_bytes)
            families["bytes_out"].add_metric([door], stats.sent_bytes)
        return families.values()


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
