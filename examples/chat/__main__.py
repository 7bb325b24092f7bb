"""The example chat: `python -m examples.chat serve` or `python -m examples.chat client`.

Run `python -m examples.chat serve` in one terminal (it listens on
127.0.0.1:7070), then `python -m examples.chat client --nick alice` in another.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from examples.chat import client, server

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the subcommand and run it."""
    parser = argparse.ArgumentParser(prog="python -m examples.chat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    server.add_arguments(commands.add_parser("serve", help="run the chat server"))
    client.add_arguments(commands.add_parser("client", help="join a chat server"))
    args = parser.parse_args(argv)
    if args.command == "serve":
        server.main(args)
    else:
        client.main(args)


if __name__ == "__main__":
    main()
