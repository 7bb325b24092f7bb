"""An asyncio-streams IRC relay, the baseline for bench/irc.py.

Run: python -m bench.peers.asyncio_irc --port N [--host H] [--buffered]

With --buffered, what the relay writes to a client during one turn of the event
loop is collected and written with one `write()` when the turn ends
(`call_soon`): the batching a fan-out server needs, since one `write()` per
member per line is one system call each. Without it, every line is written as
it is made, as most asyncio code does.

Written the way most asyncio servers are: a task per connection, `readline()`
per line, `str.split` for the parameters, a `drain()` after each line. It
implements what the IRC benchmark exercises and little more:

* `NICK` + `USER` register (a nick in use gets 433) and are answered with 001;
  `CAP LS` gets an empty list and holds registration until `CAP END`;
* `JOIN #a[,#b]` adds the client to each channel, sends the `JOIN` to every
  member (the joiner included) and 353 + 366 to the joiner;
* `PRIVMSG #chan :text` is built once and written to every other member (a
  sender does not get its own line back); `PRIVMSG nick :text` goes to that nick;
* `PING` is answered with `PONG`; `PONG` is accepted; `QUIT` closes the
  connection and its channels' members get a `QUIT`;
* anything else gets 451 before registration and 421 after it.

Nicks and channels are compared case-insensitively (ASCII); they are not
otherwise validated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

SERVER_NAME = "asyncio-irc"
#: Longest line read (RFC 1459 allows 512 bytes; tags and slack on top).
MAX_LINE = 8192


class _Client:
    __slots__ = ("cap", "channels", "nick", "out", "relay", "user", "writer")

    def __init__(self, writer: asyncio.StreamWriter, relay: IrcRelay) -> None:
        self.writer = writer
        self.relay = relay
        self.out: list[bytes] = []  # --buffered: lines waiting for the end of the loop's turn
        self.nick: str | None = None  # set by NICK
        self.user: str | None = None  # set by USER
        self.cap = False  # CAP LS seen and no CAP END yet
        self.channels: set[str] = set()  # keys into IrcRelay.channels

    def write(self, data: bytes) -> None:
        """Send `data`: at once, or (--buffered) with the rest of this turn's lines."""
        if not self.relay.buffered:
            self.writer.write(data)
            return
        if not self.out:
            self.relay.pending.append(self)
            if len(self.relay.pending) == 1:
                asyncio.get_running_loop().call_soon(self.relay.flush)
        self.out.append(data)

    @property
    def registered(self) -> bool:
        return self.nick is not None and self.user is not None and not self.cap

    def source(self) -> str:
        return f"{self.nick}!{self.user}@{SERVER_NAME}"

    def numeric(self, code: str, *params: str) -> None:
        middle = " ".join((self.nick or "*", *params[:-1]))
        self.write(f":{SERVER_NAME} {code} {middle} :{params[-1]}\r\n".encode())


def _parse(line: str) -> tuple[str, list[str]]:
    """Split an IRC line (no CRLF) into its command and parameters; drop any prefix."""
    if line.startswith(":"):
        line = line.partition(" ")[2]
    head, colon, trailing = line.partition(" :")
    params = head.split()
    if not params:
        return "", []
    command = params.pop(0).upper()
    if colon:
        params.append(trailing)
    return command, params


