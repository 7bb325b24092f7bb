"""The seam between a connection's actors and what it speaks: two halves, one owner each.

A connection's protocol comes in two halves, in the h11/wsproto shape:

- a `Receiver`, owned by the reader: bytes in (`receive_data`), events out (`events`), plus the
  bytes the protocol itself owes the peer (`data_to_send`: a handshake response, a pong, the
  echo of a close), and "I am done" (`finished`);
- a `Sender`, owned by the session: events in (`send`), bytes out, plus the bytes that end the
  conversation from this side (`close`).

Each half is touched by one actor only, so no protocol object is shared between threads. State
the halves must agree on (the compression a handshake negotiated, say) crosses once, as a
message: a receiver whose protocol opens with a handshake makes the sender itself when the
handshake succeeds and hands it over in an `Opened`, which the reader tells the session.

`Wire` (a framing plus a codec) is the easy case: its `Decoder` never owes the peer bytes, never
finishes before EOF and needs no handshake, so `Wire.encoder()` makes the sender at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["Opened", "Receiver", "Sender", "WireProtocol"]

E = TypeVar("E")
E_contra = TypeVar("E_contra", contravariant=True)


class Sender(Protocol[E_contra]):
    """The sending half of one connection's protocol, owned by its session."""

    def send(self, event: E_contra) -> bytes:
        """Turn one event into the bytes that carry it.

        Raises:
            LocalProtocolError: The event cannot be sent (a bug in the caller).
        """
        ...

    def close(self, code: int, reason: str) -> bytes:
        """Return the bytes that end the conversation from this side, or b"" if it has none.

        Called once, when this side closes (the peer closing, or breaking the protocol, is
        answered by the receiver); nothing is sent after them.

        Args:
            code: Why, as an RFC 6455 close code: 1000 normal, 1001 going away, 1011 failure.
            reason: A few words for the peer; protocols without a place for them ignore them.
        """
        ...

    @property
    def awaits_peer_close(self) -> bool:
        """Whether, after `close()`, the peer answers in kind before the connection may close.

        True for a WebSocket closing handshake: the writer then keeps the socket open until the
        reader has seen the peer's answer (or EOF), bounded by `Limits.close_timeout`.
        """
        ...


class Receiver(Protocol[E]):
    """The receiving half of one connection's protocol, owned by its reader."""

    def receive_data(self, data: bytes) -> None:
        """Add bytes received from the peer; `b""` means the peer closed its side.

        Never raises for bad peer data: the error is kept for `events()`.
        """
        ...

    def events(self) -> list[E]:
        """Take every event decoded so far, in order; an empty list means more data is needed.

        Raises:
            RemoteProtocolError: The peer broke the protocol; raised after the events before it.
        """
        ...

    def data_to_send(self) -> bytes:
        """Take the bytes the protocol itself owes the peer now, or b"" if none.

        A handshake response, a pong, the answer to the peer's close, or the close that reports
        the peer's error. Once `finished` is true or `events()` has raised, these are the last
        bytes the connection sends.
        """
        ...

    def opened(self) -> Opened[E] | None:
        """Take the sending half made by a successful handshake, once; None otherwise."""
        ...

    @property
    def finished(self) -> bool:
        """Whether the peer ended the conversation inside the protocol (no events follow)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened(Generic[E]):
    """A handshake succeeded: the session takes over `sender`.

    Attributes:
        sender: The sending half, configured as the handshake agreed.
        details: What the handshake established (for WebSocket: the path, the subprotocol, the
            extensions), for the session to read as `conn_handshake`.
    """

    sender: Sender[E]
    details: object


class WireProtocol(Protocol[E]):
    """What a connection speaks: makes each connection's halves, and encodes broadcasts.

    Shared by every connection and holding no per-connection state; `Wire` is one.
    """

    def decoder(self) -> Receiver[E]:
        """Create the receiving half for one connection's reader."""
        ...

    def encoder(self) -> Sender[E] | None:
        """Create the sending half for one connection's session.

        Returns:
            The sender, or None when the protocol opens with a handshake: the receiver then
            hands the sender over in an `Opened` once the handshake succeeds.
        """
        ...

    def encode(self, event: E) -> bytes:
        """Encode one event into bytes any connection of this protocol may send, unchanged.

        For a broadcast: encoded once, the same bytes go to every member. The result must not
        depend on per-connection state (for WebSocket: an uncompressed, unmasked frame).

        Raises:
            LocalProtocolError: The event cannot be encoded.
        """
        ...
