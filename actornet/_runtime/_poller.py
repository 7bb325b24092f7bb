"""Poller: the runtime's netpoller, turning socket readiness and timers into messages.

Theory of operation
-------------------
One `select.epoll` object watches every registered file descriptor in
edge-triggered mode. A readiness edge becomes a message put straight into the
target actor's mailbox: the `on_readable` message for input (or hang-up/error),
the `on_writable` message for output room.

Edges are not counted but *armed*: after a notification, a direction stays
silent until the target calls `Registration.arm_readable()` (or
`arm_writable()`), so a slow or paused actor has at most one readiness message
per direction in its mailbox, however much data arrives. Re-arming costs no
system call. The contract for a target is therefore:

1. on the notification, call `arm_readable()` *first*,
2. then read until the socket would block (or stop reading on purpose, and try
   again later on its own; no edge comes for data that is already there). A
   stream socket's read that returns less than it asked for has drained the
   buffer too, unless `Registration.hung_up` is set: an end of stream that
   arrived with the data raises no further edge, so read on until it shows.

Timers live in a heap beside the descriptors; `poll()` waits no longer than the
earliest deadline and delivers due timer messages the same way.

The poller itself runs no thread: a dispatcher calls `poll()` from an idle
worker or from a thread of its own, and other threads wake it with `wake()`.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import select
import threading
import time
from typing import TYPE_CHECKING, Any

from pykka._envelope import Envelope

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykka import ActorRef

__all__ = ["Poller", "Registration", "Timer"]

logger = logging.getLogger("actornet.runtime")

_EPOLL = getattr(select, "epoll", None)
_READ_EVENTS = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_WRITE_EVENTS = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
_HANG_UP_EVENTS = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR

# epoll_wait returns at most this many events per call; more wait for the next
# call. 1,024 is what libuv and Go use per netpoll.
_MAX_EVENTS = 1024

# Below this many cancelled timers the heap is not worth compacting.
_COMPACT_MIN = 64

# Readiness messages whose envelope is shared by every registration using
# them; registrations beyond this many distinct messages get their own.
_SHARED_ENVELOPES = 64


class Registration:
    """A file descriptor watched by a poller on behalf of one actor."""

    __slots__ = (
        "_poller",
        "fd",
        "hung_up",
        "on_readable",
        "on_writable",
        "read_envelope",
        "read_inbox",
        "readable_armed",
        "writable_armed",
        "write_envelope",
        "write_inbox",
    )

    def __init__(  # noqa: PLR0913 - one field per watched direction
        self,
        poller: Poller,
        fd: int,
        *,
        target: ActorRef[Any],
        on_readable: object | None,
        on_writable: object | None,
        write_target: ActorRef[Any],
    ) -> None:
        self._poller = poller
        #: The watched file descriptor.
        self.fd = fd
        self.read_inbox = target.actor_inbox
        self.write_inbox = write_target.actor_inbox
        #: Message told to the target when the descriptor becomes readable.
        self.on_readable = on_readable
        #: Message told to the target when the descriptor becomes writable.
        self.on_writable = on_writable
        self.read_envelope = poller._envelope_for(on_readable)
        self.write_envelope = poller._envelope_for(on_writable)
        #: Whether the next input edge is delivered.
        self.readable_armed = on_readable is not None
        #: Whether the next output edge is delivered.
        self.writable_armed = on_writable is not None
        #: Set once an edge reported a hang-up or an error: the peer's side is
        #: closed, so a read that returns less than asked is not the last one.
        self.hung_up = False

    def __repr__(self) -> str:
        return f"<Registration fd={self.fd}>"

    def arm_readable(self) -> None:
        """Deliver the next input edge; call before reading again."""
        self.readable_armed = True

    def arm_writable(self) -> None:
        """Deliver the next output edge; call before writing again."""
        self.writable_armed = True

    def start(self) -> None:
        """Start watching, for a registration made with `start=False`.

        Raises:
            ValueError: if the descriptor is already watched.
            OSError: if epoll refuses the descriptor (for example, it is closed).
        """
        self._poller._start(self)

    def close(self) -> None:
        """Stop watching the descriptor; call before closing it."""
        self._poller._unregister(self)


class Timer:
    """A message scheduled for later delivery; `cancel()` withdraws it."""

    __slots__ = ("_poller", "active", "deadline", "inbox", "message")

    def __init__(
        self, poller: Poller, deadline: float, target: ActorRef[Any], message: object
    ) -> None:
        self._poller = poller
        #: `time.monotonic()` value at which the message is delivered.
        self.deadline = deadline
        self.inbox = target.actor_inbox
        #: The message to deliver.
        self.message = message
        #: True until the message is delivered or `cancel()` is called.
        self.active = True

    def cancel(self) -> None:
        """Withdraw the message if it has not been delivered yet."""
        if self.active:
            self.active = False
            self._poller._timer_cancelled()


class Poller:
    """Readiness and timer loop that turns events into messages to actors.

    Linux only: it is built on `select.epoll`.

    Resource handling: the poller owns one epoll descriptor and one eventfd,
    released by `close()`. It does not own the descriptors registered with it.
    """

    def __init__(self) -> None:
        if _EPOLL is None:
            raise RuntimeError("actornet's poller needs select.epoll, which is Linux only")
        self._epoll: select.epoll = _EPOLL()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._registrations: dict[int, Registration] = {}
        self._timers: list[tuple[float, int, Timer]] = []
        self._timer_lock = threading.Lock()
        self._timer_seq = itertools.count()
        self._cancelled_timers = 0
        self._wake_pending = False
        self._deadline: float | None = None
        # A readiness envelope has no reply future and a mailbox only reads it,
        # so one per message serves every registration and every event.
        self._envelopes: dict[int, Envelope[object]] = {}
        self._closed = False
        #: True while a thread waits in `poll()`; `wake()` is only needed then.
        self.sleeping = False
        #: Called after a descriptor or timer is added, so that a dispatcher
        #: whose idle workers stopped polling (nothing to watch) starts again.
        self.on_interest: Callable[[], None] | None = None

    def __repr__(self) -> str:
        return (
            f"<Poller {len(self._registrations)} descriptors, {len(self._timers)} timers"
            f"{' closed' if self._closed else ''}>"
        )

    def register(  # noqa: PLR0913 - each direction needs a message and a target
        self,
        fd: int,
        target: ActorRef[Any],
        *,
        on_readable: object | None = None,
        on_writable: object | None = None,
        write_target: ActorRef[Any] | None = None,
        start: bool = True,
    ) -> Registration:
        """Watch `fd` and tell `target` the given messages on readiness.

        The messages are sent as they are, so immutable ones can be shared.
        `on_writable` goes to `write_target` instead when one is given, so a
        socket's reader and writer actors can share one registration. With
        `start=False` nothing is watched until `Registration.start()`, so the
        registration can be handed to its actors before any message arrives.

        Raises:
            ValueError: if neither message is given, or `fd` is already watched.
        """
        if on_readable is None and on_writable is None:
            raise ValueError("register() needs on_readable, on_writable or both")
        if fd in self._registrations:
            raise ValueError(
                f"fd {fd} is already registered; close() the old Registration first"
            )
        registration = Registration(
            self,
            fd,
            target=target,
            on_readable=on_readable,
            on_writable=on_writable,
            write_target=write_target or target,
        )
        if start:
            self._start(registration)
        return registration

    def _start(self, registration: Registration) -> None:
        fd = registration.fd
        if fd in self._registrations:
            raise ValueError(
                f"fd {fd} is already registered; close() the old Registration first"
            )
        mask = select.EPOLLET
        if registration.on_readable is not None:
            mask |= _READ_EVENTS
        if registration.on_writable is not None:
            mask |= _WRITE_EVENTS
        self._registrations[fd] = registration
        try:
            self._epoll.register(fd, mask)
        except BaseException:
            del self._registrations[fd]
            raise
        if self.on_interest is not None:
            self.on_interest()

    def _envelope_for(self, message: object) -> Envelope[object]:
        envelope = self._envelopes.get(id(message))
        if envelope is None or envelope.message is not message:
            envelope = Envelope(message)
            if len(self._envelopes) < _SHARED_ENVELOPES:
                self._envelopes[id(message)] = envelope
        return envelope

    def has_interest(self) -> bool:
        """Return whether any descriptor or timer is being watched."""
        return bool(self._registrations or self._timers)

    def _unregister(self, registration: Registration) -> None:
        if self._registrations.get(registration.fd) is not registration:
            return
        del self._registrations[registration.fd]
        # OSError/ValueError: already closed; the kernel dropped it from the set.
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(registration.fd)

    def tell_later(self, delay: float, target: ActorRef[Any], message: object) -> Timer:
        """Tell `target` the message after `delay` seconds, unless cancelled."""
        timer = Timer(self, time.monotonic() + max(delay, 0.0), target, message)
        with self._timer_lock:
            heapq.heappush(self._timers, (timer.deadline, next(self._timer_seq), timer))
        deadline = self._deadline
        if self.sleeping and (deadline is None or timer.deadline < deadline):
            self.wake()
        elif self.on_interest is not None:
            self.on_interest()
        return timer

    def _timer_cancelled(self) -> None:
        # Cancelled timers stay in the heap until due; drop them once they are
        # the majority, so a timer re-armed per message cannot grow the heap.
        with self._timer_lock:
            self._cancelled_timers += 1
            if self._cancelled_timers > _COMPACT_MIN and self._cancelled_timers * 2 > len(
                self._timers
            ):
                self._timers = [entry for entry in self._timers if entry[2].active]
                heapq.heapify(self._timers)
                self._cancelled_timers = 0

    def wake(self) -> None:
        """Make a waiting `poll()` return soon; callable from any thread."""
        if self._wake_pending or self._closed:
            return
        self._wake_pending = True
        with contextlib.suppress(OSError):  # closed meanwhile
            os.eventfd_write(self._wake_fd, 1)

    def poll(self, timeout: float | None) -> int:
        """Wait up to `timeout` seconds (None: until woken) and deliver what is due.

        Returns:
            The number of messages delivered.
        """
        if self._closed:
            return 0
        events = self._wait(timeout)
        delivered = self._deliver_readiness(events) if events else 0
        timers = self._timers
        if timers and timers[0][0] <= time.monotonic():
            delivered += self._deliver_due_timers()
        return delivered

    def _wait(self, timeout: float | None) -> list[tuple[int, int]]:
        if timeout != 0:
            # Before reading the timer heap: a timer added after the read sees
            # the flag and wakes us.
            self.sleeping = True
        now = time.monotonic()
        if self._timers:
            until_timer = max(self._timers[0][0] - now, 0.0)
            timeout = until_timer if timeout is None else min(timeout, until_timer)
        self._deadline = None if timeout is None else now + timeout
        try:
            return self._epoll.poll(-1 if timeout is None else timeout, _MAX_EVENTS)
        except (OSError, ValueError):
            if self.closed:  # closed by another thread while waiting
                return []
            raise
        finally:
            self.sleeping = False
            self._deadline = None

    def _deliver_readiness(self, events: list[tuple[int, int]]) -> int:
        delivered = 0
        registrations = self._registrations
        for fd, mask in events:
            registration = registrations.get(fd)
            if registration is None:
                if fd == self._wake_fd:
                    self._wake_pending = False
                    with contextlib.suppress(BlockingIOError):
                        os.eventfd_read(self._wake_fd)
                continue
            if mask & _HANG_UP_EVENTS:
                registration.hung_up = True
            if mask & _READ_EVENTS and registration.readable_armed:
                registration.readable_armed = False
                registration.read_inbox.put(registration.read_envelope)
                delivered += 1
            if mask & _WRITE_EVENTS and registration.writable_armed:
                registration.writable_armed = False
                registration.write_inbox.put(registration.write_envelope)
                delivered += 1
        return delivered

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    def _deliver_due_timers(self) -> int:
        now = time.monotonic()
        due: list[Timer] = []
        with self._timer_lock:
            timers = self._timers
            while timers and timers[0][0] <= now:
                due.append(heapq.heappop(timers)[2])
        delivered = 0
        for timer in due:
            if not timer.active:
                with self._timer_lock:
                    self._cancelled_timers -= 1
            else:
                timer.active = False
                timer.inbox.put(Envelope(timer.message))
                delivered += 1
        return delivered

    def close(self) -> None:
        """Release the epoll descriptor and the wake-up eventfd."""
        if self._closed:
            return
        self._closed = True
        self._registrations.clear()
        self._epoll.close()
        os.close(self._wake_fd)