class IrcRelay:
    """Every nick and channel; one `handle` task per connection."""

    def __init__(self, *, buffered: bool = False) -> None:
        self.buffered = buffered
        #: --buffered: clients with lines in `out`, flushed once the loop's turn ends.
        self.pending: list[_Client] = []
        self.nicks: dict[str, _Client] = {}
        self.channels: dict[str, dict[_Client, None]] = {}  # key -> members, in join order
        self.names: dict[str, str] = {}  # key -> the channel's name as its creator wrote it

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer, self)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                command, params = _parse(line.decode("utf-8", "replace").rstrip("\r\n"))
                if command and not self.command(client, command, params):
                    break
                await writer.drain()
        except (ValueError, ConnectionError):  # ValueError: a line over MAX_LINE
            pass
        finally:
            self.leave_all(client, "Connection closed")
            writer.close()

    def command(self, client: _Client, command: str, params: list[str]) -> bool:
        """Handle one line; return False to disconnect."""
        if command == "PRIVMSG" and client.registered:
            if len(params) < 2:
                client.numeric("411", "No recipient given (PRIVMSG)")
            else:
                self.privmsg(client, params[0], params[1])
            return True
        if command == "PING":
            token = params[0] if params else SERVER_NAME
            client.write(f":{SERVER_NAME} PONG {SERVER_NAME} :{token}\r\n".encode())
            return True
        if command == "PONG":
            return True
        if command == "QUIT":
            self.leave_all(client, f"Quit: {params[0]}" if params else "Quit")
            return False
        if command in ("NICK", "USER", "CAP"):
            self.register(client, command, params)
        elif not client.registered:
            client.numeric("451", "You have not registered")
        elif command == "JOIN":
            for name in params[0].split(",") if params else ():
                self.join(client, name)
        else:
            client.numeric("421", command, "Unknown command")
        return True

    def register(self, client: _Client, command: str, params: list[str]) -> None:
        was = client.registered
        if command == "CAP":
            sub = params[0].upper() if params else ""
            if sub == "LS":
                client.cap = not was
                client.write(f":{SERVER_NAME} CAP * LS :\r\n".encode())
            elif sub == "END":
                client.cap = False
        elif not params:
            client.numeric("461", command, "Not enough parameters")
            return
        elif was:
            client.numeric("462", "You may not reregister")
            return
        elif command == "USER":
            client.user = params[0]
        else:
            key = params[0].lower()
            if key in self.nicks:
                client.numeric("433", params[0], "Nickname is already in use")
                return
            if client.nick is not None:
                del self.nicks[client.nick.lower()]
            client.nick = params[0]
            self.nicks[key] = client
        if client.registered and not was:
            client.numeric("001", f"Welcome to the relay, {client.source()}")

    def join(self, client: _Client, name: str) -> None:
        key = name.lower()
        if not name.startswith("#"):
            client.numeric("403", name, "No such channel")
            return
        if key in client.channels:
            return
        members = self.channels.setdefault(key, {})
        name = self.names.setdefault(key, name)
        members[client] = None
        client.channels.add(key)
        line = f":{client.source()} JOIN {name}\r\n".encode()
        for member in members:
            member.write(line)
        client.numeric("353", "=", name, " ".join(member.nick or "" for member in members))
        client.numeric("366", name, "End of /NAMES list")

    def privmsg(self, client: _Client, target: str, text: str) -> None:
        key = target.lower()
        if not target.startswith("#"):
            to = self.nicks.get(key)
            if to is None:
                client.numeric("401", target, "No such nick/channel")
            else:
                to.write(f":{client.source()} PRIVMSG {to.nick} :{text}\r\n".encode())
            return
        members = self.channels.get(key)
        if members is None or client not in members:
            client.numeric("404", target, "Cannot send to channel")
            return
        line = f":{client.source()} PRIVMSG {self.names[key]} :{text}\r\n".encode()
        for member in members:
            if member is not client:
                member.write(line)

    def leave_all(self, client: _Client, reason: str) -> None:
        if client.nick is not None and self.nicks.get(client.nick.lower()) is client:
            del self.nicks[client.nick.lower()]
        line = f":{client.source()} QUIT :{reason}\r\n".encode()
        told: set[_Client] = set()
        for key in client.channels:
            members = self.channels[key]
            del members[client]
            if not members:
                del self.channels[key], self.names[key]
                continue
            for member in members:
                if member not in told:
                    told.add(member)
                    member.write(line)
        client.channels.clear()


    def flush(self) -> None:
        """--buffered: write each pending client's lines in one `write()`."""
        pending, self.pending = self.pending, []
        for client in pending:
            client.writer.write(b"".join(client.out))
            client.out.clear()


async def _serve(host: str, port: int, *, buffered: bool) -> None:
    relay = IrcRelay(buffered=buffered)
    server = await asyncio.start_server(relay.handle, host, port, backlog=4096, limit=MAX_LINE)
    print(f"asyncio IRC relay listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description="asyncio-streams IRC relay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--buffered",
        action="store_true",
        help="collect each client's lines and write them once per event-loop turn",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, buffered=args.buffered))


if __name__ == "__main__":
    main()
