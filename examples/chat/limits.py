"""ChatLimits: what the chat lets its users make it hold, one frozen dataclass.

The connection layer bounds each connection (`actornet.Limits`: the write
queue, the mailbox, the idle timeout); these bound what the chat keeps on the
users' behalf: rooms, members and history. `docs/robustness.md` adds them up.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Rooms one user may be in at once. IRC servers allow 20 to 50 (`CHANLIMIT`);
#: 30 is more than a person follows.
DEFAULT_MAX_ROOMS_PER_USER = 30

#: Rooms on the server at once: 10,000 empty rooms are about 13 MiB of actors
#: (20,000 were measured at 25 MiB), and a room list of 10,000 `RoomInfo`
#: frames without topics is about 0.3 MiB, within one write queue.
DEFAULT_MAX_ROOMS = 10_000

#: Members of one room. Each join is broadcast to every member, so filling a
#: room of n costs n²/2 frames: 500,000 for 1,000 members, 50 million for
#: 10,000. A thousand is a big IRC channel and a five-frame member list.
DEFAULT_MAX_MEMBERS = 1_000

#: Messages a room keeps and replays to each member who joins.
DEFAULT_HISTORY_LINES = 50

#: Bytes of history a room keeps: the UTF-8 of each kept line's nick and text,
#: 32 KiB. Fifty lines of up to 640 bytes (most chat lines are under 100);
#: longer lines push older ones out sooner.
DEFAULT_HISTORY_BYTES = 32 * 1024

#: Bytes of history all rooms together keep, counted as for one room: 64 MiB.
#: Every room keeps its full 32 KiB up to 2,048 rooms; beyond that each keeps
#: less (see `ChatLimits.history_share`).
DEFAULT_TOTAL_HISTORY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatLimits:
    """Bounds on rooms, members and history, with their defaults.

    History is counted in the UTF-8 bytes of the nick and text of each kept
    line; Python adds about 250 bytes per line, at most `history_lines` of them.
    """

    max_rooms_per_user: int = DEFAULT_MAX_ROOMS_PER_USER
    """Rooms one connection may be in (joins in flight included)."""

    max_rooms: int = DEFAULT_MAX_ROOMS
    """Rooms on the server; a join that would create one more is refused."""

    max_members: int = DEFAULT_MAX_MEMBERS
    """Members of one room; the next join is refused."""

    history_lines: int = DEFAULT_HISTORY_LINES
    """Lines a room keeps."""

    history_bytes: int = DEFAULT_HISTORY_BYTES
    """Bytes of history a room keeps, at most; the oldest lines go first."""

    total_history_bytes: int = DEFAULT_TOTAL_HISTORY_BYTES
    """Bytes of history all rooms keep together, at most."""

    def __post_init__(self) -> None:
        for name in ("max_rooms_per_user", "max_rooms", "max_members"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be at least 1")
        for name in ("history_lines", "history_bytes", "total_history_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must not be negative")

    def history_share(self, level: int) -> int:
        """Return the bytes of history each room keeps while there are at most 2**level rooms.

        Each room keeps `total_history_bytes / 2**level`, and never more than
        `history_bytes`, so rooms together keep at most `total_history_bytes`.
        """
        return min(self.history_bytes, self.total_history_bytes >> level)


def line_bytes(nick: str, text: str) -> int:
    """Return what one line of history counts against the history limits."""
    return len(nick.encode()) + len(text.encode())
