"""WebSocket echo server on picows (Cython): the ceiling of bench.wsecho.

Run: python -m bench.peers.picows_echo --port N [--host H] [--aiofastnet]

A `WSListener` that sends every data frame straight back with its own opcode
and FIN bit (so a message comes back as it came, fragments included), on any
path, no subprotocol; picows never compresses. Pings are answered by picows
itself; a close frame is answered with one and the connection is closed.

picows uses the aiofastnet transport when that package is installed, as it is
here; this server passes `use_aiofastnet=False` unless `--aiofastnet` is given,
so that it runs on the default asyncio event loop's own transports like every
other server of bench.wsecho (no uvloop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server


class _Echo(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT, WSMsgType.CONTINUATION):
            transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)


def _listener(_request: WSUpgradeRequest) -> WSListener:
    return _Echo()


async def _serve(host: str, port: int, aiofastnet: bool) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    server = await ws_create_server(
        _listener, host, port, use_aiofastnet=aiofastnet, backlog=4096
    )
    transport = "aiofastnet" if aiofastnet else "asyncio event loop"
    print(f"listening on {host}:{port} (picows, {transport})", flush=True)
    async with server:
        await stop


def main() -> None:
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="picows echo server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--aiofastnet", action="store_true",
                        help="use picows's default aiofastnet transport instead of asyncio's")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.aiofastnet))


if __name__ == "__main__":
    main()
