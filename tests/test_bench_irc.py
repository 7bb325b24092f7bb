"""bench/irc.py's pieces, briefly: the load generator's irc modes and a --quick run.

Each against the asyncio relay (bench/peers/asyncio_irc.py) and the chat's IRC
door; ngircd is never needed (the --quick run names a missing binary and
checks the benchmark says to install it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from bench import irc
from bench._servers import ROOT, build_loadgen, free_port, parse_pairs, stop

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None and shutil.which("gcc") is None,
    reason="the load generator needs a C compiler",
)

START = 60.0


@contextmanager
def server(name: str) -> Iterator[int]:
    """Run the asyncio relay or the chat server (unpinned); yield its IRC port."""
    if name.startswith("asyncio"):
        port = free_port()
        argv = [sys.executable, "-m", "bench.peers.asyncio_irc", "--port", str(port)]
        argv += ["--buffered"] if name == "asyncio-buffered" else []
    else:
        port = 0
        argv = [sys.executable, *irc.ACTORNET_ARGV]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = irc.start_line(process, START)
        assert "listening" in line, line
        if name == "actornet":
            match = re.search(r"IRC on 127\.0\.0\.1:(\d+),", line)
            assert match is not None, line
            port = int(match.group(1))
        yield port
    finally:
        stop(process)


def loadgen(*args: str) -> dict[str, float]:
    result = subprocess.run(
        [str(build_loadgen()), *args], capture_output=True, text=True, timeout=90, check=False
    )
    assert result.returncode == 0, result.stderr
    assert not result.stderr, result.stderr
    return parse_pairs(result.stdout)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ["asyncio", "asyncio-buffered", "actornet"])
def test_irc_mode_relays_every_line_in_order(name: str) -> None:
    with server(name) as port:
        result = loadgen("irc", "127.0.0.1", str(port), "20", "3", "64", "1", "8")
    assert result["joined"] == 20
    assert result["count"] > 0
    assert result["rate"] > 0
    assert result["p99_us"] <= result["max_us"]
    for key in ("errors", "lost", "order_errors", "stalls"):
        assert result[key] == 0, (key, result)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("name", ["asyncio", "actornet"])
def test_irc_idle_mode_registers_and_joins_every_client(name: str) -> None:
    # 120 clients: three channels of 50, 50 and 20.
    with server(name) as port:
        result = loadgen("irc-idle", "127.0.0.1", str(port), "120", "0")
    assert result == {"joined": 120, "errors": 0}


@pytest.mark.timeout(240)
@pytest.mark.skipif(
    not shutil.which("taskset") or len(os.sched_getaffinity(0)) < 2,
    reason="bench.irc pins the server and the load generator to two cores",
)
def test_quick_run_prints_the_tables_and_skips_a_missing_ngircd(
    capsys: pytest.CaptureFixture[str],
) -> None:
    irc.main(
        [
            *("--quick", "--seconds", "1", "--idle-clients", "60"),
            *("--servers", "asyncio,ngircd", "--ngircd", "no-such-ngircd-binary"),
        ]
    )
    out = capsys.readouterr().out
    assert "ngircd (ceiling): skipped: install ngircd" in out
    rows = [line for line in out.splitlines() if line.startswith("asyncio (baseline)")]
    assert len(rows) == 2, out  # the deliveries table and the idle memory table
    relay, idle = (row.split() for row in rows)
    assert float(relay[2].replace(",", "")) > 0  # deliveries/s
    assert relay[-4] == "0"  # errors (then "0 of 1" failed)
    assert idle[2] == "60"  # clients


def _fake_server(listener: socket.socket, clients: int, lines: list[bytes],
                 pongs: list[bytes], done: threading.Event) -> None:
    """Register and join each client, then send it `lines`; collect what it answers.

    The connections stay open until `done`.
    """
    connections = []
    for _ in range(clients):
        conn, _ = listener.accept()
        conn.settimeout(10)
        connections.append(conn)
        reader = conn.makefile("rb")
        reader.readline()  # NICK
        reader.readline()  # USER
        conn.sendall(b":fake 001 them :hi\r\n")
        reader.readline()  # JOIN
        conn.sendall(b":fake 366 them #bench :End of /NAMES list.\r\n")
        conn.sendall(b"".join(lines))
        pongs.append(reader.readline())
        reader.close()
    done.wait(30)
    for conn in connections:
        conn.close()


@pytest.mark.timeout(60)
def test_irc_mode_counts_bad_lines_and_answers_ping() -> None:
    bad = [
        b"PING :token-1\r\n",
        b":b0!b0@fake PRIVMSG #bench :not one of ours\r\n",
        b":b0!b0@fake PRIVMSG #bench :1 2 " + b"x" * 60 + b"\r\n",  # never sent, wrong fill
        b":b9!b9@fake PRIVMSG #bench :" + b"a" * 64 + b"\r\n",  # not a sender
        b":fake 404 them #bench :Cannot send to channel\r\n",
        b"bare LF\n",
    ]
    pongs: list[bytes] = []
    done = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        thread = threading.Thread(target=_fake_server, args=(listener, 2, bad, pongs, done))
        thread.start()
        result = subprocess.run(
            [str(build_loadgen()), "irc", "127.0.0.1", str(port), "2", "1", "64", "0.5"],
            capture_output=True, text=True, timeout=30, check=False,
        )
        done.set()
        thread.join(10)
    assert result.returncode == 0, result.stderr
    counts = parse_pairs(result.stdout)
    assert counts["joined"] == 2
    assert counts["pings"] == 2
    assert pongs == [b"PONG :token-1\r\n"] * 2
    assert counts["count"] == 0
    # Client 0 is the sender: it gets its own nick's lines too, and every bad line counts.
    assert counts["errors"] == 2 * 5, result.stderr
