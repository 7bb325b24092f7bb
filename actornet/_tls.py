"""TLS for one connection: an `ssl.SSLObject` over two memory BIOs, between socket and protocol.

The socket stays non-blocking and owned by the reader and the writer, as for
plain TCP. The reader feeds what it reads to `TlsChannel.receive()` and hands
the plaintext to the protocol; the writer passes what it would send through
`TlsChannel.encrypt()`. Both halves use one OpenSSL object, which must not be
used by two threads at once (CPython releases the GIL inside it), so every
call takes the channel's lock; each holds it for one buffer's worth of work.

What TLS sends on its own (the handshake, alerts, session tickets, the answer
to the peer's close_notify) lands in the outgoing BIO whichever half caused
it; the writer sends it with the next frames, and the reader wakes the writer
when it left some there. Plaintext the session sends before the handshake
completes waits in the channel and goes out after it. A server's handshake
starts with the ClientHello it reads; a client's runs to completion on the
blocking socket before the actors start (`handshake_on`).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

__all__ = ["TlsChannel", "TlsInfo", "remember_server_name"]

#: Plaintext read from the TLS object at once.
_READ_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """What a completed TLS handshake established, as a session reads it (`conn_tls`).

    Attributes:
        version: The protocol version, such as "TLSv1.3".
        cipher: The cipher suite's name.
        alpn_protocol: The protocol ALPN selected, or None.
        server_name: On a server, the name the client asked for (SNI); on a client, the name
            the certificate was checked against. None if there was none.
        peer_certificate: The peer's certificate as `SSLSocket.getpeercert()` gives it, when
            one was asked for and verified; None otherwise.
    """

    version: str | None
    cipher: str | None
    alpn_protocol: str | None
    server_name: str | None
    peer_certificate: dict[str, Any] | None


class TlsChannel:
    """The TLS state of one connection, shared by its reader and writer."""

    __slots__ = (
        "_eof",
        "_incoming",
        "_lock",
        "_object",
        "_outgoing",
        "_pending",
        "closed_by_peer",
        "info",
    )

    def __init__(
        self, context: ssl.SSLContext, *, server_side: bool, server_hostname: str | None = None
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._object = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
        )
        self._lock = threading.Lock()
        #: Plaintext sent before the handshake completed.
        self._pending: list[bytes] = []
        #: What the handshake established; None until it completes.
        self.info: TlsInfo | None = None
        #: Whether the peer sent close_notify.
        self.closed_by_peer = False
        self._eof = False

    @property
    def established(self) -> bool:
        """Whether the handshake has completed."""
        return self.info is not None

    def handshake_on(self, sock: socket.socket) -> None:
        """Complete the handshake on a blocking socket (a client, before its actors start).

        Raises:
            ssl.SSLError: The handshake failed (the certificate, the name, the versions).
            OSError: The socket failed or timed out (its timeout applies to each read).
        """
        with self._lock:
            while not self._handshake():
                if self._outgoing.pending:
                    sock.sendall(self._outgoing.read())
                data = sock.recv(_READ_SIZE)
                if not data:
                    raise ssl.SSLEOFError(
                        ssl.SSL_ERROR_EOF, "the server closed during the handshake"
                    )
                self._incoming.write(data)
            if self._outgoing.pending:
                sock.sendall(self._outgoing.read())

    def receive(self, data: bytes) -> bytes:
        """Take bytes read from the socket (b"" at its end); return the plaintext they complete.

        A stream that ends without close_notify after the handshake ends quietly,
        as most clients end it; the protocol then sees the end of its input.

        Raises:
            ssl.SSLError: The peer broke TLS, or the handshake failed (a bad certificate, no
                shared cipher, plain text on a TLS port). Nothing more can be read.
        """
        with self._lock:
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()
                self._eof = True
            if self.info is None and not self._handshake():
                return b""
            return self._read()

    def has_output(self) -> bool:
        """Whether TLS itself has bytes waiting to be sent, or held plaintext can now go."""
        return bool(self._outgoing.pending or (self._pending and self.info is not None))

    def encrypt(self, frames: list[bytes]) -> bytes:
        """Return what to send for `frames`: TLS records, after anything TLS owes the peer.

        Before the handshake completes the plaintext is held and only TLS's own
        bytes are returned; it goes out with the first call after.
        """
        # b"" frames only wake the writer for what TLS itself has to send.
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        with self._lock:
            if self.info is None:
                if data:
                    self._pending.append(data)
            else:
                self._write_pending()
                if data:
                    self._object.write(data)
            return self._outgoing.read()

    def close(self) -> bytes:
        """Return the close_notify (after any held records) to send before closing the socket.

        Returns b"" if the handshake never completed: there is nobody to tell.
        """
        with self._lock:
            if self.info is None:
                return b""
            self._write_pending()
            # The alert is written either way; the peer's answer is not awaited.
            with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLError):
                self._object.unwrap()
            return self._outgoing.read()

    def _write_pending(self) -> None:
        """Encrypt the held plaintext into the outgoing BIO (lock held, handshake done)."""
        if self._pending:
            self._object.write(b"".join(self._pending))
            self._pending.clear()

    def _handshake(self) -> bool:
        """Advance the handshake; return whether it completed (the lock is held)."""
        try:
            self._object.do_handshake()
        except ssl.SSLWantReadError:
            return False
        obj = self._object
        cipher = obj.cipher()
        self.info = TlsInfo(
            version=obj.version(),
            cipher=cipher[0] if cipher else None,
            alpn_protocol=obj.selected_alpn_protocol(),
            server_name=getattr(obj, "actornet_server_name", None) or obj.server_hostname,
            peer_certificate=obj.getpeercert() or None,
        )
        return True

    def _read(self) -> bytes:
        """Read all the plaintext the incoming records hold (the lock is held)."""
        obj, incoming = self._object, self._incoming
        chunks: list[bytes] = []
        while True:
            try:
                chunk = obj.read(_READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.closed_by_peer = True
                break
            except ssl.SSLEOFError:
                if not self._eof:
                    raise
                break  # the stream ended without close_notify, as many clients end it
            if not chunk:  # what read() returns once close_notify came
                self.closed_by_peer = True
                break
            chunks.append(chunk)
            if not incoming.pending and (len(chunk) < _READ_SIZE or not obj.pending()):
                # Every record in is read: OpenSSL takes from the BIO only what the
                # record it reads needs, and a read shorter than the buffer took all
                # of its record. Another read would only raise SSLWantReadError, which
                # costs more than the record took. (SSLObject.pending(), like every
                # call into OpenSSL, lets go of the GIL: another thread that wants it
                # takes it then, so the calls it saves are context switches.)
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def remember_server_name(context: ssl.SSLContext) -> None:
    """Make a server context record the SNI name each client asks for, for `TlsInfo`.

    A callback the context already has still runs, after the name is recorded.
    """
    previous = context.sni_callback
    if getattr(previous, "_actornet_records_sni", False):
        return

    def record(obj: Any, server_name: Any, ctx: ssl.SSLContext) -> int | None:
        obj.actornet_server_name = server_name  # None when the client sent no SNI
        return previous(obj, server_name, ctx) if previous is not None else None

    record._actornet_records_sni = True  # type: ignore[attr-defined]
    context.sni_callback = record
