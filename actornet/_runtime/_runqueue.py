"""RunQueue: one worker's runnable mailboxes, a FIFO plus a hand-off slot.

Theory of operation
-------------------
Mailboxes woken by a turn on this worker are *handed off*: the newest goes into
the slot and runs right after the current turn, so a reader's `Received` is
handled by its session, and the session's `Send` by its writer, while their data
is still in the CPU's caches and without a trip through the queue (Go's
`runnext`, Tokio's LIFO slot). Unlike Go's, the slot keeps the *first*
mailbox a turn woke; later ones join the back of the FIFO in the order they were
told. So when one turn tells A and then B, A runs before B, as a reader of the
code would expect (Pykka itself promises no order between two actors).

A chain of hand-offs inherits the turn that started it: after
`MAX_CHAINED_HANDOFFS` slot turns in a row the next one goes to the back of the
FIFO, so two actors telling each other forever cannot keep the rest waiting.
Everything else (a mailbox whose turn left messages, readiness and timers
delivered by the poller, work taken from the global queue) joins the back of
the FIFO, which is served strictly in order.

Thread safety: the owning worker pushes and pops; when the worker blocks, its
watchdog or the worker itself empties the queue with `take_all()`. Every
operation is a single `deque` call, atomic under the GIL, so a mailbox taken by
`take_all()` is never also popped by the worker.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actornet._runtime._mailbox import Mailbox

__all__ = ["MAX_CHAINED_HANDOFFS", "RunQueue"]

#: Slot turns in a row before a hand-off waits its turn in the FIFO. Three
#: covers a connection's reader -> session -> writer chain after the reader's
#: own turn; Tokio allows three LIFO-slot polls per tick for the same reason.
MAX_CHAINED_HANDOFFS = 3


class RunQueue:
    """FIFO of runnable mailboxes with a one-mailbox hand-off slot in front."""

    __slots__ = ("_chained", "_fifo", "_slot")

    def __init__(self) -> None:
        self._fifo: deque[Mailbox] = deque()
        # A deque holding at most one mailbox: popleft() is the atomic take
        # that take_all() and the worker may race for.
        self._slot: deque[Mailbox] = deque()
        self._chained = 0

    def __len__(self) -> int:
        return len(self._fifo) + len(self._slot)

    def __repr__(self) -> str:
        return f"<RunQueue {len(self._fifo)} queued, {len(self._slot)} handed off>"

    def push(self, mailbox: Mailbox) -> None:
        """Queue a mailbox at the back."""
        self._fifo.append(mailbox)

    def hand_off(self, mailbox: Mailbox) -> None:
        """Run a mailbox next, unless one was handed off already: then at the back."""
        if self._slot:
            self._fifo.append(mailbox)
        else:
            self._slot.append(mailbox)

    def pop(self) -> Mailbox | None:
        """Take the mailbox to run next, or None if the queue is empty."""
        slot = self._slot
        if slot:
            try:
                mailbox = slot.popleft()
            except IndexError:
                pass
            else:
                if self._chained < MAX_CHAINED_HANDOFFS:
                    self._chained += 1
                    return mailbox
                self._fifo.append(mailbox)
        self._chained = 0
        try:
            return self._fifo.popleft()
        except IndexError:
            return None

    def take_all(self) -> list[Mailbox]:
        """Remove and return every queued mailbox, the handed-off one first."""
        taken: list[Mailbox] = []
        for queue in (self._slot, self._fifo):
            while True:
                try:
                    taken.append(queue.popleft())
                except IndexError:
                    break
        return taken

    def take_half(self) -> list[Mailbox]:
        """Remove and return the older half of the FIFO, for idle workers to share."""
        fifo = self._fifo
        taken: list[Mailbox] = []
        for _ in range(len(fifo) // 2):
            try:
                taken.append(fifo.popleft())
            except IndexError:
                break
        return taken
