"""Run servers and the C load generator as subprocesses, each pinned to its own core."""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "bench" / ".build"
SERVER_CORE = 0
LOADGEN_CORE = 1
#: Seconds a server may take to print its `listening on` line.
START_TIMEOUT = 60.0
#: Seconds a server may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def build_loadgen(*, tls: bool = False) -> Path:
    """Compile bench/loadgen.c (once per change) and return the binary's path.

    It is built with its TLS modes where OpenSSL's headers are installed and
    without them elsewhere; `tls=True` insists on them.
    """
    source = ROOT / "bench" / "loadgen.c"
    binary = BUILD / "loadgen"
    marker = BUILD / "loadgen.tls"  # present when the binary has the TLS modes
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        BUILD.mkdir(parents=True, exist_ok=True)
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SystemExit("bench needs a C compiler (cc) to build bench/loadgen.c")
        marker.unlink(missing_ok=True)
        with_tls = [
            compiler,
            "-O2",
            "-DLOADGEN_TLS",
            "-o",
            str(binary),
            str(source),
            "-lssl",
            "-lcrypto",
        ]
        if subprocess.run(with_tls, capture_output=True, check=False).returncode == 0:
            marker.touch()
        else:
            subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    if tls and not marker.exists():
        raise SystemExit(
            "the load generator's TLS modes need OpenSSL's headers to build "
            "(Debian: apt-get install libssl-dev)"
        )
    return binary


@dataclass(frozen=True)
class Pinning:
    """Which core the servers run on and which the load generator runs on."""

    server: int
    loadgen: int

    @property
    def label(self) -> str:
        return f"server on core {self.server}, load generator on core {self.loadgen}"


def pinnings_for(server_cores: Sequence[int], benchmark: str) -> list[Pinning]:
    """Pair each server core with another core for the load generator; exit if it cannot."""
    allowed = sorted(os.sched_getaffinity(0))
    pairs = []
    for core in server_cores:
        others = [other for other in allowed if other != core]
        if not others:
            raise SystemExit(f"no core other than {core} for the load generator")
        pairs.append(Pinning(core, others[0]))
    problem = pinning_problem(sorted({c for p in pairs for c in (p.server, p.loadgen)}))
    if problem:
        raise SystemExit(f"{benchmark} pins every process and cannot: {problem}")
    return pairs


def parse_cores(text: str) -> list[int]:
    """Parse "0,1" into core numbers, for an argparse `type=`."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of cores: {text!r}") from None


def pinning_problem(cores: Sequence[int]) -> str | None:
    """Say why processes cannot be pinned to each of `cores`, or return None if they can."""
    if shutil.which("taskset") is None:
        return "taskset is not installed"
    allowed = os.sched_getaffinity(0)
    missing = [core for core in cores if core not in allowed]
    if missing:
        return f"core(s) {missing} not available to this process (allowed: {sorted(allowed)})"
    return None


def _pinned(core: int, argv: Sequence[str]) -> list[str]:
    """Prefix argv with taskset when pinning is possible (taskset execs: same PID)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *argv]
    return list(argv)


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _forward_lines(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Pass the first line on, then read and drop the rest so the pipe never fills."""
    lines.put(stream.readline())
    for _ in stream:
        pass


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Return the first line a process prints on stdout ("" if none within `timeout` s).

    Whatever it prints afterwards is read and dropped.
    """
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_forward_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


class ServerDidNotStartError(RuntimeError):
    """A server exited or did not listen within START_TIMEOUT."""


def wait_listening(process: subprocess.Popen[str], port: int) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port` (for servers that print
    nothing when ready, such as ngircd and openssl s_server).

    Raises:
        ServerDidNotStartError: The process exited, or nothing listened within START_TIMEOUT.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStartError(f"exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise ServerDidNotStartError(f"not listening on 127.0.0.1:{port} after {START_TIMEOUT:g} s")


def stop(process: subprocess.Popen[str]) -> None:
    """Stop one process by its PID: SIGTERM, then SIGKILL after STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_server(
    module_argv: Sequence[str], port: int, core: int = SERVER_CORE
) -> Iterator[subprocess.Popen[str]]:
    """Start `python -m ...` on 127.0.0.1 pinned to `core`; yield once it listens."""
    argv = [sys.executable, "-m", *module_argv, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        _pinned(core, argv), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = first_line(process, START_TIMEOUT)
        if "listening" not in line:
            raise RuntimeError(f"{' '.join(module_argv)} did not start: {line!r}")
        yield process
    finally:
        stop(process)


@dataclass(frozen=True)
class LoadgenRun:
    """What one load generator run printed, and the CPU it used."""

    result: dict[str, float]
    cpu_seconds: float
    wall_seconds: float


def start_loadgen(args: Sequence[str], core: int) -> subprocess.Popen[str]:
    """Start the load generator pinned to `core`, its stdout a pipe; stop it with `stop()`."""
    argv = _pinned(core, [str(build_loadgen()), *args])
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def run_loadgen_measured(args: Sequence[str], timeout: float, core: int) -> LoadgenRun:
    """Run the load generator pinned to `core`; return its output and its own CPU time.

    It is killed (by PID) if it is still running after `timeout` seconds.
    """
    started = time.monotonic()
    process = start_loadgen(args, core)
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        # wait4 reaps the child and reports its rusage; its output is one short
        # line, so it cannot block on a full pipe before it exits.
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        watchdog.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    assert process.stdout is not None
    output = process.stdout.read()
    process.stdout.close()
    if process.returncode != 0:
        raise RuntimeError(f"loadgen {' '.join(args)} exited with {process.returncode}")
    return LoadgenRun(parse_pairs(output), usage.ru_utime + usage.ru_stime, wall)


def run_loadgen(args: Sequence[str], timeout: float, core: int = LOADGEN_CORE) -> dict[str, float]:
    """Run the load generator pinned to `core`; return its key=value output."""
    return run_loadgen_measured(args, timeout, core).result


def parse_pairs(line: str) -> dict[str, float]:
    """Parse 'a=1 b=2.5' into a dict."""
    pairs = {}
    for item in line.split():
        key, _, value = item.partition("=")
        pairs[key] = float(value)
    return pairs


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds used so far by a process and all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    # Fields after the parenthesised command name start at field 3; utime and
    # stime are fields 14 and 15.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_kib(pid: int) -> int:
    """Return a process's resident set size in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def wait_for_rss_to_settle(pid: int, seconds: float = 1.0) -> int:
    """Return RSS once it stops growing between two readings `seconds` apart."""
    previous = rss_kib(pid)
    for _ in range(10):
        time.sleep(seconds)
        current = rss_kib(pid)
        if current <= previous:
            return current
        previous = current
    return previous
