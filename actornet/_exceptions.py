"""Connection errors raised to users of a session or a client."""

from __future__ import annotations

__all__ = ["BrokenConnectionError", "ClosedConnectionError"]


class ClosedConnectionError(Exception):
    """This side already closed the connection; nothing more can be sent on it."""


class BrokenConnectionError(Exception):
    """The peer or the network broke the connection; `__cause__` is the OSError."""
