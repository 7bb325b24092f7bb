"""Instructions per operation, counted by callgrind: a figure the machine's load does not move.

Times measured on two shared cores move by 10-20% from one run to the next, and
more between hours. Valgrind's callgrind instead counts the instructions the
server process runs in user space, which the neighbours do not change; what it
cannot see is the kernel's work (system calls, wake-ups) and what an
instruction costs (cache misses, the interpreter's branches), so it is a check
beside bench.tls and bench.echo, not a replacement for their CPU columns.

Each server runs under `valgrind --tool=callgrind`, pinned to one core, with
counting zeroed once it listens and dumped when the load ends; the C load
generator runs on the other core at native speed, at a low concurrency so that
the slowed server times nothing out. Slowed some 50 times, the server finds
many connections ready at every poll: the figures are a saturated server's.
Loads:

* TLS handshakes: `loadgen tls-handshakes`, 4 in flight; instructions / handshakes.
* TLS echo and plain echo, 100 connections x 1 in flight x 512 B: two runs of
  different lengths, and (instructions of the longer - of the shorter) / (round
  trips of the longer - of the shorter), so that the connections' handshakes,
  opening and closing cancel out.

Servers: actornet (`python -m examples.echo`) and asyncio streams
(`python -m bench.peers.asyncio_streams echo`), both with the same trustme
certificate for TLS. Columns: operations counted, thousands of instructions per
operation, "x asyncio" (asyncio's count / actornet's, >1 means actornet runs
fewer), and the share by library: the Python interpreter, OpenSSL (libcrypto +
libssl), the C library, the rest (read from the dump's cost lines, to within
about 1%).

Needs valgrind (Debian: `apt-get install valgrind`).

Run: python -m bench.instructions [--seconds 12] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench._common import format_table, number, ratio, times
from bench._servers import (
    LOADGEN_CORE,
    ROOT,
    SERVER_CORE,
    build_loadgen,
    first_line,
    free_port,
    run_loadgen,
    stop,
)
from bench.tls import _certificates

if TYPE_CHECKING:
    from collections.abc import Sequence

ACTORNET = "actornet"
BASELINE = "asyncio streams"
SERVERS = (ACTORNET, BASELINE)
#: Seconds a server under valgrind may take to print its `listening` line.
START_TIMEOUT = 120.0
#: The libraries the instructions are split by, by the start of the object's file name.
LIBRARIES = (
    ("Python", ("libpython", "python3")),
    ("OpenSSL", ("libcrypto", "libssl")),
    ("libc", ("libc.so", "libc-")),
)


@dataclass(frozen=True)
class Load:
    """One row group: its title, whether TLS is on, the load generator's mode and arguments."""

    title: str
    tls: bool
    mode: str
    args: tuple[int, ...]
    differential: bool


LOADS = (
    Load(
        "TLS handshakes, 4 in flight",
        tls=True,
        mode="tls-handshakes",
        args=(4,),
        differential=False,
    ),
    Load(
        "TLS echo 100 x 1 x 512 B", tls=True, mode="tls-echo", args=(100, 1, 512), differential=True
    ),
    Load("echo 100 x 1 x 512 B", tls=False, mode="echo", args=(100, 1, 512), differential=True),
)


@dataclass(frozen=True)
class Count:
    """Instructions of one dump, in all and by library, and the operations it covered."""

    operations: float
    instructions: float
    by_library: dict[str, float]

    def minus(self, other: Count) -> Count:
        """The difference of two runs: what the extra operations cost."""
        return Count(
            self.operations - other.operations,
            self.instructions - other.instructions,
            {k: v - other.by_library.get(k, 0.0) for k, v in self.by_library.items()},
        )


def _library_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for library, prefixes in LIBRARIES:
        if name.startswith(prefixes):
            return library
    return "other"


_NAMED = re.compile(r"\((\d+)\)(?: (.*))?")


def read_dump(path: Path) -> tuple[float, dict[str, float]]:
    """Return a callgrind dump's total instructions and their split by library (self cost)."""
    total = 0.0
    names: dict[str, str] = {}
    by_library: collections.Counter[str] = collections.Counter()
    library = "other"
    after_calls = False
    with path.open(encoding="utf-8", errors="replace") as dump:
        for line in dump:
            if line.startswith("summary:"):
                total = float(line.split()[1])
            elif line.startswith("ob="):
                value = line[3:].strip()
                match = _NAMED.match(value)
                if match:
                    key, name = match.groups()
                    if name:
                        names[key] = name
                    value = names.get(key, value)
                library = _library_of(value)
            elif line.startswith("cob="):
                match = _NAMED.match(line[4:].strip())
                if match and match.group(2):
                    names[match.group(1)] = match.group(2)
            elif line.startswith("calls="):
                after_calls = True  # the next cost line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                if after_calls:
                    after_calls = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    by_library[library] += int(parts[1])
    return total, {name: float(value) for name, value in by_library.items()}


