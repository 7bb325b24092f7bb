"""Benchmarks for actornet; run one with `python -m bench.<name>`.

actors, poller and codec measure pieces in-process; echo, chat and wsecho run
servers as subprocesses against bench/loadgen.c (built with cc on first use);
soak runs the chat server for a set time. wsecho is the WebSocket one:
actornet's examples.wsecho beside websockets (the baseline), aiohttp and picows
(the ceiling), all on the plain asyncio event loop.
"""
