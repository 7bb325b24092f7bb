"""WebSocket echo server on the `websockets` library: the baseline of bench.wsecho.

Run: python -m bench.peers.websockets_echo --port N [--host H]

`websockets.asyncio.server.serve` on the default asyncio event loop (no
uvloop), the way its documentation writes an echo server: `async for message
in websocket: await websocket.send(message)`, so text comes back as text and
binary as binary. Any path, no subprotocol. permessage-deflate is off
(`compression=None`) so that no server in the comparison compresses; the other
settings are the library's defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from websockets.asyncio.server import ServerConnection, serve


async def _echo(websocket: ServerConnection) -> None:
    async for message in websocket:
        await websocket.send(message)


async def _serve(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(_echo, host, port, compression=None, backlog=4096):
        print(f"listening on {host}:{port} (websockets, asyncio event loop)", flush=True)
        await stop


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="websockets echo server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