def _server_argv(name: str, port: int, certs: tuple[Path, Path] | None) -> list[str]:
    tls = [] if certs is None else ["--tls-cert", str(certs[0]), "--tls-key", str(certs[1])]
    address = ["--host", "127.0.0.1", "--port", str(port)]
    if name == BASELINE:
        return [sys.executable, "-m", "bench.peers.asyncio_streams", "echo", *address, *tls]
    return [sys.executable, "-m", "examples.echo", *address, "--log-level", "WARNING", *tls]


def _callgrind(command: str, pid: int) -> None:
    subprocess.run(
        ["callgrind_control", command, str(pid)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


#: Seconds the server may take to finish writing a dump once asked.
DUMP_TIMEOUT = 30.0


def _wait_for_dump(dump: Path) -> None:
    """Wait until callgrind has written `dump` to its last line, `totals:`."""
    deadline = time.monotonic() + DUMP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError), dump.open("rb") as file:
            file.seek(max(0, file.seek(0, 2) - 256))
            if b"\ntotals:" in file.read():
                return
        time.sleep(0.1)
    raise RuntimeError(f"callgrind wrote no complete dump within {DUMP_TIMEOUT:g} s: {dump}")


def count_one(load: Load, name: str, seconds: float, certs: tuple[Path, Path], work: Path) -> Count:
    """Run one server under callgrind through one load; return what the load cost it."""
    port = free_port()
    out = work / f"{name.split(maxsplit=1)[0]}-{load.mode}-{port}"
    argv = [
        "taskset",
        "-c",
        str(SERVER_CORE),
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}.%p",
        *_server_argv(name, port, certs if load.tls else None),
    ]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        if "listening" not in first_line(process, START_TIMEOUT):
            raise RuntimeError(f"{name} did not start under valgrind")
        _callgrind("-z", process.pid)
        args = [load.mode, "127.0.0.1", str(port), *map(str, load.args), str(seconds)]
        result = run_loadgen(args, timeout=seconds + 120, core=LOADGEN_CORE)
        _callgrind("-d", process.pid)
        dump = Path(f"{out}.{process.pid}.1")
        _wait_for_dump(dump)
    finally:
        stop(process)
    if result.get("errors", 0):
        raise RuntimeError(f"{name}, {load.title}: {result['errors']:.0f} errors under valgrind")
    total, by_library = read_dump(dump)
    return Count(result["count"], total, by_library)


def count(load: Load, name: str, seconds: float, certs: tuple[Path, Path], work: Path) -> Count:
    """What one operation of `load` costs `name`, as a Count over the operations measured."""
    if not load.differential:
        return count_one(load, name, seconds, certs, work)
    short = count_one(load, name, seconds / 2, certs, work)
    long = count_one(load, name, seconds, certs, work)
    return long.minus(short)


def _row(name: str, cell: Count, baseline: Count) -> list[str]:
    per_op = cell.instructions / cell.operations
    base_per_op = baseline.instructions / baseline.operations
    shares = [
        f"{100 * cell.by_library.get(library, 0.0) / cell.instructions:.0f}%"
        for library in (*(lib for lib, _ in LIBRARIES), "other")
    ]
    return [
        f"  {name}",
        number(cell.operations),
        number(per_op / 1e3, 1),
        times(ratio(base_per_op, per_op)),
        *shares,
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Count instructions per operation for every load and server; print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="length of the longer run")
    parser.add_argument("--quick", action="store_true", help="6 s runs, handshakes only")
    options = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("bench.instructions needs valgrind: apt-get install valgrind")
    seconds = 6.0 if options.quick else options.seconds
    loads = LOADS[:1] if options.quick else LOADS
    build_loadgen(tls=True)
    started = time.monotonic()
    header = [
        "load / server",
        "operations",
        "k instr/op",
        "x asyncio",
        *(lib for lib, _ in LIBRARIES),
        "other",
    ]
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="actornet-callgrind-") as directory:
        work = Path(directory)
        certs = _certificates(work)
        for load in loads:
            cells = {name: count(load, name, seconds, certs, work) for name in SERVERS}
            rows.append([load.title, *[""] * (len(header) - 1)])
            rows += [_row(name, cells[name], cells[BASELINE]) for name in SERVERS]
            print(f"  {time.monotonic() - started:4.0f} s  done: {load.title}", file=sys.stderr)
    print(
        f"\n== instructions per operation in the server's user space (callgrind), server on "
        f"core {SERVER_CORE}, load generator on core {LOADGEN_CORE}; x asyncio: asyncio's "
        "count / actornet's, >1 means actornet runs fewer"
    )
    print(format_table(header, rows))
    print(f"\ntook {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
