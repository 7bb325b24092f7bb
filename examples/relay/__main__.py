"""Relay server: writes every frame any client sends to every connected client.

Run: python -m examples.relay [--port 7008] [--host 127.0.0.1]

The smallest possible chat room. Wire format: 4-byte big-endian payload length,
then the payload, frames up to 1 MiB. Every client, the sender included,
receives every frame in the order the relay received them: one `Room` actor
orders them, encodes each frame once and hands the same bytes to every member's
writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import actornet
import protocols
from examples._cli import parse_server_args, serve

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pykka

MAX_FRAME_SIZE = 1024 * 1024

WIRE = protocols.Wire(
    protocols.LengthPrefixed(width=4, byteorder="big", max_frame_size=MAX_FRAME_SIZE),
    protocols.RawCodec(),
)

DEFAULT_PORT = 7008


@dataclass(frozen=True, slots=True)
class Join:
    """A member joins: it receives every frame from now on."""

    member: str
    outbox: actornet.Outbox


@dataclass(frozen=True, slots=True)
class Leave:
    """A member leaves."""

    member: str


class Room(actornet.Actor):
    """Orders frames from all members and broadcasts each to all of them.

    Members talk to it with plain tells (a proxy costs a class introspection
    per creation, too much per connection).
    """

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[str, actornet.Outbox] = {}

    def on_receive(self, message: Any) -> None:
        """Broadcast a payload (encoded once, same bytes to every member), or track members."""
        if isinstance(message, bytes):
            frame = WIRE.encode(message)
            for outbox in self.members.values():
                outbox.send_frame(frame)
        elif isinstance(message, Join):
            self.members[message.member] = message.outbox
        elif isinstance(message, Leave):
            self.members.pop(message.member, None)
        else:
            super().on_receive(message)


class RelaySession(actornet.Session[bytes]):
    """Joins the room on connect, hands it every frame, leaves on disconnect."""

    def __init__(self, room: pykka.ActorRef[Room]) -> None:
        super().__init__()
        self.room = room

    def on_connect(self) -> None:
        """Join the room."""
        self.room.tell(Join(self.actor_urn, self.conn_outbox))

    def on_event(self, event: bytes) -> None:
        """Give the frame to the room, which orders and broadcasts it."""
        self.room.tell(event)

    def on_disconnect(self, reason: actornet.DisconnectReason) -> None:  # noqa: ARG002
        """Leave the room."""
        self.room.tell(Leave(self.actor_urn))


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the relay until interrupted."""
    args = parse_server_args("Relay every frame to every client.", argv, default_port=DEFAULT_PORT)
    room = Room.start()
    try:
        serve(RelaySession, WIRE, args, session_args=(room,))
    finally:
        room.stop()


if __name__ == "__main__":
    main()
