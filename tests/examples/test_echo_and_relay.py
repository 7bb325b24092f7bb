"""The echo and relay examples, run as a user runs them: `python -m examples.X`."""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from _support import RAW_WIRE, WAIT, frame, read_until_closed, track

import actornet.testing

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def example(name: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Run an example on an ephemeral port; yield the process and its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", f"examples.{name}", "--port", "0", "--log-level", "WARNING"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        yield process, int(line.rsplit(":", 1)[1])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(WAIT)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def client(port: int) -> actornet.testing.BlockingClient[bytes]:
    connected = actornet.testing.BlockingClient("127.0.0.1", port, RAW_WIRE, timeout=WAIT)
    track(connected.sock)
    return connected


def test_echo_returns_each_frame_unchanged_up_to_one_mebibyte() -> None:
    with example("echo") as (_, port), client(port) as c:
        big = bytes(range(256)) * 4096
        c.sock.sendall(struct.pack(">I", len(big)) + big)
        c.send(b"small")
        c.sock.settimeout(WAIT)
        got = b""
        want = struct.pack(">I", len(big)) + big + frame(b"small")
        while len(got) < len(want) and (chunk := c.sock.recv(1 << 20)):
            got += chunk
        assert got == want


def test_echo_closes_a_connection_that_declares_more_than_one_mebibyte() -> None:
    with example("echo") as (_, port), client(port) as bad, client(port) as good:
        bad.send_bytes(struct.pack(">I", 1024 * 1024 + 1))
        assert read_until_closed(bad.sock) == b""
        good.send(b"unaffected")
        assert good.receive() == b"unaffected"


def test_sigterm_shuts_the_echo_server_down_gracefully() -> None:
    with example("echo") as (process, port), client(port) as c:
        c.send(b"before")
        assert c.receive() == b"before"
        process.send_signal(signal.SIGTERM)
        assert c.receive_until_closed() == []
        assert process.wait(WAIT) == 0


def test_relay_gives_every_client_every_frame_in_one_order() -> None:
    senders, per_sender = 3, 50
    with example("relay") as (_, port):
        # A connect() that returned says nothing of the session having joined
        # the room: a frame broadcast meanwhile would miss the newcomer. A
        # session joins before it relays its own first frame, so once every
        # member (the newcomer too) hears the newcomer's hello, it has joined.
        clients: list[actornet.testing.BlockingClient[bytes]] = []
        for _ in range(senders):
            newcomer = client(port)
            newcomer.send(b"hello")
            clients.append(newcomer)
            for c in clients:
                assert c.receive() == b"hello"

        def send_all(index: int) -> None:
            for n in range(per_sender):
                clients[index].send(f"{index}:{n}".encode())

        threads = [threading.Thread(target=send_all, args=(i,)) for i in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        seen = [[c.receive() for _ in range(senders * per_sender)] for c in clients]
        assert seen[0] == seen[1] == seen[2]
        for index in range(senders):
            mine = [f for f in seen[0] if f.startswith(f"{index}:".encode())]
            assert mine == [f"{index}:{n}".encode() for n in range(per_sender)]
        for c in clients:
            c.close()
