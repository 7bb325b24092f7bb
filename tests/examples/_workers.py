"""Worker processes of a chat server, read from /proc: who they are and which sockets they hold.

A process's socket inodes come from /proc/PID/fd, and each socket's local port and state
from /proc/net/tcp: a connection a worker accepted is an ESTABLISHED socket on the door's
port among that worker's descriptors.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from _support import wait_until

# /proc/net/tcp's socket states.
ESTABLISHED, LISTEN = "01", "0A"


def _stat(pid: int) -> tuple[str, int] | None:
    """Return the state letter and the parent PID of a process, or None if there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "PID (command) "
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Return whether the process runs (a zombie does not)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def children_of(parent: int) -> set[int]:
    """Return the PIDs of the parent's live children."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == parent and stat[0] != "Z":
                found.add(int(entry.name))
    return found


def socket_inodes(pid: int) -> set[int]:
    """Return the inodes of the sockets the process has open."""
    inodes = set()
    with contextlib.suppress(FileNotFoundError):  # the process ended
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def tcp_sockets(port: int) -> dict[int, str]:
    """Return the state of every IPv4 TCP socket whose local port is `port`, by inode."""
    sockets = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            sockets[int(fields[9])] = fields[3]
    return sockets


def sockets_in(pid: int, port: int, state: str) -> set[int]:
    """Return the inodes of the process's sockets on local `port` in `state`."""
    return {inode for inode, s in tcp_sockets(port).items() if s == state} & socket_inodes(pid)


def wait_for_workers(parent: int, count: int) -> set[int]:
    """Wait until the parent has `count` children; return their PIDs."""
    assert wait_until(lambda: len(children_of(parent)) == count), children_of(parent)
    return children_of(parent)


def kill_workers(pids: set[int]) -> None:
    """SIGKILL the processes among `pids` that are still chat workers."""
    for pid in pids:
        with contextlib.suppress(OSError):
            if b"--supervised-worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
