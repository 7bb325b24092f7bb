"""`serve --workers N`: N chat server processes on the same ports, and their supervisor.

With `--workers N` (N > 1) the process started becomes a supervisor; it serves
no connection itself.

- Ports: the supervisor binds every door's port (`--port`, `--http-port`,
  `--irc-port`) with SO_REUSEPORT but never listens on it. That resolves port
  0 to a concrete port and holds each port for as long as the supervisor
  runs, even while no worker is up; the kernel routes connections only to
  listening sockets, so none reaches the supervisor's. A port given as a
  number is first checked to have no listener, which a socket with
  SO_REUSEPORT would otherwise join unnoticed (another chat on it, say).
- Workers: each is `python -m examples.chat serve` run again with the same
  arguments and `--workers 1`, the concrete ports and the hidden
  `--supervised-worker`, with which it listens with `reuse_port=True`: every
  worker accepts on every door's port, and the kernel spreads new connections
  among them.
- Readiness: a worker's stdout is a pipe to the supervisor. A worker is ready
  once it has written the start-up line there; once every worker is ready the
  supervisor prints that line, once, on its own stdout, and logs the workers'
  PIDs.
- Restarts: a worker that dies is started again after `RESTART_DELAY`
  seconds, doubled per death up to `RESTART_DELAY_MAX`, and back to
  `RESTART_DELAY` for a worker that had been up `STABLE_AFTER` seconds. One
  that prints no start-up line within `READY_TIMEOUT` seconds is killed, which
  counts as a death.
- Giving up: when one worker (one of the N, across its restarts) dies
  `GIVE_UP_DEATHS` times within `GIVE_UP_WINDOW` seconds, the supervisor stops
  the others and exits with status 1 and a message on stderr.
- Stopping: on SIGINT or SIGTERM the supervisor sends SIGTERM to every worker,
  which shuts down gracefully; a worker still there `STOP_TIMEOUT` seconds
  later (or at a second signal) is killed. The supervisor then exits with
  status 0.
- Orphans: a worker's stdin is a pipe whose write end only the supervisor
  holds. However the supervisor ends, even by SIGKILL, the worker reads end of
  file and shuts down as on SIGTERM (`watch_supervisor()`), so no worker
  outlives it to keep the ports.

Each worker runs its own directory: without `--redis`, users who land on
different workers do not see each other's rooms or nicks.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import FrameType

__all__ = [
    "GIVE_UP_DEATHS",
    "GIVE_UP_WINDOW",
    "READY_TIMEOUT",
    "RESTART_DELAY",
    "RESTART_DELAY_MAX",
    "STABLE_AFTER",
    "STOP_TIMEOUT",
    "add_arguments",
    "cpu_count",
    "is_worker",
    "supervise",
    "watch_supervisor",
    "worker_count",
]

logger = logging.getLogger("examples.chat")

#: Seconds before a dead worker is started again, the first time.
RESTART_DELAY = 0.5
#: The most seconds a restart waits: the delay doubles per death up to this.
RESTART_DELAY_MAX = 10.0
#: A worker that was up this many seconds when it died is restarted after `RESTART_DELAY`.
STABLE_AFTER = 30.0
#: This many deaths of one worker within `GIVE_UP_WINDOW` seconds make the supervisor give up.
GIVE_UP_DEATHS = 5
#: Seconds over which `GIVE_UP_DEATHS` are counted.
GIVE_UP_WINDOW = 30.0
#: Seconds a worker has to write its start-up line; then it is killed (a death like any other).
READY_TIMEOUT = 30.0
#: Seconds workers have to exit after SIGTERM before they are killed: more than a graceful
#: shutdown takes (`actornet.Limits.close_timeout`, 5 s by default, and a second).
STOP_TIMEOUT = 10.0
#: Seconds a worker whose supervisor is gone gives its graceful shutdown before it exits anyway.
ORPHAN_GRACE = 15.0

#: How the chat's start-up line begins; a worker that wrote it is serving.
READY_PREFIX = "chat server listening"

# Every door: its option, the attribute argparse gives it, and its name in messages.
_DOORS = (
    ("--port", "port", "binary"),
    ("--http-port", "http_port", "browser"),
    ("--irc-port", "irc_port", "IRC"),
)
# The longest a worker's stdout line is kept before its end arrives.
_MAX_LINE = 64 * 1024
# The longest the supervisor sleeps between checks, should an exit not wake it.
_MAX_SLEEP = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--workers` and the hidden option a supervisor starts its workers with."""
    parser.add_argument(
        "--workers",
        type=_worker_count,
        default=1,
        metavar="N",
        help="serve in N processes that all accept on every door's port (SO_REUSEPORT), run by "
        "this one, which restarts those that die; 0 is one per CPU core (default 1: serve in "
        "this process). With more than 1, each process has its own nicks and rooms unless "
        "--redis is given: users who land in different processes do not see each other",
    )
    # A worker: listen with SO_REUSEPORT and exit once stdin (the supervisor's pipe) closes.
    parser.add_argument("--supervised-worker", action="store_true", help=argparse.SUPPRESS)


