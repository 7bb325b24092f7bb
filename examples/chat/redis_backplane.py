"""RedisBackplane: chat processes joined by one Redis server, so that their rooms are one chat.

What lives in Redis (every key starts with `prefix`, "chat:" by default):

=====================  ======  ==================================================
key                    type    holds
=====================  ======  ==================================================
``nick:<nick key>``    string  the process that owns the nick; expires (lease)
``room:<room key>``    —       the pub/sub channel of the room's events
``members:<room key>`` zset    "<nick> <process>" scored by lease expiry (ms)
``rooms``              zset    room keys scored by lease expiry (ms)
``info:<room key>``    hash    name, topic, set_by, topic_ms
``history:<room key>`` stream  the latest lines (n, t, ms), ``MAXLEN ~`` lines
=====================  ======  ==================================================

Each process refreshes the leases of what it holds every third of the lease,
so a process that dies (even by SIGKILL) frees its nicks within one lease, and
the first process to find a lapsed member of a room it holds announces its quit.
A room's keys expire two leases after the last process that held it stopped
refreshing them: an abandoned room goes, history and all, as in one process.

Delivery between processes is at most once: while Redis is away, a room's
lines reach only its members on the same process, nicks are granted if no
local user has them, and what was published then is gone. Nothing here waits
on Redis in an actor's turn: commands go through a bounded queue to one thread
that sends them in pipelines, and one more thread reads the subscriptions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
import redis.backoff
import redis.retry

import actornet
from examples.chat.backplane import (
    DEFAULT_LEASE,
    Backplane,
    PrivateArrived,
    RemoteEvent,
    RemoteEventsWaiting,
    RoomEvent,
    RoomState,
    Split,
    Whole,
    decode_events,
    decode_private,
    encode_events,
    origin_prefix,
)
from examples.chat.events import (
    MemberJoined,
    MemberLeft,
    MemberQuit,
    MessageSaid,
    NickChange,
    PrivateMessage,
    RoomSummary,
    TopicIs,
)
from examples.chat.limits import DEFAULT_HISTORY_LINES

if TYPE_CHECKING:
    from collections.abc import Callable

    import pykka
    from redis.client import Pipeline, PubSub
    from redis.typing import EncodableT, FieldT

logger = logging.getLogger("examples.chat")

#: Commands waiting for the Redis thread, at most; more are dropped (and logged).
MAX_QUEUED_COMMANDS = 10_000
#: Events from other processes waiting for one room, at most; more are dropped (and logged).
MAX_WAITING_EVENTS = 10_000
#: Commands sent in one pipeline, at most.
MAX_PIPELINE = 512
#: Seconds a Redis socket may stay silent in a command before it counts as dead.
SOCKET_TIMEOUT = 2.0
#: Seconds between reconnection attempts: the first, and the most.
RECONNECT_FIRST, RECONNECT_MOST = 0.1, 5.0
#: Seconds between "dropped" warnings, at most one per kind.
WARNING_INTERVAL = 10.0
#: Rooms a room list reads from Redis, at most.
MAX_LISTED_ROOMS = 10_000

_CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
_SEND_PRIVATE = """
local owner = redis.call('GET', KEYS[1])
if owner == false then return 0 end
return redis.call('PUBLISH', ARGV[1] .. owner, ARGV[2])
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_LinkErrors = (redis.ConnectionError, redis.TimeoutError, OSError)
#: Seconds `stop()` waits for queued commands (the last quits) to reach Redis.
DRAIN_TIMEOUT = SOCKET_TIMEOUT


@dataclass
class _Command:
    """Commands for one pipeline, and who hears their results (None: the link failed)."""

    build: Callable[[Pipeline], object]
    done: Callable[[list[Any] | None], None] | None = None


@dataclass
class _OpenRoom:
    name: str
    ref: pykka.ActorRef[Any]
    #: This process's members of the room.
    nicks: set[str] = field(default_factory=set)
    topic: tuple[str, str, int] | None = None
    #: Whether Redis has confirmed the subscription since the room opened.
    subscribed: bool = False


