"""A wss:// client for synchronous tests: `websockets`' asyncio client on a loop thread of its own.

Why not `websockets.sync.client`: it keeps a thread blocked in `recv()` on the
connection's `ssl.SSLSocket` while the test's thread sends on the same socket,
and an OpenSSL connection must not be entered by two threads at once. Over
TLS 1.3 the server's session tickets arrive just as the client writes its HTTP
upgrade, and about one connect in 300 then loses that request and times out
(measured against websockets' own asyncio server as well as ours). Over plain
ws:// the kernel serialises the two threads, so the sync client is fine there.
The asyncio client runs TLS in memory on one thread and has no such race.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, Self

from websockets.asyncio.client import ClientConnection, connect

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from types import TracebackType

    from websockets.typing import Data


class WssClient:
    """One WebSocket connection, opened on construction, with blocking send/recv/close."""

    def __init__(self, url: str, *, timeout: float, **options: Any) -> None:
        """Connect to `url` (`options` go to `websockets.asyncio.client.connect`)."""
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wss-client")
        self._thread.start()
        try:
            self._connection: ClientConnection = self._run(
                self._open(url, timeout, options), wait=timeout * 2
            )
        except BaseException:
            self._stop_loop()
            raise

    @staticmethod
    async def _open(url: str, open_timeout: float, options: dict[str, Any]) -> ClientConnection:
        return await connect(url, open_timeout=open_timeout, **options)

    def send(self, message: Data) -> None:
        """Send one message (str: a text frame, bytes: a binary one)."""
        self._run(self._connection.send(message), wait=self._timeout)

    def recv(self, timeout: float | None = None) -> Data:
        """Return the next message, or raise TimeoutError after `timeout` seconds."""
        wait = self._timeout if timeout is None else timeout
        message: Data = self._run(asyncio.wait_for(self._connection.recv(), wait), wait=wait * 2)
        return message

    def close(self) -> None:
        """Close the connection with a close frame and stop the loop thread."""
        try:
            self._run(self._connection.close(), wait=self._timeout * 2)
        finally:
            self._stop_loop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self, coroutine: Coroutine[Any, Any, Any], *, wait: float) -> Any:
        """Run `coroutine` on the loop thread; return its result within `wait` seconds."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(wait)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout)
        self._loop.close()
