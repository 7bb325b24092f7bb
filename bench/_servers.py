"""Run servers and the C load generator as subprocesses, pinned to separate cores."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "bench" / ".build"
SERVER_CORE = "0"
LOADGEN_CORE = "1"


def build_loadgen() -> Path:
    """Compile bench/loadgen.c (once per change) and return the binary's path."""
    source = ROOT / "bench" / "loadgen.c"
    binary = BUILD / "loadgen"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        BUILD.mkdir(parents=True, exist_ok=True)
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SystemExit("bench needs a C compiler (cc) to build bench/loadgen.c")
        subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    return binary


def _pinned(core: str, argv: Sequence[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", core, *argv]
    return list(argv)


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(module_argv: Sequence[str], port: int) -> Iterator[subprocess.Popen[str]]:
    """Start `python -m ...` pinned to the server core; yield once it listens."""
    argv = _pinned(SERVER_CORE, [sys.executable, "-m", *module_argv, "--port", str(port)])
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"{' '.join(module_argv)} did not start: {line!r}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_loadgen(args: Sequence[str], timeout: float) -> dict[str, float]:
    """Run the load generator pinned to its core; return its key=value output."""
    argv = _pinned(LOADGEN_CORE, [str(build_loadgen()), *args])
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=True
    )
    return parse_pairs(result.stdout)


def parse_pairs(line: str) -> dict[str, float]:
    """Parse 'a=1 b=2.5' into a dict."""
    pairs = {}
    for item in line.split():
        key, _, value = item.partition("=")
        pairs[key] = float(value)
    return pairs


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
