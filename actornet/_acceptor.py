"""Acceptor: the actor that accepts connections on a listening socket."""

from __future__ import annotations

import errno
import logging
import time
from typing import TYPE_CHECKING, Any

from actornet._connection import format_peer, open_connection
from actornet._messages import READABLE, Readable
from actornet._runtime._actor import Actor, default_dispatcher
from actornet._tls import TlsChannel

if TYPE_CHECKING:
    import socket

    from actornet._runtime._poller import Registration
    from actornet._server import Server

__all__ = ["Acceptor"]

logger = logging.getLogger("actornet.server")

# Accepts per turn before other actors run; new connections are cheap to take
# but each starts three actors.
_MAX_ACCEPTS_PER_TURN = 64

# Out of descriptors or memory: wait this long before accepting again, rather
# than spinning on an error the next accept() would repeat.
_ACCEPT_RETRY_DELAY = 0.1

_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

# Seconds between log lines about refused connections, so a flood cannot flood the log.
_REFUSAL_LOG_INTERVAL = 1.0


class Acceptor(Actor):
    """Actor that accepts connections and starts a reader, writer and session for each."""

    def __init__(self, server: Server[Any], listener: socket.socket) -> None:
        super().__init__()
        self._server = server
        self._listener = listener
        self._registration: Registration | None = None
        self._refused = 0
        self._refusal_logged_at: float | None = None  # the first refusal is always logged

    def on_start(self) -> None:
        """Watch the listening socket."""
        self._registration = default_dispatcher().poller.register(
            self._listener.fileno(), self.actor_ref, on_readable=READABLE
        )

    def on_stop(self) -> None:
        """Stop watching and close the listening socket."""
        if self._registration is not None:
            self._registration.close()
        self._listener.close()

    def on_receive(self, message: Any) -> None:
        """Accept what is waiting when the listening socket is readable."""
        if not isinstance(message, Readable):
            logger.warning("%s ignored an unexpected message: %r", self, message)
            return
        if self._registration is not None:
            self._registration.arm_readable()
        self._accept_waiting()

    def _accept_waiting(self) -> None:
        server = self._server
        for _ in range(_MAX_ACCEPTS_PER_TURN):
            try:
                sock, peer = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRORS:
                    logger.error(  # noqa: TRY400 - the traceback says nothing more
                        "accept failed (%s); retrying in %.1f s", exc, _ACCEPT_RETRY_DELAY
                    )
                    default_dispatcher().poller.tell_later(
                        _ACCEPT_RETRY_DELAY, self.actor_ref, READABLE
                    )
                    return
                continue  # ECONNABORTED and friends: that client gave up
            if server.connection_count() >= server.limits.max_connections:
                # Count and log first: once the peer sees the close, both are done.
                server._connection_refused()
                self._log_refusal(peer)
                sock.close()
                continue
            try:
                open_connection(
                    sock,
                    server.session_class,
                    server.wire,
                    server.limits,
                    session_args=server.session_args,
                    session_kwargs=server.session_kwargs,
                    on_opened=server._connection_opened,
                    on_closed=server._connection_closed,
                    tls=None if server.ssl is None else TlsChannel(server.ssl, server_side=True),
                    peer=peer,
                )
            except Exception:
                logger.exception("could not start a connection for %s", format_peer(peer))
        self.actor_ref.tell(READABLE)  # more may wait; let others run first

    def _log_refusal(self, peer: Any) -> None:
        self._refused += 1
        now = time.monotonic()
        last = self._refusal_logged_at
        if last is None or now - last >= _REFUSAL_LOG_INTERVAL:
            logger.warning(
                "refused %d connection(s), latest from %s: Limits.max_connections=%d reached",
                self._refused,
                format_peer(peer),
                self._server.limits.max_connections,
            )
            self._refused = 0
            self._refusal_logged_at = now
