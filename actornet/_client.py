"""Client side: `connect_tcp()` and `connect_ws()` open connections served by three actors."""

from __future__ import annotations

import socket
import urllib.parse
from ssl import create_default_context
from typing import TYPE_CHECKING, Any, TypeVar

from actornet._connection import open_connection
from actornet._limits import Limits
from actornet._runtime._worker import blocking
from actornet._tls import TlsChannel
from protocols import websocket

if TYPE_CHECKING:
    from collections.abc import Sequence
    from ssl import SSLContext

    from pykka import ActorRef

    from actornet._session import Session
    from protocols import Codec, WireProtocol

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "connect_tcp", "connect_ws"]

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
    ssl: SSLContext | None = None,
    server_hostname: str | None = None,
) -> ActorRef[SessionT]:
    """Connect to host:port and serve the connection with a new `session_class` actor.

    The connection gets a reader, a writer and a session, exactly as on a
    server; `on_connect()` runs once it is open. Connecting blocks the caller
    (declared as blocking when called from an actor).

    With `ssl` (a client context: `ssl.create_default_context()` verifies the
    server's certificate against the system's CAs and its name against
    `server_hostname`, `host` by default), the connection speaks TLS and
    the handshake completes before this returns (within `timeout` per read),
    so `on_connect()` can read `conn_tls`. A failed handshake (a bad or expired
    certificate, a wrong name) raises `ssl.SSLError`, an `OSError`, as a refused
    connection does.

    Returns:
        A ref to the session.

    Raises:
        OSError: if the connection cannot be made (refused, unreachable, timed
            out), so a caller can retry.
    """
    tls = None
    with blocking():
        sock = socket.create_connection((host, port), timeout=timeout)
        if ssl is not None:
            tls = TlsChannel(ssl, server_side=False, server_hostname=server_hostname or host)
            try:
                tls.handshake_on(sock)
            except BaseException:
                sock.close()
                raise
    connection = open_connection(
        sock,
        session_class,
        wire,
        limits or Limits(),
        session_args=session_args,
        session_kwargs=session_kwargs,
        tls=tls,
    )
    ref: ActorRef[SessionT] = connection.session_ref
    return ref


def connect_ws(  # noqa: PLR0913 - every argument is a documented knob
    session_class: type[SessionT],
    url: str,
    *,
    codec: Codec[Any] | None = None,
    subprotocols: Sequence[str] = (),
    origin: str | None = None,
    compression: bool | websocket.PerMessageDeflate = True,
    max_message_size: int = websocket.DEFAULT_MAX_MESSAGE_SIZE,
    limits: Limits | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    session_args: tuple[Any, ...] = (),
    session_kwargs: dict[str, Any] | None = None,
    ssl: SSLContext | None = None,
) -> ActorRef[SessionT]:
    """Open a WebSocket to `url` and serve it with a new `session_class` actor.

    The TCP connection is made here (blocking, as in `connect_tcp()`); the
    upgrade runs on the connection's reader, and `on_connect()` runs once the
    server accepted it, with `conn_handshake` telling the subprotocol and
    extensions chosen. A refused upgrade ends the connection as
    `PROTOCOL_ERROR` without any hook running; it must complete within
    `Limits.handshake_timeout`.

    Args:
        session_class: The session started for the connection.
        url: `ws://host[:port]/path[?query]` (the port defaults to 80), or `wss://...`
            over TLS (443), checked against `ssl` or, by default, the system's CAs.
        codec: How binary messages become the session's events; None for
            `str` (text) and `bytes` (binary) messages as they come.
        subprotocols: Subprotocols offered, in order of preference.
        origin: The `Origin` header to send, or None for none.
        compression: Offer permessage-deflate (the default settings), not at
            all (False), or with these settings.
        max_message_size: Largest message accepted from the server, in bytes.
        limits: The connection's bounds; `Limits()` by default.
        timeout: Seconds to wait for the TCP handshake.
        session_args: Positional arguments for the session's constructor.
        session_kwargs: Keyword arguments for the session's constructor.
        ssl: The client TLS context for a `wss://` URL; None takes
            `ssl.create_default_context()`.

    Returns:
        A ref to the session.

    Raises:
        ValueError: The URL is not a `ws://` or `wss://` URL.
        OSError: The TCP connection (or, for `wss://`, the TLS handshake: `ssl.SSLError`)
            cannot be made.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(
            f"cannot connect to {url!r}: give a ws://host[:port]/path or wss://... URL"
        )
    secure = parts.scheme == "wss"
    standard = 443 if secure else 80
    port = parts.port or standard
    default_port = port == standard
    host_header = parts.hostname if default_port else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # an IPv6 literal goes in brackets
        host_header = f"[{parts.hostname}]" + ("" if default_port else f":{port}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    wire = websocket.WebSocketClient(
        codec,
        host=host_header,
        path=target,
        origin=origin,
        subprotocols=subprotocols,
        compression=compression,
        max_message_size=max_message_size,
    )
    if secure and ssl is None:
        ssl = create_default_context()
    return connect_tcp(
        session_class,
        wire,
        parts.hostname,
        port,
        limits=limits,
        timeout=timeout,
        session_args=session_args,
        session_kwargs=session_kwargs,
        ssl=ssl if secure else None,
    )
