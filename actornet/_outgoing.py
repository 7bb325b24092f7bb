"""Outgoing: the frames on their way from any actor to one connection's writer.

Theory of operation
-------------------
A room broadcasting to a thousand members would pay a mailbox message per
member per frame if it told each writer `Send`. Instead every connection has one
`Outgoing` list: senders append encoded frames to it, and only the append that
finds the writer not yet notified tells it `FLUSH_OUTGOING`. The writer takes
every frame waiting at once, so a broadcast costs each member one list append,
and a writer sends everything that piled up in one system call.

The connection's own session appends without notifying and calls `notify()` at
the end of its turn: one notification for everything the turn sent, and an idle
writer runs its turn right there (`Mailbox.put_and_run()`), so a reply leaves in
the turn that wrote it, as an asyncio transport's `write()` tries the socket at
once.

Order: frames from one sender keep their order, and a `Close` or other message
told after a frame reaches the writer after the frame, because the writer takes
the waiting frames before it handles any message.

Sealing: when the protocol's last bytes are queued (the answer to the peer's
WebSocket close, the close that reports the peer's error, this side's own
close), `seal()` appends them and drops every later frame silently, so nothing
follows a close on the wire, whichever thread tries to send.

Thread safety, under the GIL: senders only append; the writer only deletes the
prefix it has taken (`del frames[:n]`, one atomic operation), so a frame
appended meanwhile stays. The writer clears the notified flag *before* taking,
so a sender that appends after the take sees the flag cleared and notifies
again: no frame waits without a notification on its way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pykka._envelope import Envelope

from actornet._messages import FLUSH_OUTGOING

if TYPE_CHECKING:
    from pykka import ActorRef

    from actornet._runtime._mailbox import Mailbox

__all__ = ["Outgoing"]

# One envelope serves every notification: it carries no reply future, and a
# mailbox only reads it, so the same object may even be queued twice.
_FLUSH_ENVELOPE: Envelope[object] = Envelope(FLUSH_OUTGOING)


class Outgoing:
    """Frames queued for one writer by any number of senders, in order."""

    __slots__ = ("_frames", "_notified", "_writer_inbox", "closed", "dropped", "sealed")

    def __init__(self, writer_ref: ActorRef[Any]) -> None:
        self._frames: list[bytes] = []
        self._notified = False
        self._writer_inbox = cast("Mailbox", writer_ref.actor_inbox)
        #: Set by the writer once it sends no more; later frames are refused.
        self.closed = False
        #: Set by `seal()`: later frames are dropped without an error.
        self.sealed = False
        #: Frames dropped because they came after the seal.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._frames)

    def __repr__(self) -> str:
        return f"<Outgoing {len(self._frames)} frames{' closed' if self.closed else ''}>"

    def put(self, frame: bytes) -> bool:
        """Queue an encoded frame for the writer; False if it sends no more."""
        if self.closed or self.sealed:
            return self._refuse()
        self._frames.append(frame)
        if not self._notified:
            self._notified = True
            self._writer_inbox.put(_FLUSH_ENVELOPE)
        return True

    def append(self, frame: bytes) -> bool:
        """Queue a frame without telling the writer; False if it sends no more.

        For the connection's own session, which calls `notify()` once at the
        end of its turn, so that everything one turn sends leaves together.
        """
        if self.closed or self.sealed:
            return self._refuse()
        self._frames.append(frame)
        return True

    def seal(self, last: bytes) -> None:
        """Queue the connection's last bytes (if any) and drop every later frame.

        A second seal drops its bytes: only one side's close reaches the peer.
        """
        if self.closed or self.sealed:
            return
        if last:
            self._frames.append(last)
        self.sealed = True
        if self._frames and not self._notified:
            self._notified = True
            self._writer_inbox.put(_FLUSH_ENVELOPE)

    def _refuse(self) -> bool:
        """Refuse a frame: False once the writer is closed, True (dropped) after the seal."""
        if self.closed:
            return False
        self.dropped += 1
        return True

    def notify(self) -> None:
        """Tell the writer that frames wait; an idle writer runs its turn now."""
        if self._frames and not self._notified:
            self._notified = True
            self._writer_inbox.put_and_run(_FLUSH_ENVELOPE)

    def take(self) -> list[bytes]:
        """Remove and return every waiting frame, oldest first; the writer's call."""
        self._notified = False
        frames = self._frames
        count = len(frames)
        if not count:
            return []
        taken = frames[:count]
        del frames[:count]
        return taken
