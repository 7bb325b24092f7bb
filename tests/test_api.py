"""actornet's public names: a change here is a change to the API, made on purpose."""

from __future__ import annotations

import types

import actornet


def test_the_public_api_is_exactly_these_names() -> None:
    assert sorted(actornet.__all__) == [
        "Actor",
        "BrokenConnectionError",
        "ClosedConnectionError",
        "DisconnectReason",
        "DispatchedFuture",
        "Dispatcher",
        "DispatcherStatistics",
        "Limits",
        "Outbox",
        "Poller",
        "Registration",
        "Server",
        "Session",
        "Timer",
        "WriterStatistics",
        "blocking",
        "connect_tcp",
        "default_dispatcher",
        "format_peer",
        "live_actor_count",
        "live_actors",
        "serve_tcp",
        "set_default_dispatcher",
        "stop_all",
        "tell_or_drop",
    ]


def test_all_lists_every_public_name_the_package_defines() -> None:
    defined = {
        name
        for name, value in vars(actornet).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert defined == set(actornet.__all__)


def test_a_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from actornet import *", namespace)  # raises if __all__ names something missing
    assert sorted(set(namespace) - {"__builtins__"}) == sorted(actornet.__all__)


def test_format_peer_renders_addresses_for_log_lines() -> None:
    assert actornet.format_peer(("127.0.0.1", 7070)) == "127.0.0.1:7070"
    assert actornet.format_peer(("::1", 7070, 0, 0)) == "::1:7070"
    assert actornet.format_peer("unknown peer") == "unknown peer"
