"""The poller: readiness edges and timers become messages, over real socket pairs."""

from __future__ import annotations

import queue
import socket
import time
from typing import TYPE_CHECKING, Any, Literal

import pytest

import actornet

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pykka

WAIT = 5.0  # seconds any single expected message may take, on a loaded machine
QUIET = 0.2  # seconds of silence that stand for "no message came"


class Recorder(actornet.Actor):
    """Puts every message it receives into a queue the test reads."""

    def __init__(self, received: queue.Queue[Any]) -> None:
        super().__init__()
        self.received = received

    def on_receive(self, message: Any) -> None:
        self.received.put(message)


@pytest.fixture(params=["worker", "thread"])
def dispatcher(request: pytest.FixtureRequest) -> Iterator[actornet.lowlevel.Dispatcher]:
    mode: Literal["worker", "thread"] = request.param
    pool = actornet.lowlevel.Dispatcher(workers=1, poller=mode, name=f"test-poller-{mode}")
    yield pool
    pool.close()


@pytest.fixture
def received() -> queue.Queue[Any]:
    return queue.Queue()


@pytest.fixture
def recorder(
    dispatcher: actornet.lowlevel.Dispatcher, received: queue.Queue[Any]
) -> Iterator[pykka.ActorRef[Recorder]]:
    cls: type[Recorder] = type("PollerRecorder", (Recorder,), {"dispatcher": dispatcher})
    ref: pykka.ActorRef[Recorder] = cls.start(received)
    yield ref
    ref.stop()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)  # noqa: FBT003
    b.setblocking(False)  # noqa: FBT003
    yield a, b
    a.close()
    b.close()


def assert_quiet(received: queue.Queue[Any]) -> None:
    with pytest.raises(queue.Empty):
        received.get(timeout=QUIET)


def test_readable_edge_is_told_once_until_rearmed(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    registration = dispatcher.poller.register(a.fileno(), recorder, on_readable="readable")
    b.send(b"one")
    assert received.get(timeout=WAIT) == "readable"
    b.send(b"two")
    assert_quiet(received)

    registration.arm_readable()
    b.send(b"three")
    assert received.get(timeout=WAIT) == "readable"
    assert a.recv(100) == b"onetwothree"
    registration.close()


def test_peer_close_is_told_as_readable(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    registration = dispatcher.poller.register(a.fileno(), recorder, on_readable="readable")
    b.close()
    assert received.get(timeout=WAIT) == "readable"
    assert a.recv(100) == b""
    registration.close()


def test_writable_edge_comes_at_registration_and_after_the_buffer_drains(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    registration = dispatcher.poller.register(a.fileno(), recorder, on_writable="writable")
    assert received.get(timeout=WAIT) == "writable"

    registration.arm_writable()
    with pytest.raises(BlockingIOError):
        while True:
            a.send(b"x" * 65536)
    assert_quiet(received)
    while True:
        try:
            b.recv(1 << 20)
        except BlockingIOError:
            break
    assert received.get(timeout=WAIT) == "writable"
    registration.close()


def test_registering_a_watched_descriptor_again_is_refused(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, _ = pair
    registration = dispatcher.poller.register(a.fileno(), recorder, on_readable="r")
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.poller.register(a.fileno(), recorder, on_readable="r")
    registration.close()
    dispatcher.poller.register(a.fileno(), recorder, on_readable="r").close()


def test_registering_without_a_message_is_refused(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    pair: tuple[socket.socket, socket.socket],
) -> None:
    with pytest.raises(ValueError, match="on_readable, on_writable or both"):
        dispatcher.poller.register(pair[0].fileno(), recorder)


def test_closed_registration_tells_nothing(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    dispatcher.poller.register(a.fileno(), recorder, on_readable="readable").close()
    b.send(b"data")
    assert_quiet(received)


def test_timers_are_told_in_deadline_order(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
) -> None:
    poller = dispatcher.poller
    poller.tell_later(0.15, recorder, "late")
    poller.tell_later(0.05, recorder, "early")
    poller.tell_later(0.0, recorder, "now")
    assert [received.get(timeout=WAIT) for _ in range(3)] == ["now", "early", "late"]


def test_a_timer_is_not_told_before_its_delay(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
) -> None:
    started = time.monotonic()
    dispatcher.poller.tell_later(0.1, recorder, "due")
    assert received.get(timeout=WAIT) == "due"
    assert time.monotonic() - started >= 0.1


def test_a_cancelled_timer_is_not_told(
    dispatcher: actornet.lowlevel.Dispatcher,
    recorder: pykka.ActorRef[Recorder],
    received: queue.Queue[Any],
) -> None:
    timer = dispatcher.poller.tell_later(0.05, recorder, "cancelled")
    timer.cancel()
    dispatcher.poller.tell_later(0.1, recorder, "kept")
    assert received.get(timeout=WAIT) == "kept"
    assert_quiet(received)


def test_cancelled_timers_do_not_accumulate(
    dispatcher: actornet.lowlevel.Dispatcher, recorder: pykka.ActorRef[Recorder]
) -> None:
    poller = dispatcher.poller
    for _ in range(10_000):
        poller.tell_later(3600, recorder, "never").cancel()
    assert len(poller._timers) <= 200


def test_a_timer_for_a_stopped_actor_is_dropped(
    dispatcher: actornet.lowlevel.Dispatcher, received: queue.Queue[Any]
) -> None:
    cls: type[Recorder] = type("ShortLived", (Recorder,), {"dispatcher": dispatcher})
    ref = cls.start(received)
    dispatcher.poller.tell_later(0.02, ref, "too late")
    ref.stop()
    assert_quiet(received)
