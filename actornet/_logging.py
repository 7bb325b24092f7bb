"""Logging that never stops the server: a bounded queue in front of a stream.

A `logging.StreamHandler` writes in the thread that logs. When nobody drains
the stream (stderr on a pipe a supervisor stopped reading, a terminal on
hold), the kernel's pipe buffer fills and every worker thread that logs then
blocks in `write()`, so the whole server stops answering. `log_to_stream()`
puts the standard library's `QueueHandler` / `QueueListener` between the two:
the threads that log only append to a bounded queue (dropping and counting
what does not fit), and one listener thread of its own does the writing.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "DEFAULT_FORMAT",
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_STOP_TIMEOUT",
    "DROP_NOTICE_INTERVAL",
    "QueuedLogging",
    "TextStream",
    "log_to_stream",
]

#: Records waiting for the stream before new ones are dropped: 10,000, about
#: 5 MB of `LogRecord`s (some 500 bytes each, measured). That holds a
#: one-second burst at 10,000 lines a second (a shutdown logging every
#: connection, a reconnect storm) without dropping, and keeps the memory a
#: stuck stream can pin small next to a server holding thousands of connections.
DEFAULT_MAX_QUEUED = 10_000

#: Seconds `QueuedLogging.stop()` (and interpreter exit) wait for queued
#: records to be written: 2 s, long enough for a healthy stream to take
#: thousands of lines, short enough that a stuck one does not hold up a
#: shutdown a supervisor is timing.
DEFAULT_STOP_TIMEOUT = 2.0

#: Seconds between drop notices while records keep being dropped and the
#: queue never empties; otherwise one notice is written when it does.
DROP_NOTICE_INTERVAL = 10.0

#: The line format of the examples: time, level, logger name, message.
DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"



class TextStream(Protocol):
    """What `log_to_stream()` writes to: `sys.stderr`, an open text file, `io.StringIO`."""

    def write(self, text: str, /) -> object:
        """Write `text`."""

    def flush(self) -> object:
        """Push written text on to its destination."""


# Seconds the listener waits for a record before it checks whether to stop.
_POLL_INTERVAL = 0.1


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """A `QueueHandler` that drops and counts records its full queue cannot take."""

    def __init__(self, records: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(records)
        self._count_lock = threading.Lock()
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        """Queue the record, or count it as dropped if the queue is full."""
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self._count_lock:
                self.dropped += 1


class _StreamWriter(logging.Handler):
    """Formats records and writes them to a stream, on the listener's thread only.

    It takes no lock and its `flush()` does nothing, so `logging.shutdown()` at
    interpreter exit never waits on a stream that is stuck: only the listener
    thread ever touches the stream, and it flushes after every line.
    """

    def __init__(self, stream: TextStream, fmt: str) -> None:
        super().__init__()
        self.stream = stream
        self.setFormatter(logging.Formatter(fmt))

    def handle(self, record: logging.LogRecord) -> bool:
        """Write the record if the filters pass it, without the handler lock."""
        passed = self.filter(record)
        if passed:
            self.emit(record)
        return bool(passed)

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line and flush it."""
        try:
            self.write(self.format(record))
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        """Write one line and flush it."""
        self.stream.write(line + "\n")
        self.stream.flush()

    def flush(self) -> None:
        """Do nothing: every line is flushed when written, on the listener's thread."""


