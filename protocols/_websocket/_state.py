"""The states of one WebSocket connection's receiving half, and every transition between them.

Rule 1: every state change happens in `_receiver.py`, by `transition()` of this table; nothing
else assigns a state. A trigger the table has no entry for is a bug (`LocalProtocolError`).

```
CONNECTING --HANDSHAKE_DONE--> OPEN --CLOSE_RECEIVED--> CLOSED   (finished)
CONNECTING --HTTP_DONE-------> CLOSED                           (finished: h11 must close)
CONNECTING/OPEN --PROTOCOL_ERROR--> FAILED                      (events() raises)
CONNECTING/OPEN --EOF-----------> ENDED                         (TCP closed, no Close frame)
```

The sending half has no state beyond "closed" (`WebSocketSender`): what this side sends does not
depend on what the peer said, except through the handshake, which reaches it inside `Opened`.
"""

from __future__ import annotations

import enum
from typing import Final

from protocols._errors import LocalProtocolError

__all__ = ["TRANSITIONS", "ConnectionState", "Trigger", "transition"]


class ConnectionState(enum.Enum):
    """Where one connection's receiving half is."""

    #: The opening handshake (HTTP requests, or waiting for the 101) is under way.
    CONNECTING = "CONNECTING"
    #: The handshake succeeded: frames flow both ways.
    OPEN = "OPEN"
    #: The peer's Close frame arrived and was answered, or the HTTP connection ended: finished.
    CLOSED = "CLOSED"
    #: The peer broke the protocol; its error is kept for `events()`, its Close frame was sent.
    FAILED = "FAILED"
    #: The peer closed TCP (EOF) between frames, without a Close frame.
    ENDED = "ENDED"


class Trigger(enum.Enum):
    """What moves the receiving half from one state to the next."""

    #: The upgrade succeeded (101 sent or accepted).
    HANDSHAKE_DONE = "HANDSHAKE_DONE"
    #: An HTTP-only connection answered its last request (h11's MUST_CLOSE).
    HTTP_DONE = "HTTP_DONE"
    #: The peer's Close frame arrived.
    CLOSE_RECEIVED = "CLOSE_RECEIVED"
    #: The peer's bytes broke HTTP, RFC 6455 or RFC 7692 (or it closed TCP inside a frame).
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    #: The peer closed TCP between frames.
    EOF = "EOF"


_S = ConnectionState
_T = Trigger

TRANSITIONS: Final[dict[ConnectionState, dict[Trigger, ConnectionState]]] = {
    _S.CONNECTING: {
        _T.HANDSHAKE_DONE: _S.OPEN,
        _T.HTTP_DONE: _S.CLOSED,
        _T.PROTOCOL_ERROR: _S.FAILED,
        _T.EOF: _S.ENDED,
    },
    _S.OPEN: {
        _T.CLOSE_RECEIVED: _S.CLOSED,
        _T.PROTOCOL_ERROR: _S.FAILED,
        _T.EOF: _S.ENDED,
    },
    _S.CLOSED: {},
    _S.FAILED: {},
    _S.ENDED: {},
}
"""For each state, the state each trigger leads to; a missing entry is a bug."""


def transition(state: ConnectionState, trigger: Trigger) -> ConnectionState:
    """Return the state `trigger` leads to from `state`.

    Raises:
        LocalProtocolError: The table has no such transition (a bug in the receiver).
    """
    try:
        return TRANSITIONS[state][trigger]
    except KeyError:
        raise LocalProtocolError(f"can't handle {trigger.name} in state {state.name}") from None
