"""TLS handshakes per second: actornet's TLS echo server beside asyncio's, same run.

Three servers, each terminating TLS 1.3 with the same trustme certificate (made
in a temporary directory, never kept):

* actornet: `python -m examples.echo --tls-cert FILE --tls-key FILE`;
* asyncio: `python -m bench.peers.asyncio_streams echo --tls-cert ... --tls-key ...`
  (asyncio streams, `start_server(ssl=...)`), the baseline;
* openssl s_server (Debian's `openssl`): the ceiling, there to show the client
  had headroom.

The client is `openssl s_time -new` (Debian's OpenSSL, in C): full handshakes
one after the other for --seconds, each connection closed once established. The
handshake is OpenSSL's cost on both Python servers; what differs is what each
adds around it (accepting, the memory BIOs or the SSL transport, the actors or
tasks, closing). Each server is pinned to one core and the client to another,
both ways round; each cell is the median of --repeat runs, servers taking turns.
Columns: handshakes/s as s_time counts them; "CPU us/hs", the server process's
user + system CPU per handshake (/proc/PID/stat), the least noisy figure on
shared cores; "x asyncio", actornet's handshakes/s over asyncio's. s_time makes
one handshake at a time, so its rate is mostly the client's and the round trips':
compare the servers by their CPU per handshake.

Not measured here: TLS echo throughput (the C load generator speaks no TLS yet).

Run: python -m bench.tls [--repeat 3] [--seconds 4] [--server-cores 0,1] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import trustme

from bench._common import format_table, median, number, ratio, times
from bench._servers import (
    ROOT,
    START_TIMEOUT,
    Pinning,
    _pinned,
    cpu_seconds,
    first_line,
    free_port,
    parse_cores,
    pinnings_for,
    stop,
    wait_listening,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

SERVERS = ("actornet", "asyncio", "openssl")
LABELS = {
    "actornet": "actornet",
    "asyncio": "asyncio streams (baseline)",
    "openssl": "openssl s_server (ceiling)",
}
_CONNECTIONS = re.compile(r"(\d+) connections in ([\d.]+)s")


def _certificates(directory: Path) -> tuple[Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    chain, key = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    return chain, key


@contextlib.contextmanager
def _server(name: str, core: int, chain: Path, key: Path) -> Iterator[tuple[int, int]]:
    """Start one server pinned to `core`; yield its PID and port once it listens."""
    port = free_port()
    tls = ["--tls-cert", str(chain), "--tls-key", str(key)]
    if name == "openssl":
        argv = [
            "openssl",
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-cert",
            str(chain),
            "-key",
            str(key),
            "-quiet",
            "-naccept",
            "1000000000",
        ]
    elif name == "asyncio":
        argv = [
            sys.executable,
            "-m",
            "bench.peers.asyncio_streams",
            "echo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *tls,
        ]
    else:
        argv = [
            sys.executable,
            "-m",
            "examples.echo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
            *tls,
        ]
    process = subprocess.Popen(
        _pinned(core, argv),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        if name == "openssl":
            wait_listening(process, port)
        elif "listening" not in first_line(process, START_TIMEOUT):
            raise RuntimeError(f"{name} did not start")
        yield process.pid, port
    finally:
        stop(process)


def _run(name: str, pinning: Pinning, seconds: int, chain: Path, key: Path) -> tuple[float, float]:
    """One run: (handshakes per second, server CPU microseconds per handshake)."""
    with _server(name, pinning.server, chain, key) as (pid, port):
        before = cpu_seconds(pid)
        result = subprocess.run(
            _pinned(
                pinning.loadgen,
                [
                    "openssl",
                    "s_time",
                    "-connect",
                    f"127.0.0.1:{port}",
                    "-new",
                    "-tls1_3",
                    "-time",
                    str(seconds),
                ],
            ),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        used = cpu_seconds(pid) - before
    match = _CONNECTIONS.search(result.stdout)
    if match is None:
        raise RuntimeError(
            f"s_time printed no count: {result.stdout[-300:]} {result.stderr[-300:]}"
        )
    count, elapsed = int(match.group(1)), float(match.group(2))
    return count / elapsed, used * 1e6 / max(count, 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--server-cores", type=parse_cores, default=[0, 1])
    parser.add_argument("--quick", action="store_true", help="1 run of 2 s, the first pinning")
    args = parser.parse_args(argv)
    if shutil.which("openssl") is None:
        raise SystemExit("bench.tls needs Debian's openssl (apt-get install openssl)")
    repeat, seconds = (1, 2) if args.quick else (args.repeat, args.seconds)
    pinnings = pinnings_for(args.server_cores, "bench.tls")[: 1 if args.quick else None]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as directory:
        chain, key = _certificates(Path(directory))
        for pinning in pinnings:
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in SERVERS}
            for attempt in range(1, repeat + 1):
                for name in SERVERS:
                    runs[name].append(_run(name, pinning, seconds, chain, key))
                    run_rate, run_cpu = runs[name][-1]
                    print(
                        f"  {time.monotonic() - started:4.0f} s  {name} run {attempt}: "
                        f"{run_rate:,.0f} handshakes/s, {run_cpu:,.0f} us CPU each",
                        file=sys.stderr,
                    )
            rate = {name: median([r for r, _ in runs[name]]) for name in SERVERS}
            rows = [
                [
                    LABELS[name],
                    number(rate[name]),
                    number(median([c for _, c in runs[name]])),
                    times(ratio(rate["actornet"], rate["asyncio"])) if name == "actornet" else "",
                ]
                for name in SERVERS
            ]
            print(
                f"\n== {pinning.label}; median of {repeat} x {seconds} s; openssl s_time -new "
                "(TLS 1.3 full handshakes, one at a time)"
            )
            print(format_table(["server", "handshakes/s", "CPU us/hs", "x asyncio"], rows))
    print(f"\ntook {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
