"""The chat's IRC door against an independent client: the `irc` library (jaraco's `irc.client`).

The server is `python -m examples.chat serve` as a subprocess. The clients are
`irc.client.ServerConnection`s of one `irc.client.Reactor`, which registers them (NICK and
USER), answers the server's PINGs and turns each line into an event named by the library
(`welcome`, `pubmsg`, `namreply`, `nicknameinuse` ...): what is asserted is what that library
understood, not our own parser's reading. Waiting is `Reactor.process_once()` (a select() on
the sockets) in a loop bounded by a deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import irc.client  # type: ignore[import-untyped]
import pytest
from _processes import ChatServer
from _support import WAIT, track

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: The longest one process_once() call waits for a socket to be readable.
SELECT_TIMEOUT = 0.1

#: The source of the door's own messages, and of each user's (nick!nick@server).
SERVER = "actornet-chat"


def mask(nick: str) -> str:
    return f"{nick}!{nick}@{SERVER}"


@dataclass
class Record:
    """What one connection received: each raw line, and each event the library made of them."""

    lines: list[str] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    #: How many of `events` the test has looked past already.
    seen: int = 0


class Network:
    """One `irc.client.Reactor` with connections to the chat, each recording its events."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reactor = irc.client.Reactor()
        self.records: dict[int, Record] = {}
        self.reactor.add_global_handler("all_events", self._record, -100)

    def _record(self, connection: Any, event: Any) -> None:
        record = self.records.setdefault(id(connection), Record())
        if event.type == "all_raw_messages":
            record.lines.append(event.arguments[0])
        else:
            record.events.append(event)

    def connect(self, nick: str) -> Any:
        """Open a connection that registers as `nick`; return it (not waiting for 001)."""
        connection = self.reactor.server()
        self.records[id(connection)] = Record()
        connection.connect("127.0.0.1", self.port, nick, username=nick, ircname=f"{nick} (irc)")
        track(connection.socket)
        return connection

    def register(self, nick: str) -> Any:
        """Connect as `nick` and wait for the end of registration (422: no MOTD)."""
        connection = self.connect(nick)
        self.expect(connection, "nomotd")
        return connection

    def record(self, connection: Any) -> Record:
        return self.records[id(connection)]

    def expect(
        self, connection: Any, kind: str, test: Callable[[Any], bool] = lambda _: True
    ) -> Any:
        """Return the next event of type `kind` passing `test` that `connection` receives.

        Events after the last one returned are looked at in order; those that do not match
        are passed over. Fails after WAIT seconds.
        """
        record = self.record(connection)
        deadline = time.monotonic() + WAIT
        while True:
            while record.seen < len(record.events):
                event = record.events[record.seen]
                record.seen += 1
                if event.type == kind and test(event):
                    return event
            if time.monotonic() > deadline:
                recent = [str(e) for e in record.events[-8:]]
                raise AssertionError(f"no {kind} event within {WAIT} s; last events {recent}")
            self.reactor.process_once(SELECT_TIMEOUT)

    def passed(self, connection: Any, since: int) -> list[str]:
        """Return the types of the events `connection` got after the `since`-th."""
        return [event.type for event in self.record(connection).events[since:]]

    def mark(self, connection: Any) -> int:
        """Return how many events `connection` has had, for `passed()`."""
        return len(self.record(connection).events)

    def sync(self, connection: Any, token: str) -> None:
        """Wait for the PONG to a PING: every line the server sent before it has been read."""
        connection.ping(token)
        self.expect(connection, "pong", lambda e: e.arguments == [token])

    def close(self) -> None:
        self.reactor.disconnect_all("test over")


@pytest.fixture
def server() -> Iterator[ChatServer]:
    running = ChatServer()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def network(server: ChatServer) -> Iterator[Network]:
    opened = Network(server.irc_port)
    try:
        yield opened
    finally:
        opened.close()


def test_registration_as_the_library_reads_it(network: Network) -> None:
    ann = network.connect("libann")
    welcome = network.expect(ann, "welcome")
    assert (welcome.source, welcome.target) == (SERVER, "libann")
    assert welcome.arguments == ["Welcome to the chat, libann"]
    for kind in ("yourhost", "created", "myinfo", "featurelist", "nomotd"):
        network.expect(ann, kind)
    assert ann.get_nickname() == "libann"
    assert ann.get_server_name() == SERVER
    # The 005 line, parsed by the library's ISUPPORT reader.
    assert ann.features.chantypes == "#"
    assert ann.features.nicklen == 16
    assert ann.features.channellen == 32
    assert ann.features.casemapping == "ascii"
    assert ann.features.chanlimit == {"#": 30}
    # The raw lines, in order, as sent: numerics 001 to 005 then 422.
    codes = [line.split()[1] for line in network.record(ann).lines]
    assert codes[: codes.index("422") + 1] == ["001", "002", "003", "004", "005", "422"]
    assert network.record(ann).lines[0] == f":{SERVER} 001 libann :Welcome to the chat, libann"


