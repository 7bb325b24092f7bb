"""Client side: `connect_tcp()` opens a connection served by the same three actors."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any, TypeVar

from actornet._connection import open_connection
from actornet._limits import Limits
from actornet._runtime._worker import blocking

if TYPE_CHECKING:
    from pykka import ActorRef

    from actornet._session import Session
    from protocols import WireProtocol

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "connect_tcp"]

#: Seconds to wait for a TCP handshake before giving up.
DEFAULT_CONNECT_TIMEOUT = 10.0

SessionT = TypeVar("SessionT", bound="Session[Any]")


def connect_tcp(  # noqa: PLR0913 - every argument is a documented knob
    session_class: type[SessionT],
    wire: WireProtocol[Any],
    host: str,
    port: int,
    *,
    limits: Limits | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    session_args: tuple[Any, ...] = (),
    session_kwargs: dict[str, Any] | None = None,
) -> ActorRef[SessionT]:
    """Connect to host:port and serve the connection with a new `session_class` actor.

    The connection gets a reader, a writer and a session, exactly as on a
    server; `on_connect()` runs once it is open. Connecting blocks the caller
    (declared as blocking when called from an actor).

    Returns:
        A ref to the session.

    Raises:
        OSError: if the connection cannot be made (refused, unreachable, timed
            out), so a caller can retry.
    """
    with blocking():
        sock = socket.create_connection((host, port), timeout=timeout)
    connection = open_connection(
        sock,
        session_class,
        wire,
        limits or Limits(),
        session_args=session_args,
        session_kwargs=session_kwargs,
    )
    ref: ActorRef[SessionT] = connection.session_ref
    return ref
