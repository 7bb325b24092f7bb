"""The mailbox: scheduling while non-empty, dead-letter answers, and fairness between actors."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

import pykka
import pytest
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from actornet._runtime._mailbox import Mailbox

from ._support import WAIT, Journal

if TYPE_CHECKING:
    import actornet

    from ._support import PoolFactory


class FakeDispatcher:
    """Records the mailboxes scheduled on it instead of running them."""

    def __init__(self) -> None:
        self.scheduled: list[Mailbox] = []

    def schedule(self, mailbox: Mailbox) -> None:
        self.scheduled.append(mailbox)

    def requeue(self, mailbox: Mailbox) -> None:
        self.scheduled.append(mailbox)

    def ensure_running(self) -> None:
        pass


class FakeActor:
    """Takes up to `limit` envelopes per turn and records their messages."""

    def __init__(self) -> None:
        self.mailbox: Mailbox | None = None
        self.handled: list[Any] = []
        self.turn_limits: list[int] = []
        self.fail_next_turn = False

    def _actor_run_turn(self, limit: int) -> None:
        assert self.mailbox is not None
        self.turn_limits.append(limit)
        if self.fail_next_turn:
            self.fail_next_turn = False
            raise RuntimeError("turn failed")
        for _ in range(limit):
            try:
                envelope = self.mailbox.get()
            except IndexError:
                return
            self.handled.append(envelope.message)


def new_mailbox() -> tuple[Mailbox, FakeDispatcher, FakeActor]:
    dispatcher = FakeDispatcher()
    actor = FakeActor()
    mailbox = Mailbox(cast("actornet.lowlevel.Dispatcher", dispatcher), actor)
    actor.mailbox = mailbox
    return mailbox, dispatcher, actor


def run_scheduled(dispatcher: FakeDispatcher, limit: int = 100) -> None:
    """Run scheduled turns, as a dispatcher would, until none is left."""
    while dispatcher.scheduled:
        dispatcher.scheduled.pop(0).run(limit)


def test_messages_put_before_start_wait_and_schedule_nothing() -> None:
    mailbox, dispatcher, actor = new_mailbox()

    mailbox.put(Envelope("early"))
    mailbox.put(Envelope("early too"))

    assert dispatcher.scheduled == []
    assert len(mailbox) == 2
    assert not mailbox.empty()
    assert actor.handled == []


def test_start_schedules_the_first_turn_once() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    mailbox.put(Envelope("early"))

    mailbox.start(actor)

    assert dispatcher.scheduled == [mailbox]
    run_scheduled(dispatcher)
    assert actor.handled == ["early"]
    assert mailbox.empty()


def test_start_of_an_empty_mailbox_runs_a_turn_for_on_start() -> None:
    mailbox, dispatcher, actor = new_mailbox()

    mailbox.start(actor)
    run_scheduled(dispatcher)

    assert actor.turn_limits == [100]
    assert dispatcher.scheduled == []


def test_open_runs_no_turn_until_a_message_comes() -> None:
    mailbox, dispatcher, actor = new_mailbox()

    mailbox.open(actor)
    assert dispatcher.scheduled == []

    mailbox.put(Envelope("first"))
    assert dispatcher.scheduled == [mailbox]
    run_scheduled(dispatcher)
    assert actor.handled == ["first"]
    assert actor.turn_limits == [100]


def test_open_schedules_what_was_put_before_it_once() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    mailbox.put(Envelope("early"))
    mailbox.put(Envelope("early too"))

    mailbox.open(actor)

    assert dispatcher.scheduled == [mailbox]
    run_scheduled(dispatcher)
    assert actor.handled == ["early", "early too"]


def test_puts_while_scheduled_do_not_schedule_again() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    mailbox.start(actor)

    for i in range(5):
        mailbox.put(Envelope(i))

    assert dispatcher.scheduled == [mailbox]


def test_put_into_an_idle_mailbox_schedules_it() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    mailbox.start(actor)
    run_scheduled(dispatcher)

    mailbox.put(Envelope("later"))

    assert dispatcher.scheduled == [mailbox]
    run_scheduled(dispatcher)
    assert actor.handled == ["later"]


def test_turn_is_limited_and_the_mailbox_schedules_itself_again() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    for i in range(10):
        mailbox.put(Envelope(i))
    mailbox.start(actor)

    dispatcher.scheduled.pop(0).run(4)

    assert actor.handled == [0, 1, 2, 3]
    assert dispatcher.scheduled == [mailbox]
    run_scheduled(dispatcher, limit=4)
    assert actor.handled == list(range(10))
    assert actor.turn_limits == [4, 4, 4]


def test_a_turn_that_raises_still_frees_the_mailbox_for_the_next_put() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    mailbox.start(actor)
    actor.fail_next_turn = True

    with pytest.raises(RuntimeError, match="turn failed"):
        dispatcher.scheduled.pop(0).run(10)
    mailbox.put(Envelope("after"))

    assert dispatcher.scheduled == [mailbox]
    run_scheduled(dispatcher)
    assert actor.handled == ["after"]


def test_release_answers_queued_asks_with_actor_dead_error() -> None:
    mailbox, _, actor = new_mailbox()
    mailbox.start(actor)
    asked: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    mailbox.put(Envelope("told"))
    mailbox.put(Envelope("asked", reply_to=asked))

    mailbox.release()

    with pytest.raises(pykka.ActorDeadError, match="stopped before handling the message"):
        asked.get(timeout=WAIT)
    assert mailbox.empty()
    assert actor.handled == []


def test_release_answers_queued_stops_with_none() -> None:
    mailbox, _, actor = new_mailbox()
    mailbox.start(actor)
    stopping: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    mailbox.put(Envelope(_ActorStop(), reply_to=stopping))

    mailbox.release()

    assert stopping.get(timeout=WAIT) is None


def test_envelopes_put_after_release_are_answered_with_actor_dead_error() -> None:
    mailbox, dispatcher, actor = new_mailbox()
    mailbox.start(actor)
    run_scheduled(dispatcher)
    mailbox.release()
    late: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()

    mailbox.put(Envelope("late", reply_to=late))
    run_scheduled(dispatcher)

    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=WAIT)
    assert actor.handled == []


def test_repr_names_the_owner_and_the_queue_length() -> None:
    mailbox, _, actor = new_mailbox()
    mailbox.put(Envelope(1))

    assert "1 queued" in repr(mailbox)
    assert repr(actor) in repr(mailbox)


# -- on a real dispatcher ------------------------------------------------------


class Echo(pykka.Actor):
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(WAIT)
            return None
        return message


class AsksItselfEarly(pykka.Actor):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal
        self.early = self.actor_ref.ask("early", block=False)

    def on_start(self) -> None:
        self.journal.record("on_start")

    def on_receive(self, message: Any) -> Any:
        self.journal.record(message)
        return message


def test_ask_queued_before_start_is_answered_after_on_start(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=1)
    journal = Journal()
    cls = pool.build(AsksItselfEarly)

    ref = cls.start(journal)

    proxy = ref.proxy()
    early = proxy.early.get(timeout=WAIT)
    assert early.get(timeout=WAIT) == "early"
    assert journal.items()[:2] == ["on_start", "early"]


def test_envelope_that_reaches_a_stopped_actor_is_answered_with_actor_dead_error(
    make_pool: PoolFactory,
) -> None:
    # A sender that saw the actor alive may still put its envelope after the
    # stop: the mailbox must answer it rather than leave the asker waiting.
    pool = make_pool(workers=1)
    ref = pool.start(Echo)
    ref.stop(timeout=WAIT)
    late: pykka.Future[Any] = ref.actor_class._create_future()

    ref.actor_inbox.put(Envelope("late", reply_to=late))

    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=WAIT)


def test_many_asks_racing_a_stop_are_all_answered(make_pool: PoolFactory) -> None:
    pool = make_pool(workers=2)
    ref = pool.start(Echo)
    gate = threading.Event()
    ref.tell(gate)
    futures = [ref.ask(i, block=False) for i in range(50)]
    stopped = ref.stop(block=False)
    futures += [ref.ask(i, block=False) for i in range(50, 100)]
    gate.set()

    assert stopped.get(timeout=WAIT) is True
    assert [f.get(timeout=WAIT) for f in futures[:50]] == list(range(50))
    for future in futures[50:]:
        with pytest.raises(pykka.ActorDeadError):
            future.get(timeout=WAIT)


class Busy(pykka.Actor):
    """Records (name, n) for every message, in the order the pool runs them."""

    def __init__(self, name: str, journal: Journal) -> None:
        super().__init__()
        self.name = name
        self.journal = journal

    def on_receive(self, message: Any) -> Any:
        self.journal.record((self.name, message))


class Kicker(pykka.Actor):
    """Fills two mailboxes from a worker, so both wait in the same run queue."""

    def on_receive(self, message: Any) -> Any:
        first, second, count = message
        for i in range(count):
            first.tell(i)
            second.tell(i)


def longest_run(names: list[str]) -> int:
    longest = current = 0
    previous = None
    for name in names:
        current = current + 1 if name == previous else 1
        previous = name
        longest = max(longest, current)
    return longest


def test_two_busy_actors_on_one_worker_interleave_by_batches(make_pool: PoolFactory) -> None:
    batch = 4
    # No watchdog interference: a lent thread would run a turn elsewhere.
    pool = make_pool(workers=1, batch_size=batch, blocking_threshold=3600.0)
    journal = Journal()
    a = pool.start(Busy, "a", journal)
    b = pool.start(Busy, "b", journal)
    kicker = pool.start(Kicker)

    kicker.tell((a, b, 40))

    order = [name for name, _ in journal.wait_for_length(80)]
    assert order.index("b") < len(order) - 1 - order[::-1].index("a")
    assert order.index("a") < len(order) - 1 - order[::-1].index("b")
    assert longest_run(order) <= batch
    # Each actor still sees its own messages in order.
    for name in ("a", "b"):
        assert [n for who, n in journal.items() if who == name] == list(range(40))
