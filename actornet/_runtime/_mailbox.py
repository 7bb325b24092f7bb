"""Mailbox: an actor's inbox that schedules the actor only while it has messages."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from pykka import ActorDeadError
from pykka.messages import _ActorStop

if TYPE_CHECKING:
    from pykka._envelope import Envelope

    from actornet._runtime._dispatcher import Dispatcher


class _Runnable(Protocol):
    """What a mailbox runs on a worker: one turn of its actor."""

    def _actor_run_turn(self, limit: int) -> None: ...


def fail_dead_envelope(envelope: Envelope[Any], owner: object) -> None:
    """Answer an envelope that reached a stopped actor, as Pykka's teardown does."""
    if envelope.reply_to is None:
        return
    if isinstance(envelope.message, _ActorStop):
        envelope.reply_to.set(None)
        return
    error = ActorDeadError(f"{owner} stopped before handling the message")
    envelope.reply_to.set_exception(exc_info=(ActorDeadError, error, None))


class _DeadOwner:
    """Name of a stopped actor, for dead-letter error messages."""

    __slots__ = ("class_name", "urn")

    def __init__(self, class_name: str, urn: str) -> None:
        self.class_name = class_name
        self.urn = urn

    def __str__(self) -> str:
        return f"{self.class_name} ({self.urn})"


class Mailbox:
    """FIFO of envelopes for one actor, which schedules the actor while non-empty.

    The mailbox implements Pykka's inbox protocol (`put`, `get`, `empty`). A put
    into an idle mailbox hands the mailbox to its dispatcher; a worker then runs
    one turn of the actor (a bounded batch of messages), and the mailbox
    schedules itself again if messages remain.

    Thread safety: `put` may be called from any thread. `get` is called only by
    the worker running the actor's turn.
    """

    # One lock is used as an atomic test-and-set flag ("scheduled"): it is held
    # from the put that schedules the actor until the end of the turn, so an
    # actor is never in two run queues or on two workers at once, and every
    # consumer-side operation happens under it.
    #
    # The queue is a list read from a head index, not a deque: an empty deque
    # costs 760 bytes, an empty list 56, and most actors are idle. Producers
    # only append (atomic under the GIL); the one consumer only deletes the
    # consumed prefix, so a concurrent append is never lost.
    __slots__ = ("_actor", "_dispatcher", "_envelopes", "_head", "_owner", "_scheduled")

    def __init__(self, dispatcher: Dispatcher, owner: _Runnable) -> None:
        self._envelopes: list[Envelope[Any] | None] = []
        self._head = 0
        # Held from creation: messages told before start() wait, as they do in
        # a ThreadingActor's queue before its thread starts.
        self._scheduled = threading.Lock()
        self._scheduled.acquire()
        self._dispatcher = dispatcher
        self._owner: object = owner
        self._actor: _Runnable | None = None

    def __len__(self) -> int:
        return len(self._envelopes) - self._head

    def __repr__(self) -> str:
        return f"<Mailbox of {self._owner}: {len(self)} queued>"

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher that runs this mailbox's actor."""
        return self._dispatcher

    def start(self, actor: _Runnable) -> None:
        """Schedule the actor's first turn, which runs its `on_start()`."""
        self._actor = actor
        self._dispatcher.schedule(self)

    def open(self, actor: _Runnable) -> None:
        """Let messages schedule the actor, without a first turn (it has no `on_start()`).

        Raises:
            RuntimeError: if the dispatcher is closed.
        """
        self._dispatcher.ensure_running()
        self._actor = actor
        self._scheduled.release()
        # A put that came meanwhile saw the flag held and left the scheduling to us.
        if self._head < len(self._envelopes) and self._scheduled.acquire(blocking=False):
            self._dispatcher.schedule(self)

    def release(self) -> None:
        """Detach the stopped actor and answer every queued and later envelope as dead."""
        # The actor's name, not the actor: its state can be freed now. Kept as
        # two existing strings, formatted only if a dead letter needs it.
        actor = self._owner
        self._owner = _DeadOwner(type(actor).__name__, getattr(actor, "actor_urn", "?"))
        self._actor = None
        self._drain_dead()

    def put(self, envelope: Envelope[Any], /) -> None:
        """Queue an envelope and schedule the actor if it is idle."""
        self._envelopes.append(envelope)
        if self._scheduled.acquire(blocking=False):
            self._dispatcher.schedule(self)

    def put_and_run(self, envelope: Envelope[Any], /) -> None:
        """Queue an envelope and, if the actor was idle, run its turn now, on this thread.

        For a message whose receiver would run next anyway: the turn runs
        inside the caller's, as the hand-off slot would run it after, minus the
        trip through the run queue. The dispatcher decides whether it may
        (the caller is one of its workers, not nested too deep); otherwise this
        is `put()`.
        """
        self._envelopes.append(envelope)
        if self._scheduled.acquire(blocking=False) and not self._dispatcher.run_now(self):
            self._dispatcher.schedule(self)

    def get(self) -> Envelope[Any]:
        """Take the oldest envelope.

        Raises:
            IndexError: if the mailbox is empty.
        """
        envelope = self.take()
        if envelope is None:
            raise IndexError("get from an empty mailbox")
        return envelope

    def take(self) -> Envelope[Any] | None:
        """Take the oldest envelope, or return None if the mailbox is empty."""
        envelopes = self._envelopes
        head = self._head
        if head >= len(envelopes):
            return None
        envelope = envelopes[head]
        envelopes[head] = None  # drop the reference now; the slot goes at compaction
        head += 1
        if head * 2 >= len(envelopes):
            # Deleting the consumed prefix once it is half the list keeps the
            # cost per message constant, however deep the backlog.
            del envelopes[:head]
            head = 0
        self._head = head
        assert envelope is not None
        return envelope

    def empty(self) -> bool:
        """Return whether no envelope is queued."""
        return self._head >= len(self._envelopes)

    def run(self, limit: int) -> None:
        """Run one turn of the actor, then schedule it again if messages remain."""
        actor = self._actor
        try:
            if actor is None:
                self._drain_dead()
            else:
                actor._actor_run_turn(limit)
        finally:
            self._scheduled.release()
        # Messages left, or a put that raced with the end of the turn and saw
        # the flag held: whoever wins the flag now queues the actor, at the
        # back, behind the actors that waited meanwhile.
        if self._head < len(self._envelopes) and self._scheduled.acquire(blocking=False):
            self._dispatcher.requeue(self)

    def _drain_dead(self) -> None:
        while not self.empty():
            fail_dead_envelope(self.get(), self._owner)
