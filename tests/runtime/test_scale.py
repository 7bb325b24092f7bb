"""Tens of thousands of actors cost no threads, and all of them stop."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pykka
import pytest

import actornet

from ._support import WAIT, Journal

if TYPE_CHECKING:
    from ._support import PoolFactory

ACTORS = 50_000


class Idle(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        return message


class Counted(Idle):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def on_start(self) -> None:
        self.journal.record(None)


@pytest.mark.timeout(60)
def test_fifty_thousand_actors_start_and_stop_without_a_thread_each(
    make_pool: PoolFactory,
) -> None:
    pool = make_pool(workers=2)
    cls = pool.build(Counted)
    baseline = actornet.live_actor_count()
    threads_before = threading.active_count()
    journal = Journal()
    began = time.monotonic()

    refs = [cls.start(journal) for _ in range(ACTORS)]

    assert actornet.live_actor_count() == baseline + ACTORS
    journal.wait_for_length(ACTORS, timeout=30)  # every on_start ran
    assert threading.active_count() <= threads_before + 16
    assert all(ref.is_alive() for ref in refs[:: ACTORS // 100])

    stops = [ref.stop(block=False) for ref in refs]
    assert all(stop.get(timeout=WAIT) for stop in stops)

    assert actornet.live_actor_count() == baseline
    assert not any(ref.is_alive() for ref in refs)
    assert threading.active_count() <= threads_before + 16
    # A few seconds on a laptop; the bound only catches quadratic behaviour.
    assert time.monotonic() - began < 45


@pytest.mark.timeout(60)
def test_fifty_thousand_actors_are_stopped_by_stop_all(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=2)
    cls = pool.build(Idle)
    actornet.stop_all(timeout=WAIT)

    refs = [cls.start() for _ in range(ACTORS)]
    assert refs[-1].ask("last", timeout=WAIT) == "last"

    assert actornet.stop_all(timeout=WAIT) == ACTORS
    assert actornet.live_actor_count() == 0
    assert not any(ref.is_alive() for ref in refs)


def test_many_actors_each_answer_an_ask(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=2)
    cls = pool.build(Idle)
    refs = [cls.start() for _ in range(5_000)]

    futures = [ref.ask(i, block=False) for i, ref in enumerate(refs)]

    assert list(pykka.get_all(futures, timeout=WAIT)) == list(range(5_000))