def test_two_library_clients_see_each_others_joins_names_lines_topic_and_list(
    network: Network,
) -> None:
    ann = network.register("libann")
    bob = network.register("libbob")

    ann.join("#library")
    joined = network.expect(ann, "join")
    assert (joined.source, joined.target) == (mask("libann"), "#library")
    network.expect(ann, "notopic", lambda e: e.arguments[0] == "#library")
    names = network.expect(ann, "namreply")
    assert names.arguments[:2] == ["=", "#library"]
    assert names.arguments[2].split() == ["libann"]
    network.expect(ann, "endofnames", lambda e: e.arguments[0] == "#library")

    bob.join("#LIBRARY")  # another spelling: the room keeps its creator's
    joined = network.expect(ann, "join")
    assert (joined.source, joined.target) == (mask("libbob"), "#library")
    assert network.expect(bob, "join").target == "#library"
    names = network.expect(bob, "namreply")
    assert sorted(names.arguments[2].split()) == ["libann", "libbob"]
    network.expect(bob, "endofnames")

    # NAMES on demand, from someone who is not in the room, and for an empty room.
    carol = network.register("libcarol")
    carol.names(["#library"])
    names = network.expect(carol, "namreply")
    assert (names.target, names.arguments[1]) == ("libcarol", "#library")
    assert sorted(names.arguments[2].split()) == ["libann", "libbob"]
    network.expect(carol, "endofnames", lambda e: e.arguments[0] == "#library")
    mark = network.mark(carol)
    carol.names(["#nobody-here"])
    network.expect(carol, "endofnames", lambda e: e.arguments[0] == "#nobody-here")
    assert "namreply" not in network.passed(carol, mark)

    ann.privmsg("#library", "hello bob, from the irc library")
    said = network.expect(bob, "pubmsg")
    assert (said.source, said.target) == (mask("libann"), "#library")
    assert said.arguments == ["hello bob, from the irc library"]
    bob.privmsg("#library", "hi ann ☺")
    said = network.expect(ann, "pubmsg")
    assert (said.source.nick, said.arguments) == ("libbob", ["hi ann ☺"])
    bob.privmsg("libann", "a private word")
    whispered = network.expect(ann, "privmsg")
    assert (whispered.source.nick, whispered.target) == ("libbob", "libann")
    assert whispered.arguments == ["a private word"]
    # Neither got its own lines back (no echo-message): all that came is the other's.
    network.sync(ann, "after-lines")
    network.sync(bob, "after-lines")
    assert [e.arguments for e in network.record(ann).events if e.type == "pubmsg"] == [["hi ann ☺"]]
    assert [e.arguments for e in network.record(bob).events if e.type == "pubmsg"] == [
        ["hello bob, from the irc library"]
    ]

    # A topic change reaches every member, the setter too, as TOPIC from the setter.
    ann.topic("#library", "quiet, please")
    for member in (ann, bob):
        topic = network.expect(member, "topic")
        assert (topic.source, topic.target) == (mask("libann"), "#library")
        assert topic.arguments == ["quiet, please"]

    ann.list()
    rooms = network.expect(ann, "list", lambda e: e.arguments[0] == "#library")
    assert rooms.arguments == ["#library", "2", "quiet, please"]
    network.expect(ann, "listend")


