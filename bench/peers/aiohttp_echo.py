"""WebSocket echo server on aiohttp's web server.

Run: python -m bench.peers.aiohttp_echo --port N [--host H]

One route matching every path, answered by a `web.WebSocketResponse` with
`compress=False` (no permessage-deflate, as for every server of bench.wsecho)
that sends each text message back as text and each binary one as binary. The
default asyncio event loop (no uvloop); no access log; otherwise aiohttp's
defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import WSMsgType, web


async def _echo(request: web.Request) -> web.WebSocketResponse:
    websocket = web.WebSocketResponse(compress=False)
    await websocket.prepare(request)
    async for message in websocket:
        if message.type == WSMsgType.BINARY:
            await websocket.send_bytes(message.data)
        elif message.type == WSMsgType.TEXT:
            await websocket.send_str(message.data)
    return websocket


async def _serve(host: str, port: int) -> None:
    app = web.Application()
    app.router.add_get("/{path:.*}", _echo)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    try:
        await web.TCPSite(runner, host, port, backlog=4096).start()
        print(f"listening on {host}:{port} (aiohttp, asyncio event loop)", flush=True)
        await stop
    finally:
        await runner.cleanup()


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="aiohttp WebSocket echo server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
