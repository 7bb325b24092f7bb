"""actornet's public names: a change here is a change to the API, made on purpose."""

from __future__ import annotations

import types

import actornet


def test_the_public_api_is_exactly_these_names() -> None:
    assert sorted(actornet.__all__) == [
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


def test_the_runtime_internals_are_in_lowlevel_and_only_there() -> None:
    assert sorted(actornet.lowlevel.__all__) == [
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
    assert not set(actornet.lowlevel.__all__) & set(actornet.__all__)
    dispatcher = actornet.lowlevel.Dispatcher()
    try:
        assert dispatcher.workers == actornet.lowlevel.DEFAULT_WORKERS
    finally:
        dispatcher.close()
