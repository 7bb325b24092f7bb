"""asyncio-streams servers (a task per connection) speaking 4-byte length + payload.

Run: python -m bench.peers.asyncio_streams echo|relay --port N [--host H]
                                         [--tls-cert FILE --tls-key FILE]

The baseline actornet's benchmarks compare against: the way most asyncio
servers are written, `readexactly()` per header and per payload.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import struct

_HEADER = struct.Struct(">I")
MAX_FRAME_SIZE = 1024 * 1024


async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        header = await reader.readexactly(4)
        (size,) = _HEADER.unpack(header)
        if size > MAX_FRAME_SIZE:
            return None
        return await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (payload := await _read_frame(reader)) is not None:
        writer.write(_HEADER.pack(len(payload)) + payload)
        await writer.drain()
    writer.close()


class _Relay:
    def __init__(self) -> None:
        self.members: set[asyncio.StreamWriter] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.members.add(writer)
        try:
            while (payload := await _read_frame(reader)) is not None:
                frame = _HEADER.pack(len(payload)) + payload
                for member in self.members:
                    member.write(frame)
                await writer.drain()
        finally:
            self.members.discard(writer)
            writer.close()


async def _serve(kind: str, host: str, port: int, context: ssl.SSLContext | None) -> None:
    handler = _echo if kind == "echo" else _Relay().handle
    server = await asyncio.start_server(handler, host, port, backlog=4096, ssl=context)
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description="asyncio-streams echo or relay server")
    parser.add_argument("kind", choices=["echo", "relay"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this PEM chain")
    parser.add_argument("--tls-key", metavar="FILE", help="the PEM key of --tls-cert")
    args = parser.parse_args()
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kind, args.host, args.port, context))


if __name__ == "__main__":
    main()
