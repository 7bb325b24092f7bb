"""Actor: a Pykka actor that runs on a dispatcher's worker pool instead of its own thread."""

from __future__ import annotations

import itertools
import logging
import secrets
import sys
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pykka import Actor as PykkaActor
from pykka import ActorRef, ActorRegistry
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from actornet._runtime import _registry
from actornet._runtime._dispatcher import Dispatcher
from actornet._runtime._future import DispatchedFuture
from actornet._runtime._mailbox import Mailbox

if TYPE_CHECKING:
    from types import TracebackType

    from pykka import Future
    from pykka._actor import ActorInbox

    from actornet._runtime._poller import Timer

__all__ = [
    "Actor",
    "default_dispatcher",
    "set_default_dispatcher",
    "stop_nowait",
    "tell_or_drop",
]

logger = logging.getLogger("pykka")

# URNs are a random per-process UUID prefix plus a counter in the last 48 bits:
# as unique as uuid4() within a process, without its os.urandom() system call
# (~8 us each on a loaded VM, a third of an actor's start+stop).
def _random_urn_prefix() -> str:
    hex_ = secrets.token_hex
    variant = 8 | secrets.randbits(2)  # RFC 4122 variant bits: 10xx
    return f"urn:uuid:{hex_(4)}-{hex_(2)}-4{hex_(2)[1:]}-{variant:x}{hex_(2)[1:]}-"


_URN_PREFIX = _random_urn_prefix()
_urn_counter = itertools.count(secrets.randbits(40))


def _new_urn() -> str:
    return f"{_URN_PREFIX}{next(_urn_counter) & 0xFFFF_FFFF_FFFF:012x}"


_default_dispatcher: Dispatcher | None = None
_default_lock = threading.Lock()


def default_dispatcher() -> Dispatcher:
    """Return the process-wide dispatcher, creating it with defaults on first use."""
    global _default_dispatcher  # noqa: PLW0603 - one pool per process, created lazily
    if _default_dispatcher is None:
        with _default_lock:
            if _default_dispatcher is None:
                _default_dispatcher = Dispatcher()
    return _default_dispatcher


def set_default_dispatcher(dispatcher: Dispatcher) -> None:
    """Make `dispatcher` the one actors use when their class names none.

    Raises:
        RuntimeError: if the default dispatcher was already used; call this
            before starting any actor.
    """
    global _default_dispatcher  # noqa: PLW0603 - see default_dispatcher()
    with _default_lock:
        if _default_dispatcher is not None and _default_dispatcher is not dispatcher:
            raise RuntimeError(
                "the default dispatcher is already in use; call set_default_dispatcher() "
                "before starting any actor, or set `dispatcher` on your Actor subclass"
            )
        _default_dispatcher = dispatcher


def tell_or_drop(actor_ref: ActorRef[Any], message: Any) -> bool:
    """Tell `actor_ref` a message; return False, instead of raising, if it has stopped.

    For messages whose loss is expected when the receiver is gone, such as a
    room telling a member that has just disconnected: `ActorRef.tell()` raises
    `pykka.ActorDeadError` then, and an exception escaping a handler stops the
    actor that sent it.
    """
    # ActorRef.tell() without its exception: this runs once per member of a
    # broadcast, so the stopped check is made here, as tell() makes it.
    if actor_ref.actor_stopped.is_set():
        return False
    actor_ref.actor_inbox.put(Envelope(message))
    return True


def stop_nowait(actor_ref: ActorRef[Any]) -> bool:
    """Ask an actor to stop after the messages already sent to it; False if it has stopped.

    `ActorRef.stop(block=False)` without the two futures it creates for a
    caller that waits; for the runtime's own stops, which never wait.
    """
    return tell_or_drop(actor_ref, _ActorStop())


class _StopFlag(threading.Event):
    """`threading.Event` that allocates its condition only when someone waits.

    A stock Event carries a Condition with a lock and a deque (~1 KiB); actors
    are stopped-checked constantly but almost never waited on.
    """

    _create_lock = threading.Lock()

    def __init__(self) -> None:  # deliberately not calling Event.__init__
        self._flag = False
        self._cond: threading.Condition | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        cond = self._cond
        if cond is not None:
            with cond:
                cond.notify_all()

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        with self._create_lock:
            if self._cond is None:
                self._cond = threading.Condition(threading.Lock())
            cond = self._cond
        with cond:
            if not self._flag:
                cond.wait(timeout)
            return self._flag