def _worker_count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; 0 is one worker per CPU core")
    return value


_worker_count.__name__ = "integer"  # argparse names the type in its error


def worker_count(args: argparse.Namespace) -> int:
    """Return how many processes `--workers` asks for, 0 being one per CPU core."""
    workers: int = args.workers
    return workers or cpu_count()


def cpu_count() -> int:
    """Return how many CPU cores this process may run on (its affinity mask, where there is one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def is_worker(args: argparse.Namespace) -> bool:
    """Return whether this process is a worker a supervisor started."""
    return bool(args.supervised_worker)


def watch_supervisor() -> None:
    """In a worker: shut down as on SIGTERM once the supervisor is gone.

    The supervisor holds the only write end of the worker's stdin and writes
    nothing to it, so end of file there means the supervisor has ended, however
    it ended. A thread waits for it, then sends this process SIGTERM: the
    graceful shutdown of `actornet.Server.serve_forever()`. Should the process
    still be there `ORPHAN_GRACE` seconds later, it exits at once.
    """
    threading.Thread(target=_await_orphaning, name="supervisor-watch", daemon=True).start()


def _await_orphaning() -> None:
    with contextlib.suppress(OSError):
        while os.read(0, 4096):  # the supervisor writes nothing; anything it did is ignored
            pass
    logger.warning("the supervisor has gone (stdin closed): shutting down")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE)
    with contextlib.suppress(OSError):
        message = f"still running {ORPHAN_GRACE:g} s after the supervisor ended: exiting\n"
        os.write(2, message.encode())
    os._exit(1)


def supervise(args: argparse.Namespace, count: int) -> None:
    """Serve the chat in `count` worker processes until SIGINT or SIGTERM (see the module's doc).

    Call from the main thread, with the arguments `python -m examples.chat`
    was given in `sys.argv`: the workers run that command line again.

    Args:
        args: the parsed command line.
        count: how many workers to run, at least 2.

    Raises:
        SystemExit: a door's port cannot be held (the message names the door and
            its option), or a worker kept dying (status 1, and why).
    """
    argv = sys.argv[1:]
    if argv[:1] != ["serve"]:
        raise SystemExit(
            "--workers above 1 runs this command line again in each worker: start it as "
            "`python -m examples.chat serve ...`"
        )
    with contextlib.ExitStack() as stack:
        ports = _hold_ports(args, stack)
        if not getattr(args, "redis", None):
            logger.warning(
                "%d workers without --redis: each has its own nicks and rooms, so users who "
                "land on different workers do not see each other",
                count,
            )
        command = [
            sys.executable,
            "-m",
            "examples.chat",
            *argv,
            "--workers",
            "1",
            "--supervised-worker",
        ]
        for option, port in ports.items():
            command += [option, str(port)]
        _Supervisor(command, count).run()


def _hold_ports(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, int]:
    """Bind every door's port without listening, until `stack` closes; return option -> port.

    Raises:
        SystemExit: two doors given one port, or a port that cannot be bound or
            has a listener already; the message says which and what to do.
    """
    host: str = args.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    ports: dict[str, int] = {}
    for option, dest, name in _DOORS:
        port: int = getattr(args, dest)
        for other, taken in ports.items():
            if port == taken:
                raise SystemExit(
                    f"{other} and {option} are both {port}: each door needs a port of its own"
                )
        try:
            if port:
                _check_no_listener(family, host, port)
            holder = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            holder.bind((host, port))
        except OSError as exc:
            raise SystemExit(
                f"cannot open the {name} door on {host}:{port}: {exc.strerror or exc}; "
                f"pick another port with {option} (0 picks a free one)"
            ) from exc
        ports[option] = holder.getsockname()[1]
    return ports


def _check_no_listener(family: socket.AddressFamily, host: str, port: int) -> None:
    """Bind host:port without SO_REUSEPORT and let go: OSError if anything listens there."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, as servers
        probe.bind((host, port))


