"""Fixtures shared by every test: no actor or client socket outlives the test that started it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pykka
import pytest
from _browser import launch_chromium
from _support import close_test_sockets
from hypothesis import HealthCheck, settings

import actornet

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

# Hypothesis's wall-clock checks measure the machine, not the code: with a CPU hog on
# both cores one example of test_properties.py took 346 ms against the 200 ms deadline
# (FlakyFailure, since the rerun was fast). Hangs are caught by pytest's timeout, and
# parse cost by test_properties.py's work counts and construct audit.
settings.register_profile("actornet", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("actornet")


def stop_leftover_actors() -> None:
    """Stop every actornet actor and every registered Pykka actor still running."""
    actornet.stop_all(timeout=5)
    pykka.ActorRegistry.stop_all(timeout=5)


@pytest.fixture(autouse=True)
def _stop_leftover_actors() -> Iterator[None]:
    yield
    close_test_sockets()
    stop_leftover_actors()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium shared by the tests of one module; see tests/_browser.py.

    Skipped without Debian's chromium, except in CI (`CI=true`), where that fails.
    """
    with launch_chromium() as launched:
        yield launched