class RedisBackplane(Backplane):
    """Rooms, nicks, members and history shared by every chat process on one Redis.

    `url` is a redis-py URL (redis://HOST:PORT/DB, rediss:// for TLS,
    unix:///PATH); `client`, if given, is used instead of one made from it.
    `lease` is in seconds; rooms keep `history_lines` lines in Redis.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        lease: float = DEFAULT_LEASE,
        history_lines: int = DEFAULT_HISTORY_LINES,
        prefix: str = "chat:",
        client: redis.Redis | None = None,
    ) -> None:
        self.url = url
        self.description = f"shared through Redis at {_without_password(url)}"
        self.lease_ms = max(1, round(lease * 1000))
        #: Milliseconds a room's keys outlive the last renewal by any process holding it.
        self._room_keys_ms = 2 * self.lease_ms
        # Every process renews its leases every third of a lease.
        self.settle_seconds = lease / 2
        self.history_lines = history_lines
        self.prefix = prefix
        self._rooms_key = f"{prefix}rooms"
        #: This process, as other processes see it.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # No retries inside redis-py: a failed link is this class's to handle.
        self.client: redis.Redis = client or redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
        )
        self._claim = self.client.register_script(_CLAIM)
        self._release = self.client.register_script(_RELEASE)
        self._send_private = self.client.register_script(_SEND_PRIVATE)
        #: Where other processes send this process's users their private messages.
        self._process_channel = f"{prefix}process:{self.owner}"
        self._own_prefix = origin_prefix(self.owner)
        self._lock = threading.Lock()
        self._nicks: set[str] = set()
        self._rooms: dict[str, _OpenRoom] = {}
        self._waiting: dict[str, list[RemoteEvent]] = {}
        #: Room keys whose subscription changed since the subscriber last looked.
        self._changed: set[str] = set()
        self._commands: queue.Queue[_Command] = queue.Queue(MAX_QUEUED_COMMANDS)
        self._stopping = threading.Event()
        self._links = {"commands": True, "subscriptions": True}
        self._whole = True
        self._directory_ref: pykka.ActorRef[Any] | None = None
        self._threads: list[threading.Thread] = []
        #: Whether the command thread holds a batch it has not finished.
        self._busy = False
        self._warned: dict[str, float] = {}
        #: Figures, for tests and benchmarks: commands and events dropped.
        self.dropped_commands = 0
        self.dropped_events = 0

    # -- life ---------------------------------------------------------------

    @property
    def whole(self) -> bool:
        """Whether both links to Redis are up."""
        return self._whole

    def start(self, directory_ref: pykka.ActorRef[Any]) -> None:
        """Start the command and subscription threads; they connect (and reconnect) on their own."""
        self._directory_ref = directory_ref
        for name, target in (("commands", self._run_commands), ("subscriptions", self._subscribe)):
            thread = threading.Thread(target=target, name=f"redis-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the threads, then free this process's nicks and memberships if Redis answers.

        Commands already queued (the quits of a graceful shutdown) get
        `DRAIN_TIMEOUT` seconds to reach Redis first.
        """
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self._links["commands"] and self._threads and time.monotonic() < deadline:
            if self._commands.empty() and not self._busy:
                break
            time.sleep(0.01)
        self._stopping.set()
        for thread in self._threads:
            thread.join(SOCKET_TIMEOUT * 2 + 1)
        with self._lock:
            nicks, rooms = list(self._nicks), list(self._rooms.items())
            self._nicks.clear()
            self._rooms.clear()
        try:
            pipe = self.client.pipeline(transaction=False)
            for nick in nicks:
                self._release(keys=[self._key("nick", nick)], args=[self.owner], client=pipe)
            for key, room in rooms:
                for nick in room.nicks:
                    pipe.zrem(self._key("members", key), self._member(nick))
            pipe.execute(raise_on_error=False)
        except _LinkErrors as exc:
            logger.info("could not free this process's nicks in Redis (%s); their leases will", exc)
        finally:
            self.client.close()

    # -- nicks --------------------------------------------------------------

    def claim_nick(self, key: str, answer: Callable[[bool], None]) -> None:
        """Claim the nick in Redis; while Redis is away the nick is granted and claimed later."""

        def done(results: list[Any] | None) -> None:
            # An error (Redis out of memory, say) counts as Redis being away: granted.
            granted = results is None or isinstance(results[0], Exception) or results[0] == 1
            if granted:
                with self._lock:
                    self._nicks.add(key)
            answer(granted)

        self._submit(
            _Command(
                lambda pipe: self._claim(
                    keys=[self._key("nick", key)], args=[self.owner, self.lease_ms], client=pipe
                ),
                done,
            )
        )

    def release_nick(self, key: str) -> None:
        """Free the nick in Redis if this process owns it."""
        with self._lock:
            self._nicks.discard(key)
        self._submit(
            _Command(
                lambda pipe: self._release(
                    keys=[self._key("nick", key)], args=[self.owner], client=pipe
                )
            )
        )

    def send_private(
        self, key: str, message: PrivateMessage, answer: Callable[[bool], None]
    ) -> None:
        """Publish the message on its recipient's process's channel, found from the nick."""
        data = encode_events(self.owner, [(message, ())])
        prefix = f"{self.prefix}process:"
        self._submit(
            _Command(
                lambda pipe: self._send_private(
                    keys=[self._key("nick", key)], args=[prefix, data], client=pipe
                ),
                lambda results: answer(results is not None and _positive(results[0])),
            )
        )

    def find_nick(self, key: str, answer: Callable[[bool], None]) -> None:
        """Answer whether any process holds the nick (False while Redis is away)."""
        self._submit(
            _Command(
                lambda pipe: pipe.exists(self._key("nick", key)),
                lambda results: answer(results is not None and _positive(results[0])),
            )
        )

    # -- rooms --------------------------------------------------------------

    def open_room(self, key: str, name: str, room_ref: pykka.ActorRef[Any]) -> None:
        """Subscribe to the room's channel; once Redis confirms it, load the room's state.

        In that order, an event published after the state was read is heard. With
        the subscriptions link down, the room is loaded at once instead.
        """
        with self._lock:
            self._rooms[key] = _OpenRoom(name, room_ref)
            self._changed.add(key)
            subscribing = self._links["subscriptions"]
        if not subscribing:
            self.reload_room(key)

    def reload_room(self, key: str) -> None:
        """Load the room's members on other processes, topic and history; tell the room."""
        with self._lock:
            room = self._rooms.get(key)
        if room is None:
            return

        def build(pipe: Pipeline) -> None:
            now = _now_ms()
            pipe.zrangebyscore(self._key("members", key), now, "+inf")
            pipe.hgetall(self._key("info", key))
            pipe.xrevrange(self._key("history", key), count=self.history_lines)
            pipe.zadd(self._rooms_key, {key: now + self.lease_ms})
            pipe.hsetnx(self._key("info", key), "name", room.name)
            pipe.pexpire(self._key("info", key), self._room_keys_ms)

        def done(results: list[Any] | None) -> None:
            state = RoomState(loaded=False) if results is None else self._room_state(results)
            actornet.tell_or_drop(room.ref, state)

        self._submit(_Command(build, done))

    def _room_state(self, results: list[Any]) -> RoomState:
        entries, info, history = results[0], results[1], results[2]
        if isinstance(entries, Exception) or isinstance(info, Exception):
            return RoomState(loaded=False)
        members = tuple(_nick_of(entry) for entry in entries if not self._is_own(entry))
        lines: list[tuple[str, str, int]] = []
        if not isinstance(history, Exception):
            for _, values in reversed(history):
                lines.extend(_history_lines(values))
        text = {k.decode(): v.decode() for k, v in info.items()}
        return RoomState(
            members,
            text.get("name", ""),
            text.get("topic", ""),
            text.get("set_by", ""),
            int(text.get("topic_ms", "0") or 0),
            tuple(lines[-self.history_lines :] if self.history_lines else ()),
        )

    def close_room(self, key: str) -> None:
        """Unsubscribe from the room."""
        with self._lock:
            self._rooms.pop(key, None)
            self._waiting.pop(key, None)
            self._changed.add(key)

    def publish(self, key: str, event: RoomEvent, rooms: tuple[str, ...] = ()) -> None:
        """Publish the event on the room's channel and record what it changes."""
        data = encode_events(self.owner, [(event, rooms)])
        with self._lock:
            room = self._rooms.get(key)
            if room is not None:
                _track(room, event)

        def build(pipe: Pipeline) -> None:
            # Recorded, then told: a copy that subscribes after the PUBLISH reads the
            # record when it loads the room.
            self._record(pipe, key, event)
            pipe.publish(self._key("room", key), data)

        self._submit(_Command(build))

    def publish_lines(self, key: str, lines: list[MessageSaid]) -> None:
        """Publish the lines as one message, and add them to the history as one entry.

        An entry holds a turn's lines (fields n0, t0, ms0, n1...), so `MAXLEN ~`
        keeps at least `history_lines` lines.
        """
        data = encode_events(self.owner, [(line, ()) for line in lines])
        entry: dict[FieldT, EncodableT] = {}
        for index, line in enumerate(lines):
            entry[f"n{index}"], entry[f"t{index}"] = line.nick, line.text
            entry[f"ms{index}"] = line.time_ms

        def build(pipe: Pipeline) -> None:
            history = self._key("history", key)  # kept, then told, as in publish()
            pipe.xadd(history, entry, maxlen=self.history_lines, approximate=True)
            pipe.pexpire(history, self._room_keys_ms)
            pipe.publish(self._key("room", key), data)

        self._submit(_Command(build))

    def _record(self, pipe: Pipeline, key: str, event: RoomEvent) -> None:
        """Queue the commands that keep Redis's view of the room in step with `event`.

        Every key written is given the expiry that `_refresh` renews.
        """
        members = self._key("members", key)
        expiry = _now_ms() + self.lease_ms
        if isinstance(event, MemberJoined):
            pipe.zadd(members, {self._member(event.nick): expiry})
            pipe.pexpire(members, self._room_keys_ms)
            pipe.zadd(self._rooms_key, {key: expiry})
        elif isinstance(event, MemberLeft | MemberQuit):
            pipe.zrem(members, self._member(event.nick))
        elif isinstance(event, NickChange):
            pipe.zrem(members, self._member(event.old))
            pipe.zadd(members, {self._member(event.new): expiry})
            pipe.pexpire(members, self._room_keys_ms)
        elif isinstance(event, TopicIs):
            topic: dict[FieldT, EncodableT] = {
                "topic": event.topic,
                "set_by": event.set_by,
                "topic_ms": event.time_ms,
            }
            pipe.hset(self._key("info", key), mapping=topic)
            pipe.pexpire(self._key("info", key), self._room_keys_ms)

    def take_events(self, key: str) -> list[RemoteEvent]:
        """Return and forget the events waiting for the room."""
        with self._lock:
            return self._waiting.pop(key, [])

    def list_rooms(self, answer: Callable[[list[RoomSummary] | None], None]) -> None:
        """Answer every room with a live member, its member count and topic."""

        def counted(keys: list[bytes], results: list[Any] | None) -> None:
            if results is None:
                answer(None)
                return
            summaries = []
            for index, key in enumerate(keys):
                count, (name, topic) = results[2 * index], results[2 * index + 1]
                if isinstance(count, int) and count > 0 and not isinstance(name, Exception):
                    display = (name or key).decode()
                    summaries.append(RoomSummary(display, count, (topic or b"").decode()))
            answer(summaries)

        def listed(results: list[Any] | None) -> None:
            if results is None or isinstance(results[0], Exception):
                answer(None)
                return
            keys: list[bytes] = results[0]
            now = _now_ms()

            def build(pipe: Pipeline) -> None:
                for key in keys:
                    pipe.zcount(self._key("members", key.decode()), now, "+inf")
                    pipe.hmget(self._key("info", key.decode()), ["name", "topic"])

            self._submit(_Command(build, lambda results: counted(keys, results)))

        self._submit(
            _Command(
                lambda pipe: pipe.zrangebyscore(
                    self._rooms_key, _now_ms(), "+inf", start=0, num=MAX_LISTED_ROOMS
                ),
                listed,
            )
        )

    def list_members(self, key: str, answer: Callable[[list[str] | None], None]) -> None:
        """Answer the nicks in the room on every process."""

        def done(results: list[Any] | None) -> None:
            if results is None or isinstance(results[0], Exception):
                answer(None)
            else:
                answer([_nick_of(entry) for entry in results[0]])

        self._submit(
            _Command(
                lambda pipe: pipe.zrangebyscore(self._key("members", key), _now_ms(), "+inf"),
                done,
            )
        )

    # -- the command thread -------------------------------------------------

    def _submit(self, command: _Command) -> None:
        """Queue a command without waiting; while the link is down it fails at once."""
        if self._links["commands"] and not self._stopping.is_set():
            try:
                self._commands.put_nowait(command)
            except queue.Full:
                self.dropped_commands += 1
                self._warn("queue", "the Redis command queue is full; commands are dropped")
            else:
                return
        _finish(command, None)

    def _run_commands(self) -> None:
        refresh_every = self.lease_ms / 3000
        next_refresh = 0.0  # at once: this also checks the link
        while not self._stopping.is_set():
            if not self._links["commands"]:  # the subscriptions saw Redis go
                self._reconnect_commands()
                next_refresh = time.monotonic() + refresh_every
            timeout = max(0.0, next_refresh - time.monotonic())
            batch: list[_Command] = []
            with contextlib.suppress(queue.Empty):
                batch.append(self._commands.get(timeout=min(timeout, 0.5)))
                self._busy = True
                while len(batch) < MAX_PIPELINE:
                    batch.append(self._commands.get_nowait())
            try:
                if batch:
                    self._execute(batch)
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + refresh_every
                    self._refresh()
            except _LinkErrors as exc:
                for command in batch:
                    _finish(command, None)
                self._set_link("commands", up=False, reason=str(exc) or type(exc).__name__)
                self._reconnect_commands()
                next_refresh = time.monotonic() + refresh_every
            except Exception:  # a bug or a Redis error reply: this batch only
                logger.exception("Redis commands failed; %d of them are dropped", len(batch))
                for command in batch:
                    _finish(command, None)
            finally:
                self._busy = False

    def _execute(self, batch: list[_Command]) -> None:
        pipe = self.client.pipeline(transaction=False)
        sizes = []
        for command in batch:
            before = len(pipe)
            command.build(pipe)
            sizes.append(len(pipe) - before)
        results = pipe.execute(raise_on_error=False)
        start = 0
        for command, size in zip(batch, sizes, strict=True):
            _finish(command, results[start : start + size])
            start += size

    def _reconnect_commands(self) -> None:
        """Retry with a growing delay until Redis answers and holds this process's claims again.

        Only then is the link up: a Redis that restarted empty knows this
        process's nicks again before any room is told it is whole.
        """
        # Commands queued before the link went down fail now, not when it is back.
        with contextlib.suppress(queue.Empty):
            while True:
                _finish(self._commands.get_nowait(), None)
        delay = RECONNECT_FIRST
        while not self._stopping.wait(delay):
            try:
                self.client.ping()
                self._refresh()  # claims again what this process holds: Redis may be new
            except (*_LinkErrors, redis.RedisError):
                delay = min(delay * 2, RECONNECT_MOST)
                continue
            self._set_link("commands", up=True)
            return

    def _refresh(self) -> None:
        """Renew every lease this process holds; announce the quits of lapsed members."""
        with self._lock:
            nicks = list(self._nicks)
            rooms = [
                (key, room.name, list(room.nicks), room.topic) for key, room in self._rooms.items()
            ]
        now = _now_ms()
        expiry = now + self.lease_ms
        pipe = self.client.pipeline(transaction=False)
        for nick in nicks:
            self._claim(
                keys=[self._key("nick", nick)], args=[self.owner, self.lease_ms], client=pipe
            )
        for key, name, members, topic in rooms:
            pipe.zadd(self._rooms_key, {key: expiry})
            pipe.hsetnx(self._key("info", key), "name", name)
            # A room nobody holds goes, history and all, as a room does in one process.
            for kind in ("info", "history", "members"):
                pipe.pexpire(self._key(kind, key), self._room_keys_ms)
            if topic is not None:  # Redis may have lost it (restarted without persistence)
                info = self._key("info", key)
                pipe.hsetnx(info, "topic", topic[0])
                pipe.hsetnx(info, "set_by", topic[1])
                pipe.hsetnx(info, "topic_ms", topic[2])
            if members:
                pipe.zadd(self._key("members", key), {self._member(n): expiry for n in members})
        pipe.zremrangebyscore(self._rooms_key, "-inf", now)
        for key, *_ in rooms:
            pipe.zrangebyscore(self._key("members", key), "-inf", now)
        results = pipe.execute(raise_on_error=False)
        for nick, result in zip(nicks, results, strict=False):
            if result == 0:
                self._warn(f"nick {nick}", f"another process holds the nick {nick!r} as well")
        lapsed = results[len(results) - len(rooms) :]
        self._reap(
            [(key, name, entries) for (key, name, _, _), entries in zip(rooms, lapsed, strict=True)]
        )

    def _reap(self, rooms: list[tuple[str, str, Any]]) -> None:
        """Remove lapsed members; whoever removes one announces its quit to every process."""
        found = [
            (key, name, entry)
            for key, name, entries in rooms
            if not isinstance(entries, Exception)
            for entry in entries
            if not self._is_own(entry)
        ]
        if not found:
            return
        pipe = self.client.pipeline(transaction=False)
        for key, _, entry in found:
            pipe.zrem(self._key("members", key), entry)
        removed = pipe.execute(raise_on_error=False)
        # One quit per room; each names every room this process found the member
        # lapsed in, so a user in several of them hears it once (IRC's QUIT).
        lapsed = [
            (key, name, entry)
            for (key, name, entry), gone in zip(found, removed, strict=True)
            if gone == 1
        ]
        rooms_of: dict[bytes, tuple[str, ...]] = {}
        for key, _, entry in sorted(lapsed):
            rooms_of[entry] = (*rooms_of.get(entry, ()), key)
        pipe = self.client.pipeline(transaction=False)
        for key, name, entry in lapsed:
            quit_ = MemberQuit(name, _nick_of(entry), "its server stopped answering")
            data = encode_events("", [(quit_, rooms_of[entry])])
            pipe.publish(self._key("room", key), data)
        pipe.execute(raise_on_error=False)

    # -- the subscription thread --------------------------------------------

    def _subscribe(self) -> None:
        pubsub: PubSub | None = None
        subscribed: set[str] = set()
        delay = RECONNECT_FIRST
        while not self._stopping.is_set():
            try:
                if pubsub is None:
                    pubsub = self.client.pubsub()  # type: ignore[no-untyped-call]
                    pubsub.subscribe(self._process_channel)
                    subscribed = set()
                    with self._lock:
                        self._changed.update(self._rooms)
                subscribed = self._listen(pubsub, subscribed)
                delay = RECONNECT_FIRST
            except Exception as exc:  # the link, a Redis error reply or a bug: start again
                if not isinstance(exc, _LinkErrors):
                    logger.exception("reading the Redis subscriptions failed; reconnecting")
                reason = str(exc) or type(exc).__name__
                self._set_link("subscriptions", up=False, reason=reason)
                # Redis may come back empty: what this process holds is claimed again first.
                self._set_link("commands", up=False, reason=reason)
                if pubsub is not None:
                    with contextlib.suppress(*_LinkErrors):
                        pubsub.close()
                pubsub = None
                self._stopping.wait(delay)
                delay = min(delay * 2, RECONNECT_MOST)
        if pubsub is not None:
            with contextlib.suppress(*_LinkErrors):
                pubsub.close()

    def _listen(self, pubsub: PubSub, subscribed: set[str]) -> set[str]:
        """Bring the subscriptions up to date, then handle at most one message."""
        subscribed = self._apply_changes(pubsub, subscribed)
        message = pubsub.get_message(timeout=0.1)
        self._set_link("subscriptions", up=True)
        if message is None:
            return subscribed
        channel: bytes = message["channel"]
        if channel.decode() == self._process_channel:
            if message["type"] == "message":
                self._private_arrived(message["data"])
        elif message["type"] == "message":
            self._arrived(channel, message["data"])
        elif message["type"] == "subscribe":
            self._subscribed(channel)
        return subscribed

    def _private_arrived(self, data: bytes) -> None:
        try:
            private = decode_private(data)
        except ValueError as exc:
            logger.warning("dropped a message on %s: %s", self._process_channel, exc)
            return
        if self._directory_ref is not None:
            actornet.tell_or_drop(self._directory_ref, PrivateArrived(private))

    def _apply_changes(self, pubsub: PubSub, subscribed: set[str]) -> set[str]:
        with self._lock:
            changed, self._changed = self._changed, set()
            wanted = {key for key in changed if key in self._rooms}
        adding = [self._key("room", key) for key in wanted - subscribed]
        dropping = [self._key("room", key) for key in changed - wanted if key in subscribed]
        try:
            if adding:
                pubsub.subscribe(*adding)
            if dropping:
                pubsub.unsubscribe(*dropping)  # type: ignore[no-untyped-call]
        except _LinkErrors:
            with self._lock:
                self._changed |= changed  # to do again on the next connection
            raise
        for key in wanted & subscribed:  # closed and opened again: still subscribed
            self._subscribed(self._key("room", key).encode())
        return (subscribed | wanted) - (changed - wanted)

    def _subscribed(self, channel: bytes) -> None:
        """Redis confirmed a subscription: load the room's state now."""
        key = self._room_of(channel)
        with self._lock:
            room = self._rooms.get(key)
            if room is not None:
                room.subscribed = True
        self.reload_room(key)

    def _arrived(self, channel: bytes, data: bytes) -> None:
        """Queue published events for their room, unless this process published them."""
        if data.startswith(self._own_prefix):
            return  # ours: the room has delivered them already
        try:
            events = decode_events(data)
        except ValueError as exc:
            logger.warning("dropped a message on %s: %s", channel.decode(errors="replace"), exc)
            return
        key = self._room_of(channel)
        with self._lock:
            room = self._rooms.get(key)
            if room is None:
                return
            waiting = self._waiting.setdefault(key, [])
            was_empty = not waiting
            room_left = max(0, MAX_WAITING_EVENTS - len(waiting))
            waiting.extend(events[:room_left])
            dropped = len(events) - room_left
            if dropped > 0:
                self.dropped_events += dropped
        if dropped > 0:
            self._warn(f"room {key}", f"room {room.name} is behind on remote events; dropping some")
        if was_empty and waiting:
            actornet.tell_or_drop(room.ref, RemoteEventsWaiting())

    # -- helpers --------------------------------------------------------------

    def _set_link(self, link: str, *, up: bool, reason: str = "") -> None:
        """Record a link's state; tell the directory when the chat splits or becomes whole."""
        if self._links[link] == up:
            return
        with self._lock:
            self._links[link] = up
            whole = all(self._links.values())
            changed, self._whole = whole != self._whole, whole
            if link == "subscriptions" and not up:
                # Rooms waiting for a confirmation that won't come load without it.
                unconfirmed = [key for key, room in self._rooms.items() if not room.subscribed]
                for room in self._rooms.values():
                    room.subscribed = False
            else:
                unconfirmed = []
        for key in unconfirmed:
            self.reload_room(key)
        if not changed or self._directory_ref is None:
            return
        if whole:
            logger.info("Redis at %s answers again: rooms are whole", _without_password(self.url))
        else:
            logger.warning(
                "lost Redis at %s (%s): rooms are split until it is back",
                _without_password(self.url),
                reason,
            )
        actornet.tell_or_drop(self._directory_ref, Whole() if whole else Split(reason))

    def _warn(self, kind: str, text: str) -> None:
        now = time.monotonic()
        if now - self._warned.get(kind, -WARNING_INTERVAL) >= WARNING_INTERVAL:
            self._warned[kind] = now
            logger.warning("%s (Redis at %s)", text, _without_password(self.url))

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    def _room_of(self, channel: bytes) -> str:
        """Return the key of the room whose channel is `channel`."""
        return channel.decode()[len(self._key("room", "")) :]

    def _member(self, nick: str) -> str:
        """Return this process's entry for `nick` in a room's members set."""
        return f"{nick} {self.owner}"

    def _is_own(self, entry: bytes) -> bool:
        """Whether a members-set entry is one of this process's."""
        return entry.decode().endswith(f" {self.owner}")


