"""`Actor.on_turn_end()`: once after every turn, for work batched across a turn's messages."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import actornet
from actornet._runtime._dispatcher import DEFAULT_BATCH_SIZE

from ._support import WAIT, Journal

if TYPE_CHECKING:
    import pytest


class Batcher(actornet.Actor):
    """Collects messages; each turn's end records what the turn collected."""

    def __init__(self, journal: Journal, fail_at_end: bool = False) -> None:
        super().__init__()
        self.journal = journal
        self.fail_at_end = fail_at_end
        self.batch: list[Any] = []

    def on_receive(self, message: Any) -> None:
        if isinstance(message, threading.Event):
            message.wait(WAIT)  # holds the actor while the test tells it the rest
        else:
            self.batch.append(message)

    def on_turn_end(self) -> None:
        batch, self.batch = self.batch, []
        if self.fail_at_end:
            raise ValueError("turn end failed")
        self.journal.record(batch)


def test_each_turn_ends_once_with_all_of_its_messages_in_order() -> None:
    journal = Journal()
    ref = Batcher.start(journal)
    held = threading.Event()
    ref.tell(held)
    count = 3 * DEFAULT_BATCH_SIZE + 5
    for n in range(count):  # queued behind the held turn
        ref.tell(n)
    held.set()
    try:
        batches = journal.items()
        while sum(map(len, batches)) < count:
            batches = journal.wait_for_length(len(batches) + 1)
        assert [m for batch in batches for m in batch] == list(range(count))
        assert all(len(batch) <= DEFAULT_BATCH_SIZE for batch in batches)
        assert max(map(len, batches)) == DEFAULT_BATCH_SIZE  # a full turn, ended once
    finally:
        ref.stop()


def test_actors_that_do_not_override_it_are_not_asked() -> None:
    assert actornet.Actor._actor_ends_turns is False
    assert Batcher._actor_ends_turns is True


def test_an_exception_in_on_turn_end_fails_the_actor_as_one_in_on_receive_would(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    ref = Batcher.start(journal, fail_at_end=True)
    ref.tell("x")
    assert ref.actor_stopped.wait(5)
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failures
    assert "Unhandled exception" in failures[0].getMessage()
    assert "turn end failed" in str(failures[0].exc_info[1] if failures[0].exc_info else "")
