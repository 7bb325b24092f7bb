"""actornet's public names: a change here is a change to the API, made on purpose."""

from __future__ import annotations

import actornet


def test_the_public_api_is_exactly_these_names() -> None:
    assert sorted(actornet.__all__) == [
        "Actor",
        "BrokenConnectionError",
        "ClosedConnectionError",
        "ConnectionStatistics",
        "DisconnectReason",
        "DispatchedFuture",
        "Dispatcher",
        "DispatcherStatistics",
        "Limits",
        "Outbox",
        "Poller",
        "QueuedLogging",
        "Registration",
        "Server",
        "ServerStatistics",
        "Session",
        "Timer",
        "blocking",
        "connect_tcp",
        "default_dispatcher",
        "format_peer",
        "live_actor_count",
        "live_actors",
        "log_to_stream",
        "serve_tcp",
        "set_default_dispatcher",
        "stop_all",
        "tell_or_drop",
    ]


def test_every_public_name_exists() -> None:
    for name in actornet.__all__:
        assert hasattr(actornet, name), name


def test_format_peer_renders_addresses_for_log_lines() -> None:
    assert actornet.format_peer(("127.0.0.1", 7070)) == "127.0.0.1:7070"
    assert actornet.format_peer(("::1", 7070, 0, 0)) == "::1:7070"
    assert actornet.format_peer("unknown peer") == "unknown peer"