def _nick_of(entry: bytes) -> str:
    """Return the nick of a members-set entry ("<nick> <process>")."""
    return entry.decode().split(" ", 1)[0]


def _finish(command: _Command, results: list[Any] | None) -> None:
    """Give a command its results; a failing answer is logged, never the thread's end."""
    if command.done is None:
        return
    try:
        command.done(results)
    except Exception:
        logger.exception("an answer from Redis could not be handled")


def _track(room: _OpenRoom, event: RoomEvent) -> None:
    """Keep the open room's own members and topic in step with a local event."""
    if isinstance(event, MemberJoined):
        room.nicks.add(event.nick)
    elif isinstance(event, MemberLeft | MemberQuit):
        room.nicks.discard(event.nick)
    elif isinstance(event, NickChange):
        room.nicks.discard(event.old)
        room.nicks.add(event.new)
    elif isinstance(event, TopicIs):
        room.topic = (event.topic, event.set_by, event.time_ms)


def _history_lines(values: dict[bytes, bytes]) -> list[tuple[str, str, int]]:
    """Return the (nick, text, time_ms) lines of one history entry, in order."""
    lines = []
    with contextlib.suppress(KeyError, ValueError, UnicodeDecodeError):
        for index in range(len(values) // 3):
            nick, text = values[f"n{index}".encode()], values[f"t{index}".encode()]
            lines.append((nick.decode(), text.decode(), int(values[f"ms{index}".encode()])))
    return lines


def _positive(result: object) -> bool:
    """Whether a command's result is a count above 0 (not an error)."""
    return isinstance(result, int) and result > 0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _without_password(url: str) -> str:
    """Return `url` with any password replaced by "***", for logs and the start-up line."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
