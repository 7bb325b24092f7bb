"""Fixtures shared by every test: no actor or client socket outlives the test that started it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pykka
import pytest
from _support import close_test_sockets

import actornet

if TYPE_CHECKING:
    from collections.abc import Iterator


def stop_leftover_actors() -> None:
    """Stop every actornet actor and every registered Pykka actor still running."""
    actornet.stop_all(timeout=5)
    pykka.ActorRegistry.stop_all(timeout=5)


@pytest.fixture(autouse=True)
def _stop_leftover_actors() -> Iterator[None]:
    yield
    close_test_sockets()
    stop_leftover_actors()
