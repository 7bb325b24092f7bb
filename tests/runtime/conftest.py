"""The `runtime` fixture: every parametrised test runs on Pykka's threads and on actornet."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pykka
import pytest

import actornet

from ._support import LogJournal, PoolFactory, Runtime

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(params=["threading", "dispatched"])
def runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    if request.param == "threading":
        yield Runtime(
            name="threading", base=pykka.ThreadingActor, future_class=pykka.ThreadingFuture
        )
        return
    dispatcher = actornet.lowlevel.Dispatcher(workers=2, name="test-runtime")
    try:
        yield Runtime(
            name="dispatched",
            base=actornet.Actor,
            future_class=actornet.lowlevel.DispatchedFuture,
            dispatcher=dispatcher,
        )
    finally:
        # Stop this test's actors while their dispatcher still runs them; the
        # autouse fixture that also does this runs only after the pool is closed.
        try:
            actornet.stop_all(timeout=5)
        finally:
            dispatcher.close()


@pytest.fixture
def make_pool() -> Iterator[PoolFactory]:
    """`make_pool(workers=1, ...)` returns a runtime on a new dispatcher, closed after the test."""
    factory = PoolFactory()
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def pykka_log() -> Iterator[LogJournal]:
    """Records everything logged on the "pykka" logger during the test."""
    logger = logging.getLogger("pykka")
    journal = LogJournal()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(journal)
    try:
        yield journal
    finally:
        logger.removeHandler(journal)
        logger.setLevel(level)
