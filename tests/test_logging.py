"""actornet.log_to_stream(): a bounded queue in front of a stream that may stop taking lines."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _support import WAIT

import actornet
from actornet._logging import DEFAULT_STOP_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
NOTICE = "the log output is not keeping up"


class GatedStream:
    """A stream whose writes wait while its gate is shut, as a pipe nobody reads does."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.writing = threading.Event()
        self._lock = threading.Lock()

    def write(self, text: str, /) -> int:
        self.writing.set()
        self.gate.wait(WAIT)  # bounded, so a failed test cannot leave a thread stuck
        with self._lock:
            self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def block_after_next_write_starts(self, log: logging.Logger) -> None:
        """Shut the gate, log one record and return once the writer is stuck on it."""
        self.gate.clear()
        self.writing.clear()
        log.info("this one gets stuck in the stream")
        assert self.writing.wait(WAIT)


def wait_for(condition: object, timeout: float = WAIT) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def log() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tests.log_to_stream")
    yield logger
    logger.setLevel(logging.NOTSET)


def test_records_reach_the_stream_in_order_and_stop_writes_what_is_queued(
    log: logging.Logger,
) -> None:
    stream = io.StringIO()
    logs = actornet.log_to_stream(
        stream, level="DEBUG", fmt="%(levelname)s %(message)s", logger=log.name
    )
    for n in range(100):
        log.debug("line %d", n)
    assert logs.stop() is True
    assert stream.getvalue().splitlines() == [f"DEBUG line {n}" for n in range(100)]
    assert logs.dropped == 0
    log.info("after stop")
    assert "after stop" not in stream.getvalue()


def test_a_full_queue_drops_and_counts_without_blocking_the_caller(
    log: logging.Logger,
) -> None:
    stream = GatedStream()
    with actornet.log_to_stream(stream, max_queued=4, logger=log.name) as logs:
        stream.block_after_next_write_starts(log)
        started = time.monotonic()
        for n in range(1_000):
            log.info("record %d", n)
        assert time.monotonic() - started < WAIT / 2
        assert logs.dropped == 1_000 - 4
        assert NOTICE not in stream.text()  # the stream is stuck: nothing can be said yet
        stream.gate.set()
        wait_for(lambda: NOTICE in stream.text())
    lines = stream.text().splitlines()
    assert [line for line in lines if NOTICE in line] == [
        f"dropped 996 log record(s): {NOTICE} (at most 4 wait to be written)"
    ]
    assert sum(": record " in line for line in lines) == 4


def test_the_drop_notice_comes_once_per_episode(log: logging.Logger) -> None:
    stream = GatedStream()
    with actornet.log_to_stream(stream, max_queued=2, logger=log.name) as logs:
        for episode, dropped in enumerate((5, 3), start=1):
            stream.block_after_next_write_starts(log)
            for _ in range(2 + dropped):
                log.info("burst")
            stream.gate.set()
            wait_for(lambda n=episode: logs.drop_notices == n)
        assert logs.dropped == 8
    notices = [line for line in stream.text().splitlines() if NOTICE in line]
    assert [notice.split(":")[0] for notice in notices] == [
        "dropped 5 log record(s)",
        "dropped 3 log record(s)",
    ]


def test_stop_returns_within_its_bound_when_the_stream_is_stuck(log: logging.Logger) -> None:
    stream = GatedStream()
    logs = actornet.log_to_stream(stream, max_queued=10, logger=log.name)
    try:
        stream.block_after_next_write_starts(log)
        log.info("queued behind the stuck one")
        started = time.monotonic()
        assert logs.stop(timeout=0.3) is False
        assert time.monotonic() - started < 0.3 + 1.0
    finally:
        stream.gate.set()
    assert logs.stop(timeout=WAIT) is True  # the stream moved again: the rest is written
    assert "queued behind the stuck one" in stream.text()


def test_max_queued_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_queued=0"):
        actornet.log_to_stream(io.StringIO(), max_queued=0)


def test_importing_actornet_installs_no_handler_and_starts_no_thread() -> None:
    code = (
        "import logging, threading, actornet\n"
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
        "kinds = [type(h).__name__ for h in logging.getLogger('actornet').handlers]\n"
        "assert kinds == ['NullHandler'], kinds\n"
        "names = [t.name for t in threading.enumerate()]\n"
        "assert 'actornet-log-writer' not in names, names\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=WAIT * 3)


def test_the_interpreter_exits_promptly_with_stderr_stuck() -> None:
    # The child fills a stderr pipe nobody reads, then returns from its script.
    code = (
        "import logging, actornet\n"
        "actornet.log_to_stream(level='INFO', max_queued=100)\n"
        "for n in range(20_000):\n"
        "    logging.getLogger('child').info('line %d %s', n, 'x' * 100)\n"
        "print('done', flush=True)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == "done\n"
            started = time.monotonic()
            assert child.wait(DEFAULT_STOP_TIMEOUT + WAIT) == 0
            assert time.monotonic() - started < DEFAULT_STOP_TIMEOUT + WAIT
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(WAIT)