def test_library_clients_see_each_others_nick_part_and_quit(network: Network) -> None:
    ann = network.register("libann")
    bob = network.register("libbob")
    ann.join("#library")
    network.expect(ann, "endofnames")
    bob.join("#library")
    network.expect(ann, "join", lambda e: e.source.nick == "libbob")
    network.expect(bob, "endofnames")
    ann.topic("#library", "quiet, please")
    network.expect(bob, "topic")

    bob.nick("libbobby")
    renamed = network.expect(ann, "nick")
    assert (renamed.source, renamed.target) == (mask("libbob"), "libbobby")
    network.expect(bob, "nick")
    assert bob.get_nickname() == "libbobby"

    # part() sends its message as it is, unlike privmsg() and quit(): the ":" is the caller's.
    bob.part("#library", ":off to read")
    parted = network.expect(ann, "part")
    assert (parted.source, parted.target, parted.arguments) == (
        mask("libbobby"),
        "#library",
        ["off to read"],
    )
    network.expect(bob, "part")
    mark = network.mark(bob)
    bob.join("#library")
    network.expect(ann, "join", lambda e: e.source.nick == "libbobby")
    network.expect(bob, "endofnames")
    # The topic is shown on joining, as 332 then 333 (who set it, when), before the names.
    shown = network.record(bob).events[mark:]
    assert [e.type for e in shown] == [
        "join", "currenttopic", "topicinfo", "namreply", "endofnames"
    ]  # fmt: skip
    assert shown[1].arguments == ["#library", "quiet, please"]
    assert shown[2].arguments[:2] == ["#library", "libann"]
    assert int(shown[2].arguments[2]) == pytest.approx(time.time(), abs=60)

    bob.quit("good night")
    quitted = network.expect(ann, "quit")
    assert (quitted.source, quitted.arguments) == (mask("libbobby"), ["good night"])
    network.expect(bob, "disconnect")


def test_refusals_are_the_numerics_the_library_names(network: Network) -> None:
    ann = network.register("libann")

    # 433: taken, in any case; the library reports it and the connection stays unregistered.
    taken = network.connect("LIBANN")
    refused = network.expect(taken, "nicknameinuse")
    assert refused.arguments[0] == "LIBANN"
    taken.nick("libann2")
    assert network.expect(taken, "welcome").target == "libann2"
    # ... and a rename onto a taken nick is refused the same way, the old nick kept.
    taken.nick("libann")
    assert network.expect(taken, "nicknameinuse").arguments[0] == "libann"
    network.sync(taken, "kept")
    assert taken.get_nickname() == "libann2"

    # 432: not a nick.
    bad = network.connect("9lives")
    assert network.expect(bad, "erroneusnickname").arguments[0] == "9lives"

    # 403: not a channel name (no #, a space-free name with a bad character, too long).
    for name in ("library", "#bad!name", "#" + "x" * 40):
        ann.join(name)
        refused = network.expect(ann, "nosuchchannel")
        assert refused.arguments[0] == name
    # 401: nobody of that nick.
    ann.privmsg("nobody", "hello?")
    assert network.expect(ann, "nosuchnick").arguments[0] == "nobody"
    # 404: a channel not joined; 442: parting one.
    ann.privmsg("#elsewhere", "hello?")
    assert network.expect(ann, "cannotsendtochan").arguments[0] == "#elsewhere"
    ann.part("#elsewhere")
    assert network.expect(ann, "notonchannel").arguments[0] == "#elsewhere"
    # 461: a command without its parameters; 421: a command the door does not know.
    ann.send_raw("TOPIC")
    assert network.expect(ann, "needmoreparams").arguments[0] == "TOPIC"
    ann.send_raw("KNOCK #library")
    assert network.expect(ann, "unknowncommand").arguments[0] == "KNOCK"
    # None of it cost the connection.
    network.sync(ann, "still-here")
    assert ann.is_connected()


def test_part_takes_a_list_of_channels(network: Network) -> None:
    ann = network.register("libann")
    ann.join("#one,#two")
    network.expect(ann, "endofnames", lambda e: e.arguments[0] == "#one")
    network.expect(ann, "endofnames", lambda e: e.arguments[0] == "#two")
    mark = network.mark(ann)
    ann.part(["#one", "#two"], ":both")
    network.sync(ann, "parted")
    events = network.record(ann).events[mark:]
    assert [(e.type, e.target) for e in events if e.type != "pong"] == [
        ("part", "#one"),
        ("part", "#two"),
    ]


def test_topic_with_a_channel_only_asks_for_the_topic(network: Network) -> None:
    ann = network.register("libann")
    ann.join("#asking")
    network.expect(ann, "endofnames")
    ann.topic("#asking")
    network.expect(ann, "notopic", lambda e: e.arguments[0] == "#asking")
    ann.topic("#asking", "what it is")
    network.expect(ann, "topic")
    mark = network.mark(ann)
    ann.topic("#asking")
    network.sync(ann, "asked")
    events = network.record(ann).events[mark:]
    assert [(e.type, e.arguments[:2]) for e in events if e.type != "pong"] == [
        ("currenttopic", ["#asking", "what it is"]),
        ("topicinfo", ["#asking", "libann"]),
    ]