class Actor(PykkaActor):
    """Pykka actor that runs on a dispatcher's worker pool instead of its own thread.

    Subclass it exactly as you would `pykka.ThreadingActor`: `start()` returns an
    `ActorRef`, and `tell`, `ask`, `stop`, proxies, futures and the `on_start`,
    `on_stop` and `on_failure` hooks behave as Pykka documents. What differs:

    * The actor costs no thread. Its hooks and handlers run on one of the
      dispatcher's worker threads, one message at a time, never concurrently.
    * Started actors are not put in `pykka.ActorRegistry` (a list, so O(n) per
      start and stop) unless `use_pykka_registry` is set; `actornet.live_actors()`
      and `actornet.stop_all()` cover them instead.
    * Worker threads are daemon threads: running actors do not keep the process
      alive.
    * A turn handles up to a few dozen messages in a row; `on_turn_end()` runs
      after each turn, for work worth doing once for all of them.

    A handler may block, for example in `ask(...).get()`; the dispatcher lends
    the pool another thread meanwhile. Code that blocks for long or often is
    still better placed in a `pykka.ThreadingActor`.
    """

    dispatcher: ClassVar[Dispatcher | None] = None
    """The dispatcher that runs actors of this class; None means
    `actornet.lowlevel.default_dispatcher()`. Read when an actor is created."""

    use_pykka_registry: ClassVar[bool] = False
    """Whether started actors of this class are also registered in
    `pykka.ActorRegistry`, to be found by its lookups and stopped by its
    `stop_all()`. Registering costs time linear in the registry's size."""

    actor_inbox: Mailbox
    actor_stopped: _StopFlag
    # Whether the class overrides on_turn_end(), and on_start(); set for each subclass.
    _actor_ends_turns: ClassVar[bool] = False
    _actor_has_on_start: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._actor_ends_turns = cls.on_turn_end is not Actor.on_turn_end
        cls._actor_has_on_start = cls.on_start is not PykkaActor.on_start

    def on_turn_end(self) -> None:
        """Finish what this turn's messages started; runs after every turn.

        A turn is the messages handled in a row before the worker moves on to
        another actor (at most a few dozen, fewer when the mailbox empties). A
        room, say, may collect the lines of a turn and send each member one
        write for all of them. Runs only if a subclass overrides it; an
        exception is handled as one from `on_receive()` is.
        """

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> ActorRef[Self]:
        """Create the actor with the given arguments and start running it.

        Returns:
            A ref through which the actor can be reached from any thread.

        Raises:
            TypeError: if the subclass's `__init__()` did not call
                `super().__init__()`.
            RuntimeError: if the actor's dispatcher is closed.
        """
        obj = cls(*args, **kwargs)
        try:
            actor_ref = obj._actor_ref
        except AttributeError:
            raise TypeError(
                f"{cls.__name__}.__init__() did not call Actor.__init__(): "
                "did you forget super().__init__() in your override?"
            ) from None
        _registry.add(actor_ref)
        if cls.use_pykka_registry:
            ActorRegistry.register(actor_ref)
        logger.debug("Starting %s", obj)
        try:
            obj._start_actor_loop()
        except BaseException:
            # Never scheduled, so never stoppable: forget it, or stop_all() and
            # asks would wait on it forever.
            obj._actor_unregister()
            obj.actor_stopped.set()
            raise
        return actor_ref

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        """Create the actor's URN, mailbox, stop flag and ref.

        Override it freely, but call `super().__init__()`. It runs in the thread
        that calls `start()`, before the actor is registered or scheduled.
        """
        self.actor_urn = _new_urn()
        self.actor_inbox = Mailbox(type(self).dispatcher or default_dispatcher(), self)
        self.actor_stopped = _StopFlag()
        self._actor_ref = ActorRef(self)
        self._actor_started = False

    def tell_later(self, delay: float, message: Any) -> Timer:
        """Tell this actor `message` after `delay` seconds, unless the timer is cancelled.

        The timer lives in the dispatcher's poller: it costs no thread, and a
        message for an actor that has stopped by then is dropped.
        """
        return self.actor_inbox.dispatcher.poller.tell_later(delay, self.actor_ref, message)

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        # Mailboxes need the actor's dispatcher, which a static method cannot
        # see; __init__ creates them instead.
        raise NotImplementedError("actornet.Actor creates its mailbox in __init__")

    @staticmethod
    def _create_future() -> Future[Any]:
        return DispatchedFuture()

    def _start_actor_loop(self) -> None:
        if type(self)._actor_has_on_start:
            self.actor_inbox.start(self)
        else:
            # Nothing to run before the first message: no turn until one comes.
            self._actor_started = True
            self.actor_inbox.open(self)

    def _actor_run_turn(self, limit: int) -> None:
        """Handle up to `limit` messages; run on a worker by the mailbox."""
        if not self._actor_started:
            self._actor_started = True
            self._actor_loop_setup()
        stopped = self.actor_stopped
        inbox = self.actor_inbox
        take = inbox.take
        handle = self._actor_handle_envelope
        for _ in range(limit):
            if stopped._flag:
                break
            envelope = take()
            if envelope is None:
                break
            handle(envelope)
        if self._actor_ends_turns and not stopped._flag:
            try:
                self.on_turn_end()
            except Exception:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:
                    self._handle_failure(*sys.exc_info())
        if stopped._flag:
            inbox.release()

    def _actor_handle_envelope(self, envelope: Envelope[Any]) -> None:
        # Pykka's ThreadingActor loop body, for one envelope.
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                logger.info("Exception returned from %s to caller:", self, exc_info=True)
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:
                    self._handle_failure(*sys.exc_info())
        except BaseException:
            logger.debug("%r in %s. Stopping all actors.", sys.exc_info()[1], self)
            self._stop()
            _stop_everything_nowait()

    def _stop(self) -> None:
        """Stop at once, without handling the rest of the mailbox."""
        self._actor_unregister()
        self.actor_stopped.set()
        logger.debug("Stopped %s", self)
        try:
            self.on_stop()
        except Exception:
            self._handle_failure(*sys.exc_info())

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Log an unhandled failure, then unregister and stop the actor."""
        logger.error(
            "Unhandled exception in %s:",
            self,
            exc_info=(exception_type, exception_value, traceback),  # type: ignore[arg-type]
        )
        self._actor_unregister()
        self.actor_stopped.set()

    def _actor_unregister(self) -> None:
        _registry.discard(self._actor_ref)
        if type(self).use_pykka_registry:
            ActorRegistry.unregister(self._actor_ref)


def _stop_everything_nowait() -> None:
    """Ask every actor to stop, as Pykka does after a BaseException in a handler."""
    for ref in reversed(_registry.live_actors()):
        ref.stop(block=False)
    ActorRegistry.stop_all(block=False)
