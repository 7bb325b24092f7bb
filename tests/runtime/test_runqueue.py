"""RunQueue alone: the FIFO, the hand-off slot, and how a chain of hand-offs is cut."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from actornet._runtime._runqueue import MAX_CHAINED_HANDOFFS, RunQueue

if TYPE_CHECKING:
    from actornet._runtime._mailbox import Mailbox


def mailboxes(*names: str) -> list[Mailbox]:
    """Stand-ins: the queue only stores and returns them."""
    return [stand_in(name) for name in names]


def stand_in(name: str) -> Mailbox:
    return cast("Mailbox", name)


def drain(queue: RunQueue) -> list[Mailbox]:
    taken = []
    while (mailbox := queue.pop()) is not None:
        taken.append(mailbox)
    return taken


def test_pushed_mailboxes_come_out_first_in_first_out() -> None:
    queue = RunQueue()
    for mailbox in mailboxes("a", "b", "c"):
        queue.push(mailbox)
    assert len(queue) == 3
    assert drain(queue) == mailboxes("a", "b", "c")
    assert queue.pop() is None


def test_a_hand_off_runs_before_everything_queued() -> None:
    queue = RunQueue()
    a, b, c = mailboxes("a", "b", "c")
    queue.push(a)
    queue.push(b)
    queue.hand_off(c)
    assert drain(queue) == [c, a, b]


def test_a_second_hand_off_in_one_turn_joins_the_back_in_the_order_told() -> None:
    queue = RunQueue()
    queued, first, second, third = mailboxes("queued", "first", "second", "third")
    queue.push(queued)
    queue.hand_off(first)
    queue.hand_off(second)
    queue.hand_off(third)
    assert drain(queue) == [first, queued, second, third]


def test_a_chain_of_hand_offs_gives_way_to_the_fifo_after_the_limit() -> None:
    queue = RunQueue()
    (waiting,) = mailboxes("waiting")
    queue.push(waiting)
    ran = []
    # Two actors that hand off to each other forever, as a ping-pong pair does.
    for turn in range(MAX_CHAINED_HANDOFFS + 1):
        queue.hand_off(stand_in(f"pair-{turn}"))
        ran.append(queue.pop())
    assert ran[:MAX_CHAINED_HANDOFFS] == mailboxes(
        *(f"pair-{n}" for n in range(MAX_CHAINED_HANDOFFS))
    )
    assert ran[MAX_CHAINED_HANDOFFS] is waiting
    assert drain(queue) == mailboxes(f"pair-{MAX_CHAINED_HANDOFFS}")


def test_running_from_the_fifo_starts_a_new_chain() -> None:
    queue = RunQueue()
    for _ in range(3):
        queue.push(stand_in("queued"))
        for n in range(MAX_CHAINED_HANDOFFS):
            queue.hand_off(stand_in(f"handed-{n}"))
            assert queue.pop() == stand_in(f"handed-{n}")
        queue.hand_off(stand_in("one-too-many"))
        assert queue.pop() == stand_in("queued")
        assert queue.pop() == stand_in("one-too-many")


def test_take_all_empties_the_slot_first_then_the_fifo() -> None:
    queue = RunQueue()
    a, b, c = mailboxes("a", "b", "c")
    queue.push(a)
    queue.push(b)
    queue.hand_off(c)
    assert queue.take_all() == [c, a, b]
    assert len(queue) == 0
    assert queue.pop() is None


def test_take_half_takes_the_older_half_of_the_fifo_and_leaves_the_slot() -> None:
    queue = RunQueue()
    fifo = mailboxes("1", "2", "3", "4", "5")
    for mailbox in fifo:
        queue.push(mailbox)
    (handed,) = mailboxes("handed")
    queue.hand_off(handed)
    assert queue.take_half() == fifo[:2]
    assert drain(queue) == [handed, *fifo[2:]]