@dataclass(eq=False)
class _Worker:
    """One of the supervisor's N workers, across its restarts."""

    number: int
    process: subprocess.Popen[bytes] | None = None
    #: When the process was started (time.monotonic()).
    started: float = 0.0
    #: Whether the process has written the start-up line.
    ready: bool = False
    #: Whether the process was killed for taking too long to start.
    killed: bool = False
    #: What the process wrote after its last newline.
    partial: bytes = b""
    #: The descriptors registered with the selector for the process.
    watched: list[int] = field(default_factory=list)
    pidfd: int | None = None
    #: When to start the process again, if it is not running.
    restart_at: float | None = 0.0
    #: How long the next restart waits.
    delay: float = RESTART_DELAY
    #: When the process died, within the last GIVE_UP_WINDOW seconds.
    deaths: collections.deque[float] = field(default_factory=collections.deque)

    def name(self) -> str:
        """Return "worker N (PID P)", for log lines."""
        pid = self.process.pid if self.process is not None else "none"
        return f"worker {self.number} (PID {pid})"


class _Supervisor:
    """Runs, restarts and stops the workers; `run()` is the whole of its life."""

    def __init__(self, command: Sequence[str], count: int) -> None:
        self._command = list(command)
        self._workers = [_Worker(number) for number in range(1, count + 1)]
        self._selector = selectors.DefaultSelector()
        self._signals: list[str] = []  # the names of the stop signals received
        self._line: str | None = None
        self._announced = False

    def run(self) -> None:
        """Run the workers until a stop signal, then stop them.

        Raises:
            SystemExit: a worker kept dying; the others have been stopped.
        """
        with self._signal_handling():
            try:
                failure = self._supervise()
            finally:
                self._stop_all()
                self._selector.close()
        if failure is not None:
            raise SystemExit(f"chat server: {failure}")
        logger.info("every worker has exited")

    def _supervise(self) -> str | None:
        """Keep every worker running until a stop signal (None) or a reason to give up."""
        while not self._signals:
            now = time.monotonic()
            for worker in self._workers:
                if (
                    worker.process is None
                    and worker.restart_at is not None
                    and now >= worker.restart_at
                ):
                    failure = self._start(worker)
                    if failure is not None:
                        return failure
            self._dispatch(self._sleep(time.monotonic()))
            now = time.monotonic()
            for worker in self._workers:
                if self._signals:
                    break  # a worker ending now is stopping with the others, not dying
                failure = self._check(worker, now)
                if failure is not None:
                    return failure
            self._announce()
        running = sum(worker.process is not None for worker in self._workers)
        logger.info("received %s: stopping %d worker(s)", self._signals[0], running)
        return None

    def _sleep(self, now: float) -> float:
        """Return how long to wait for output, exits and signals before the next deadline."""
        deadlines = [now + _MAX_SLEEP]
        for worker in self._workers:
            if worker.process is None:
                if worker.restart_at is not None:
                    deadlines.append(worker.restart_at)
            elif not worker.ready and not worker.killed:
                deadlines.append(worker.started + READY_TIMEOUT)
        return max(0.0, min(deadlines) - now)

    def _dispatch(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            callback: Callable[[], None] = key.data
            callback()

    def _start(self, worker: _Worker) -> str | None:
        """Start the worker's process; return a reason to give up if that fails too often."""
        if worker.deaths:
            logger.info("starting worker %d again", worker.number)
        worker.restart_at = None
        worker.ready = worker.killed = False
        worker.partial = b""
        worker.started = time.monotonic()
        try:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, this command line
                self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError as exc:
            return self._died(worker, f"worker {worker.number} could not be started ({exc})")
        worker.process = process
        assert process.stdout is not None
        output = process.stdout.fileno()
        os.set_blocking(output, False)
        self._watch(worker, output, lambda: self._read(worker))
        with contextlib.suppress(OSError):  # Linux before 5.3: exits are found by polling
            worker.pidfd = os.pidfd_open(process.pid)
            self._watch(worker, worker.pidfd, lambda: None)  # readable once the process ends
        return None

    def _watch(self, worker: _Worker, fd: int, callback: Callable[[], None]) -> None:
        self._selector.register(fd, selectors.EVENT_READ, callback)
        worker.watched.append(fd)

    def _unwatch(self, worker: _Worker, fd: int) -> None:
        if fd in worker.watched:
            worker.watched.remove(fd)
            self._selector.unregister(fd)

    def _read(self, worker: _Worker) -> None:
        """Read what the worker wrote on stdout; its start-up line makes it ready."""
        process = worker.process
        assert process is not None
        assert process.stdout is not None
        fd = process.stdout.fileno()
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._unwatch(worker, fd)
            return
        *lines, worker.partial = (worker.partial + data).split(b"\n")
        worker.partial = worker.partial[-_MAX_LINE:]
        for raw in lines:
            line = raw.decode(errors="replace").rstrip("\r")
            if not worker.ready and line.startswith(READY_PREFIX):
                worker.ready = True
                if self._line is None:
                    self._line = line
                if self._announced:
                    logger.info("%s is serving again", worker.name())
            else:
                logger.info("%s wrote: %s", worker.name(), line)

    def _check(self, worker: _Worker, now: float) -> str | None:
        """Notice a worker's death (scheduling its restart) or a start that takes too long."""
        process = worker.process
        if process is None:
            return None
        status = process.poll()
        if status is None:
            if not worker.ready and not worker.killed and now - worker.started >= READY_TIMEOUT:
                logger.warning(
                    "%s wrote no start-up line within %g s: killing it",
                    worker.name(),
                    READY_TIMEOUT,
                )
                process.kill()  # and found dead by a later check
                worker.killed = True
            return None
        what = f"{worker.name()} {_exit_description(status)} after {now - worker.started:.1f} s"
        self._release(worker)
        return self._died(worker, what)

    def _died(self, worker: _Worker, what: str) -> str | None:
        """Count a death; schedule a restart, or return why the supervisor gives up."""
        now = time.monotonic()
        if now - worker.started >= STABLE_AFTER:
            worker.delay = RESTART_DELAY
        worker.deaths.append(now)
        while worker.deaths[0] < now - GIVE_UP_WINDOW:
            worker.deaths.popleft()
        if len(worker.deaths) >= GIVE_UP_DEATHS:
            return (
                f"giving up: worker {worker.number} died {len(worker.deaths)} times within "
                f"{GIVE_UP_WINDOW:g} s, the last time: {what}; its log lines above say why"
            )
        delay, worker.delay = worker.delay, min(worker.delay * 2, RESTART_DELAY_MAX)
        worker.restart_at = now + delay
        logger.warning("%s; restarting it in %.1f s", what, delay)
        return None

    def _release(self, worker: _Worker) -> None:
        """Let go of an ended process: its pipes, its pidfd, its place in the selector."""
        for fd in list(worker.watched):
            self._unwatch(worker, fd)
        if worker.pidfd is not None:
            os.close(worker.pidfd)
            worker.pidfd = None
        process = worker.process
        if process is not None:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        worker.process = None

    def _announce(self) -> None:
        """Once every worker is ready for the first time: the start-up line, and the PIDs."""
        if self._announced or not all(worker.ready for worker in self._workers):
            return
        self._announced = True
        print(self._line, flush=True)
        pids = [str(worker.process.pid) for worker in self._workers if worker.process is not None]
        logger.info("serving in %d workers, PIDs %s", len(pids), ", ".join(pids))

    def _stop_all(self) -> None:
        """SIGTERM every worker, wait up to STOP_TIMEOUT (or a second signal), then SIGKILL."""
        for worker in self._workers:
            if worker.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            for worker in self._workers:
                if worker.process is not None and (status := worker.process.poll()) is not None:
                    logger.info("%s %s", worker.name(), _exit_description(status))
                    self._release(worker)  # so that its pidfd no longer wakes the wait
            running = [worker for worker in self._workers if worker.process is not None]
            now = time.monotonic()
            if not running or now >= deadline or len(self._signals) > 1:
                break
            self._dispatch(min(deadline - now, _MAX_SLEEP))
        for worker in running:
            assert worker.process is not None
            logger.warning("%s has not exited: killing it", worker.name())
            worker.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(STOP_TIMEOUT)
            self._release(worker)

    @contextlib.contextmanager
    def _signal_handling(self) -> Iterator[None]:
        """Record SIGINT and SIGTERM, and wake the selector for them."""
        wake_reader, wake_writer = socket.socketpair()
        for end in (wake_reader, wake_writer):
            end.setblocking(False)  # noqa: FBT003 - socket API

        def drain() -> None:
            with contextlib.suppress(BlockingIOError):
                while wake_reader.recv(4096):
                    pass

        def request_stop(received: int, _frame: FrameType | None) -> None:
            self._signals.append(signal.Signals(received).name)

        self._selector.register(wake_reader, selectors.EVENT_READ, drain)
        previous_fd = signal.set_wakeup_fd(wake_writer.fileno(), warn_on_full_buffer=False)
        previous = {
            signum: signal.signal(signum, request_stop)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(previous_fd)
            wake_reader.close()
            wake_writer.close()


def _exit_description(status: int) -> str:
    """Return how a process ended, from its `Popen.returncode`."""
    if status >= 0:
        return f"exited with status {status}"
    try:
        return f"was killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"was killed by signal {-status}"
