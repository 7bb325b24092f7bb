"""asyncio Protocol servers speaking 4-byte length + payload: the ceiling peer.

Run: python -m bench.peers.asyncio_protocol echo|relay --port N [--host H]

Same framing, frame limit and command line as bench/peers/asyncio_streams.py,
written the way a careful asyncio server is: callbacks instead of a task per
connection, every complete frame of one `data_received` handled together and
answered with one write per connection. Reading pauses while the connection's
own send buffer is above asyncio's high-water mark, as `drain()` does for the
streams version.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import struct

_HEADER = struct.Struct(">I")
MAX_FRAME_SIZE = 1024 * 1024


class _FramedProtocol(asyncio.Protocol):
    """Splits the byte stream into frames; subclasses say what a batch of frames does."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._pending = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._pending:
            self._pending += data
            buffer: bytes | bytearray = self._pending
        else:
            buffer = data
        frames: list[bytes] = []
        offset, end = 0, len(buffer)
        while end - offset >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, offset)
            if size > MAX_FRAME_SIZE:
                self._close()
                return
            if end - offset - _HEADER.size < size:
                break
            start = offset + _HEADER.size
            frames.append(bytes(buffer[start : start + size]))
            offset = start + size
        if buffer is self._pending:
            del self._pending[:offset]
        elif offset < end:
            self._pending += memoryview(buffer)[offset:]
        if frames:
            self.frames_received(frames)

    def frames_received(self, payloads: list[bytes]) -> None:
        """Handle the payloads of every complete frame of one read, in order."""
        raise NotImplementedError

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _encode(payloads: list[bytes]) -> bytes:
    return b"".join(_HEADER.pack(len(payload)) + payload for payload in payloads)


class _Echo(_FramedProtocol):
    def frames_received(self, payloads: list[bytes]) -> None:
        assert self.transport is not None
        self.transport.write(_encode(payloads))


class _Room:
    def __init__(self) -> None:
        self.members: set[asyncio.Transport] = set()


class _Relay(_FramedProtocol):
    def __init__(self, room: _Room) -> None:
        super().__init__()
        self._room = room

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self._room.members.add(self.transport)

    def connection_lost(self, _exc: Exception | None) -> None:
        if self.transport is not None:
            self._room.members.discard(self.transport)

    def frames_received(self, payloads: list[bytes]) -> None:
        frames = _encode(payloads)
        for member in self._room.members:
            member.write(frames)


async def _serve(kind: str, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    room = _Room()
    factory = _Echo if kind == "echo" else lambda: _Relay(room)
    server = await loop.create_server(factory, host, port, backlog=4096)
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description="asyncio Protocol echo or relay server")
    parser.add_argument("kind", choices=["echo", "relay"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kind, args.host, args.port))


if __name__ == "__main__":
    main()