class _Listener(logging.handlers.QueueListener):
    """A `QueueListener` on a daemon thread that stops on request and reports drops."""

    def __init__(
        self,
        records: queue.Queue[logging.LogRecord],
        writer: _StreamWriter,
        queue_handler: _DroppingQueueHandler,
    ) -> None:
        super().__init__(records, writer)
        self._records = records
        self._writer = writer
        self._queue_handler = queue_handler
        self._stopping = threading.Event()
        self._reported = 0
        self._dropping_since: float | None = None
        self.notices = 0

    def start(self) -> None:
        """Start the writing thread, a daemon, so a stuck stream cannot hold up exit."""
        # Not QueueListener.start(): its thread is a daemon only by its choice,
        # and it stops on a sentinel that a full queue has no room for.
        self._thread = threading.Thread(target=self._run, name="actornet-log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued and end the thread, for at most `DEFAULT_STOP_TIMEOUT` s."""
        self.stop_within(DEFAULT_STOP_TIMEOUT)

    def stop_within(self, timeout: float) -> bool:
        """Write what is queued and end the thread; False if that took longer than `timeout`."""
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True

    def _run(self) -> None:
        records = self._records
        while True:
            try:
                record = records.get_nowait()
            except queue.Empty:
                self._report_drops()  # caught up: the end of a dropping episode, if any
                if self._stopping.is_set():
                    return
                try:
                    record = records.get(timeout=_POLL_INTERVAL)
                except queue.Empty:
                    continue
            self._report_drops_if_overdue()
            self.handle(record)

    def _report_drops_if_overdue(self) -> None:
        if self._queue_handler.dropped == self._reported:
            return
        now = time.monotonic()
        if self._dropping_since is None:
            self._dropping_since = now
        elif now - self._dropping_since >= DROP_NOTICE_INTERVAL:
            self._report_drops()  # the queue never empties: say so at intervals

    def _report_drops(self) -> None:
        dropped = self._queue_handler.dropped
        if dropped == self._reported:
            return
        new = dropped - self._reported
        self._reported = dropped
        self._dropping_since = None
        self.notices += 1
        line = (
            f"dropped {new} log record(s): the log output is not keeping up "
            f"(at most {self._records.maxsize} wait to be written)"
        )
        try:
            self._writer.write(line)
        except Exception:
            self._writer.handleError(logging.makeLogRecord({"msg": line, "name": __name__}))


class QueuedLogging:
    """Log records on their way to a stream through a bounded queue; see `log_to_stream()`.

    Also a context manager that calls `stop()` on leaving.
    """

    def __init__(
        self,
        logger: logging.Logger,
        queue_handler: _DroppingQueueHandler,
        listener: _Listener,
    ) -> None:
        self._logger = logger
        self._queue_handler = queue_handler
        self._listener = listener
        self._stopped = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def dropped(self) -> int:
        """Records dropped so far because the queue was full."""
        return self._queue_handler.dropped

    @property
    def drop_notices(self) -> int:
        """Drop notices written so far: one per episode of dropping."""
        return self._listener.notices

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> bool:
        """Stop taking records and write the ones queued, waiting at most `timeout` seconds.

        Records logged afterwards no longer reach the stream. Calling it again
        does nothing more.

        Returns:
            True if every queued record was written; False if the stream did
            not take them within `timeout` (they are left to the listener
            thread, a daemon, which exit does not wait for).
        """
        if not self._stopped:
            self._stopped = True
            self._logger.removeHandler(self._queue_handler)
            atexit.unregister(self._stop_at_exit)
        return self._listener.stop_within(timeout)

    def _stop_at_exit(self) -> None:
        self.stop()


def log_to_stream(
    stream: TextStream | None = None,
    *,
    level: int | str = logging.INFO,
    max_queued: int = DEFAULT_MAX_QUEUED,
    fmt: str = DEFAULT_FORMAT,
    logger: str | None = None,
) -> QueuedLogging:
    """Send log records to a stream without ever blocking the threads that log.

    This replaces `logging.basicConfig()` for a server: a handler on `logger`
    (the root logger by default) puts each record on a queue of at most
    `max_queued` records; a thread of its own writes them to `stream`. A
    record that finds the queue full is dropped and counted, and once the
    stream catches up (or every `DROP_NOTICE_INTERVAL` seconds while it does
    not), one line says how many: "dropped N log record(s): the log output is
    not keeping up".

    Nothing is installed until this is called. At interpreter exit, queued
    records are written for up to `DEFAULT_STOP_TIMEOUT` seconds; a stuck
    stream does not hold up the exit.

    Args:
        stream: where lines go; `sys.stderr` (as it is at the call) by default.
        level: the level set on `logger`, as a number or a name ("DEBUG").
        max_queued: records that may wait for the stream; more are dropped.
        fmt: the `logging.Formatter` format of each line.
        logger: the name of the logger to attach to; None for the root logger.

    Returns:
        The running queue, with `stop()` and a `dropped` count.

    Raises:
        ValueError: if `max_queued` is not positive or `level` is not a level name.
    """
    if max_queued < 1:
        raise ValueError(f"max_queued={max_queued} must be at least 1 record")
    target = logging.getLogger(logger)
    target.setLevel(level)
    records: queue.Queue[logging.LogRecord] = queue.Queue(max_queued)
    queue_handler = _DroppingQueueHandler(records)
    writer = _StreamWriter(sys.stderr if stream is None else stream, fmt)
    listener = _Listener(records, writer, queue_handler)
    listener.start()
    target.addHandler(queue_handler)
    running = QueuedLogging(target, queue_handler, listener)
    atexit.register(running._stop_at_exit)
    return running
