"""Hostile WebSocket clients over raw sockets, while well-behaved `websockets` clients echo.

Each scenario runs against `examples.wsecho` in-process, next to calm traffic (`CalmEcho`):
three `websockets` clients (compressed, uncompressed, fragmenting) each echoing a text and a
binary message every round, checked for loss, change and order. The hostile bytes are built
here by hand with `struct` (masked, as a client must, unless the test is about that), not
with `protocols.websocket`, so these tests do not share the encoder's mistakes. Every
rejection is read off the wire: the Close frame the server sent and its status code. Afterwards
a fresh client must be served, and the process must be back near its baseline of descriptors,
threads, actors and memory.
"""

from __future__ import annotations

import contextlib
import resource
import struct
import time
import zlib
from typing import TYPE_CHECKING, Any, Self

from _hostile import Background, Usage, assert_back_to, errors_logged, rss_bytes
from _support import WAIT, raw_socket, serving, wait_until
from websockets.sync.client import ClientConnection, connect

import actornet
from examples.wsecho.__main__ import WIRE, WebSocketEchoSession
from protocols.websocket import DEFAULT_MAX_MESSAGE_SIZE

if TYPE_CHECKING:
    from types import TracebackType

    import pytest

#: RFC 6455 §1.2's sample key, and the accept value it must get back.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#: RFC 6455 §5.7's sample masking key.
MASK = b"\x37\xfa\x21\x3d"

FIN = 0x80
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

#: RFC 6455 §7.4.1 status codes.
PROTOCOL_ERROR, INVALID_DATA, MESSAGE_TOO_BIG = 1002, 1007, 1009

MIB = 1024 * 1024


# -- frames and a raw peer, by hand --------------------------------------------


def mask(data: bytes, key: bytes) -> bytes:
    """XOR `data` with the repeated 4-byte `key` (RFC 6455 §5.3)."""
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big"
    )


def frame(
    opcode: int,
    data: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    length: int | None = None,
) -> bytes:
    """Build one frame by hand: FIN, RSV and opcode, the length as RFC 6455 §5.2 encodes it.

    Args:
        length: The length to declare, if not `len(data)` (a lie, for hostile frames).
    """
    declared = len(data) if length is None else length
    first = (FIN if fin else 0) | rsv | opcode
    mask_bit = 0x80 if masked else 0
    if declared < 126:
        header = struct.pack("!BB", first, mask_bit | declared)
    elif declared < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, declared)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, declared)
    if not masked:
        return header + data
    return header + MASK + mask(data, MASK)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


class RawPeer:
    """A raw socket speaking WebSocket by hand: the upgrade, then frames read one at a time."""

    def __init__(self, server: actornet.Server[Any]) -> None:
        self.sock = raw_socket(server)
        self.sock.settimeout(WAIT)
        self._buffer = b""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def upgrade(self, *headers: str, path: str = "/echo") -> str:
        """Send an upgrade request with extra header lines; return the 101's head."""
        lines = [
            f"GET {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {KEY}",
            "Sec-WebSocket-Version: 13",
            *headers,
        ]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_head()
        assert head.startswith("HTTP/1.1 101 "), head
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])
            if name
        }
        assert fields["sec-websocket-accept"] == ACCEPT, head
        return head

    def _read_head(self) -> str:
        for _ in range(1000):
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                head, self._buffer = self._buffer[: end + 4], self._buffer[end + 4 :]
                return head.decode("latin-1")
            self._fill()
        raise AssertionError(f"no end of the response head in {self._buffer[:200]!r}")

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        assert data, f"the server closed the connection; unparsed {self._buffer[:200]!r}"
        self._buffer += data

    def _take(self, size: int) -> bytes:
        for _ in range(size + 1):
            if len(self._buffer) >= size:
                taken, self._buffer = self._buffer[:size], self._buffer[size:]
                return taken
            self._fill()
        raise AssertionError("unreachable: each recv adds at least a byte")

    def read_frame(self) -> tuple[int, bytes]:
        """Read one frame from the server; return its first byte and its payload."""
        first, second = self._take(2)
        assert not second & 0x80, "the server masked a frame (RFC 6455 §5.1 forbids it)"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
        return first, self._take(length)

    def read_close(self, limit: int = 100_000) -> tuple[int, str, list[tuple[int, bytes]]]:
        """Read frames up to the server's Close; return its code, reason and the frames before."""
        before: list[tuple[int, bytes]] = []
        for _ in range(limit):
            first, data = self.read_frame()
            if first & 0x0F == CLOSE:
                assert first == FIN | CLOSE, f"a Close frame with first byte {first:#x}"
                assert len(data) >= 2, f"a Close frame without a code: {data!r}"
                (code,) = struct.unpack("!H", data[:2])
                return code, data[2:].decode(), before
            before.append((first, data))
        raise AssertionError(f"no Close among {limit} frames; last {before[-3:]}")

    def ending(self) -> str:
        """Wait for the server to close TCP, with nothing more sent: "eof" or "reset"."""
        assert self._buffer == b"", f"bytes after the last frame: {self._buffer[:200]!r}"
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return "reset"
        assert data == b"", f"bytes after the Close frame: {data[:200]!r}"
        return "eof"

    def read_response(self) -> tuple[str, bytes]:
        """Read until the server closes with a FIN; return the response's head and body."""
        for _ in range(10_000):
            data = self.sock.recv(65536)  # a reset fails the test: nothing may be left unread
            if not data:
                break
            self._buffer += data
        else:
            raise AssertionError("the server kept sending")
        head, _, body = self._buffer.partition(b"\r\n\r\n")
        self._buffer = b""
        return head.decode("latin-1"), body


# -- the server under attack, and the calm clients next to it ------------------


def ws_connect(url: str, **kwargs: Any) -> ClientConnection:
    ws: ClientConnection = connect(
        url, proxy=None, open_timeout=WAIT, close_timeout=WAIT, ping_interval=None, **kwargs
    )
    return ws


class CalmEcho:
    """Three `websockets` clients echoing numbered text and binary messages every round.

    One negotiates permessage-deflate, one does not, one sends its text in fragments. Each
    message must come back exactly, in order, within `WAIT`.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.clients: list[ClientConnection] = []
        self.background = Background(self._round, "calm-echo")
        self._connections = contextlib.ExitStack()

    def __enter__(self) -> Self:
        try:
            # Entered as context managers: websockets 17 warns about connections that are not.
            for compression in ("deflate", None, "deflate"):
                self.clients.append(
                    self._connections.enter_context(ws_connect(self.url, compression=compression))
                )
            self.background.start()
            self.background.wait_rounds(5)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.background.stop()
        self.close()

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self.background.stop()
        self._connections.close()

    def _round(self, n: int) -> list[float]:
        latencies = []
        for index, ws in enumerate(self.clients):
            sent_at = time.monotonic()
            text = f"calm{index} round {n} " + "é" * (n % 100)
            if index == 2:
                ws.send([text[:7], text[7:]])
            else:
                ws.send(text)
            got = ws.recv(timeout=WAIT)
            assert got == text, f"round {n}: client {index} got {got!r}, want {text!r}"
            data = f"{index}:{n};".encode() * (n % 200)  # past min_size: compressed at times
            ws.send(data)
            assert ws.recv(timeout=WAIT) == data, f"round {n}: client {index} binary"
            latencies.append(time.monotonic() - sent_at)
        return latencies


class WsScenario:
    """The echo example with calm traffic, a warmed-up baseline, and the checks afterwards.

    Use as `with WsScenario(limits) as s:`; misbehave on `s.server`, then `s.assert_recovered()`.
    """

    def __init__(self, limits: actornet.Limits | None = None) -> None:
        self.limits = limits or actornet.Limits(idle_timeout=None)
        self._stack = contextlib.ExitStack()
        self.server: actornet.Server[str | bytes]
        self.url: str
        self.calm: CalmEcho
        self.baseline: Usage
        self._fresh = 0

    def __enter__(self) -> Self:
        with contextlib.ExitStack() as stack:
            self.server, _ = stack.enter_context(
                serving(WebSocketEchoSession, wire=WIRE, limits=self.limits, session_args=())
            )
            self.url = f"ws://127.0.0.1:{self.server.port}/echo"
            self.calm = stack.enter_context(CalmEcho(self.url))
            # One full client lifetime first, so what is made lazily is in the baseline.
            self.fresh_client_echoes()
            self.baseline = Usage.now()
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.__exit__(exc_type, exc_value, traceback)

    def calm_connections(self) -> int:
        return len(self.calm.clients)

    def fresh_client_echoes(self) -> None:
        """Connect a new `websockets` client, echo a message each way, close normally."""
        self._fresh += 1
        assert wait_until(lambda: self.server.connection_count() <= self.calm_connections())
        with ws_connect(self.url) as ws:
            ws.send(f"hello from fresh{self._fresh}")
            assert ws.recv(timeout=WAIT) == f"hello from fresh{self._fresh}"
            ws.send(b"\x00" * 1000)
            assert ws.recv(timeout=WAIT) == b"\x00" * 1000
        assert wait_until(lambda: self.server.connection_count() == self.calm_connections()), (
            f"{self.server.connection_count()} connections left; want the calm ones only"
        )

    def assert_recovered(self) -> None:
        """Check the calm traffic flowed throughout and still does, then the resources."""
        background = self.calm.background
        background.check()
        background.wait_rounds(5)
        self.fresh_client_echoes()
        assert_back_to(self.baseline)
        background.check()


# -- frames that break RFC 6455 ------------------------------------------------

#: Frames the server must refuse, each sent alone after a good upgrade: name, bytes, close code.
BAD_FRAMES: dict[str, tuple[bytes, int]] = {
    # §5.1: "a client MUST mask all frames that it sends to the server".
    "an unmasked text frame": (frame(TEXT, b"hello", masked=False), PROTOCOL_ERROR),
    "an unmasked ping": (frame(PING, b"", masked=False), PROTOCOL_ERROR),
    # §5.2: a 64-bit length's most significant bit MUST be 0: 2^63 is no length at all...
    "a length of 2^63": (frame(BINARY, length=2**63), PROTOCOL_ERROR),
    "a length of 2^64 - 1": (frame(BINARY, length=2**64 - 1), PROTOCOL_ERROR),
    # ...while 2^63 - 1 is a valid length, only far over max_message_size (§7.4.1: 1009).
    "a length of 2^63 - 1": (frame(BINARY, length=2**63 - 1), MESSAGE_TOO_BIG),
    "a length of the limit + 1": (
        frame(TEXT, length=DEFAULT_MAX_MESSAGE_SIZE + 1),
        MESSAGE_TOO_BIG,
    ),
    # §5.5: control frames carry 125 bytes or less, and are not fragmented.
    "a ping of 126 bytes": (frame(PING, b"p" * 126), PROTOCOL_ERROR),
    "a close of 126 bytes": (frame(CLOSE, close_payload(1000, b"r" * 124)), PROTOCOL_ERROR),
    "a fragmented ping": (frame(PING, b"p", fin=False), PROTOCOL_ERROR),
    # §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved.
    "data opcode 0x3": (frame(0x3, b"x"), PROTOCOL_ERROR),
    "data opcode 0x7": (frame(0x7, b"x"), PROTOCOL_ERROR),
    "control opcode 0xB": (frame(0xB, b"x"), PROTOCOL_ERROR),
    "control opcode 0xF": (frame(0xF), PROTOCOL_ERROR),
    # §5.2: RSV1-3 MUST be 0 unless an extension defines them (none negotiated here).
    "RSV1 without permessage-deflate": (frame(TEXT, b"x", rsv=RSV1), PROTOCOL_ERROR),
    "RSV2": (frame(BINARY, b"x", rsv=RSV2), PROTOCOL_ERROR),
    "RSV3": (frame(BINARY, b"x", rsv=RSV3), PROTOCOL_ERROR),
    "RSV1 on a ping": (frame(PING, b"x", rsv=RSV1), PROTOCOL_ERROR),
    # §5.4: fragments continue a message that was started, and messages do not interleave.
    "a continuation without a start": (frame(CONTINUATION, b"x", fin=False), PROTOCOL_ERROR),
    "a final continuation without a start": (frame(CONTINUATION, b"x", fin=True), PROTOCOL_ERROR),
    "a new message inside a fragmented one": (
        frame(TEXT, b"a", fin=False) + frame(BINARY, b"b"),
        PROTOCOL_ERROR,
    ),
    # §5.5.1: a close body is empty or a 2-byte code (a sendable one) then UTF-8.
    "a close with a 1-byte body": (frame(CLOSE, b"\x03"), PROTOCOL_ERROR),
    "a close with code 1005": (frame(CLOSE, close_payload(1005)), PROTOCOL_ERROR),
    "a close with code 999": (frame(CLOSE, close_payload(999)), PROTOCOL_ERROR),
    "a close with code 5000": (frame(CLOSE, close_payload(5000)), PROTOCOL_ERROR),
    "a close reason that is not UTF-8": (frame(CLOSE, close_payload(1000, b"\xff")), INVALID_DATA),
    # §8.1: a text message is UTF-8.
    "a text frame that is not UTF-8": (frame(TEXT, b"caf\xe9"), INVALID_DATA),
}


def test_frames_that_break_rfc_6455_get_the_right_close_code_and_end_only_their_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WsScenario() as s:
        for name, (data, want) in BAD_FRAMES.items():
            with RawPeer(s.server) as peer:
                peer.upgrade()
                # A good message first: the connection works until the bad frame.
                peer.send(frame(TEXT, b"fine"))
                assert peer.read_frame() == (FIN | TEXT, b"fine"), name
                peer.send(data)
                code, reason, before = peer.read_close()
                assert (code, before) == (want, []), (name, code, reason)
                assert reason, f"{name}: a Close without a reason"
                assert peer.ending() == "eof", name
        s.assert_recovered()
        stats = s.server.statistics()
        assert stats.disconnects["protocol_error"] == len(BAD_FRAMES)
    assert errors_logged(caplog) == []


def test_a_declared_huge_length_is_refused_from_the_header_alone() -> None:
    # Nothing of the payload is sent: the server must decide on the 14 header bytes.
    with WsScenario() as s:
        rss_before = rss_bytes()
        for length, want in ((2**63 - 1, MESSAGE_TOO_BIG), (2**63, PROTOCOL_ERROR)):
            with RawPeer(s.server) as peer:
                peer.upgrade()
                header = frame(BINARY, length=length)
                assert len(header) == 14
                peer.send(header)
                code, reason, _ = peer.read_close()
                assert code == want, reason
                assert str(length) in reason
                assert peer.ending() == "eof"
        assert rss_bytes() - rss_before < 10 * MIB
        s.assert_recovered()


# -- fragments with invalid UTF-8 ------------------------------------------------


def test_invalid_utf8_fails_on_the_fragment_that_carries_it_not_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WsScenario() as s:
        with RawPeer(s.server) as peer:
            peer.upgrade()
            # The first fragment ends inside "€" (e2 82 ac): valid so far.
            first = "héllo ".encode() + b"\xe2\x82"
            peer.send(frame(TEXT, first, fin=False))
            # A ping between fragments is answered: proof the fragment was taken, not failed.
            peer.send(frame(PING, b"after the first"))
            assert peer.read_frame() == (FIN | PONG, b"after the first")
            # The second completes "€", then carries 0xff: the first byte no UTF-8 can hold.
            second = b"\xac ok \xff and more"
            peer.send(frame(CONTINUATION, second, fin=False))
            code, reason, before = peer.read_close()
            assert (code, before) == (INVALID_DATA, [])
            assert "not UTF-8" in reason, reason
            # The message never got its final fragment: the failure did not wait for it.
            assert peer.ending() == "eof"
        with RawPeer(s.server) as peer:
            peer.upgrade()
            # A sequence cut between fragments: "\xe2" is a lead byte, "\x28" no continuation.
            peer.send(frame(TEXT, b"ab\xe2", fin=False))
            peer.send(frame(PING, b"still fine"))
            assert peer.read_frame() == (FIN | PONG, b"still fine")
            peer.send(frame(CONTINUATION, b"\x28cd", fin=False))
            code, _, before = peer.read_close()
            assert (code, before) == (INVALID_DATA, [])
            assert peer.ending() == "eof"
        with RawPeer(s.server) as peer:
            peer.upgrade()
            # A message that ends inside a character fails on its last fragment.
            peer.send(frame(TEXT, b"ab", fin=False))
            peer.send(frame(CONTINUATION, b"\xf0\x9f\x98", fin=True))
            code, _, before = peer.read_close()
            assert (code, before) == (INVALID_DATA, [])
            assert peer.ending() == "eof"
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_the_close_reason_gives_the_offset_of_the_first_invalid_byte_across_fragments() -> None:
    with (
        serving(WebSocketEchoSession, wire=WIRE, session_args=()) as (server, _),
        RawPeer(server) as peer,
    ):
        peer.upgrade()
        first = "héllo ".encode() + b"\xe2\x82"  # ends inside "€"
        second = b"\xac ok \xff and more"
        peer.send(frame(TEXT, first, fin=False) + frame(CONTINUATION, second, fin=False))
        code, reason, _ = peer.read_close()
        assert code == INVALID_DATA
        bad_at = len(first) + second.index(b"\xff")
        assert f"at byte {bad_at} " in reason, reason


# -- a decompression bomb ------------------------------------------------------

#: What the bomb inflates to: a hundred times the message limit.
BOMB_SIZE = 100 * MIB


def deflate_bomb(size: int) -> bytes:
    """Compress `size` zero bytes as one permessage-deflate message (RFC 7692 §7.2.1).

    Made a mebibyte at a time, so the test never holds what the server must not.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(MIB)
    parts = [compressor.compress(chunk) for _ in range(size // MIB)]
    parts.append(compressor.flush(zlib.Z_SYNC_FLUSH))
    data = b"".join(parts)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def inflated_size(data: bytes) -> int:
    """Inflate a permessage-deflate message a mebibyte at a time; return its size."""
    inflater = zlib.decompressobj(-15)
    total = len(inflater.decompress(data + b"\x00\x00\xff\xff", MIB))
    for _ in range(10_000):
        if not inflater.unconsumed_tail:
            return total
        total += len(inflater.decompress(inflater.unconsumed_tail, MIB))
    raise AssertionError("still inflating after 10,000 MiB")


def peak_rss_bytes() -> int:
    """Return the largest resident set this process has had, in bytes (ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_decompression_bomb_is_closed_with_1009_without_inflating_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bomb = deflate_bomb(BOMB_SIZE)
    assert len(bomb) < BOMB_SIZE // 500, len(bomb)  # ~100 KiB on the wire
    assert inflated_size(bomb) == BOMB_SIZE
    with WsScenario() as s:
        # One compressed frame, then the same message cut into ten fragments.
        pieces = [
            bomb[n : n + len(bomb) // 10 + 1] for n in range(0, len(bomb), len(bomb) // 10 + 1)
        ]
        fragmented = b"".join(
            frame(
                BINARY if n == 0 else CONTINUATION,
                piece,
                fin=n == len(pieces) - 1,
                rsv=RSV1 if n == 0 else 0,
            )
            for n, piece in enumerate(pieces)
        )
        rss_before = rss_bytes()
        peak_before = peak_rss_bytes()
        for name, data in (
            ("one frame", frame(BINARY, bomb, rsv=RSV1)),
            ("ten fragments", fragmented),
            ("text", frame(TEXT, bomb, rsv=RSV1)),
        ):
            with RawPeer(s.server) as peer:
                head = peer.upgrade("Sec-WebSocket-Extensions: permessage-deflate")
                assert "permessage-deflate" in head.lower(), head
                # A small compressed message first: the extension works on this connection.
                small = zlib.compressobj(6, zlib.DEFLATED, -15)
                hello = small.compress(b"hello " * 100) + small.flush(zlib.Z_SYNC_FLUSH)
                peer.send(frame(TEXT, hello[:-4], rsv=RSV1))
                first, echoed = peer.read_frame()
                inflater = zlib.decompressobj(-15)
                if first & RSV1:
                    echoed = inflater.decompress(echoed + b"\x00\x00\xff\xff")
                assert (first & 0x0F, echoed) == (TEXT, b"hello " * 100), name
                peer.send(data)
                code, reason, before = peer.read_close()
                assert (code, before) == (MESSAGE_TOO_BIG, []), (name, reason)
                assert "inflated" in reason, reason
                assert peer.ending() == "eof", name
        # Inflating the bomb once would have taken 100 MiB; the server stopped at ~1 MiB.
        assert rss_bytes() - rss_before < 20 * MIB
        assert peak_rss_bytes() <= max(peak_before, rss_before + 20 * MIB)
        s.assert_recovered()
    assert errors_logged(caplog) == []


# -- handshakes and HTTP that go wrong -----------------------------------------

#: The handshake timeout of the server whose slow handshakes are under test, in seconds.
HANDSHAKE_TIMEOUT = 0.5


def test_a_handshake_that_never_finishes_is_closed_after_the_handshake_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = actornet.Limits(idle_timeout=None, handshake_timeout=HANDSHAKE_TIMEOUT)
    with WsScenario(limits) as s:
        peers = [RawPeer(s.server) for _ in range(6)]
        try:
            started = time.monotonic()
            peers[0].send(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half a head
            peers[1].send(b"GET /ec")  # half a request line
            peers[2].send(b"G")
            # A complete plain request is answered, and keeps the connection in HTTP.
            peers[3].send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            # 4 and 5 send nothing at all.
            for n, peer in enumerate(peers):
                head, body = peer.read_response()
                if n == 3:
                    assert head.startswith("HTTP/1.1 404 "), head
                else:
                    assert (head, body) == ("", b""), n
            elapsed = time.monotonic() - started
            assert elapsed >= HANDSHAKE_TIMEOUT
        finally:
            for peer in peers:
                peer.sock.close()
        assert wait_until(
            lambda: s.server.statistics().disconnects.get("idle_timeout", 0) == len(peers)
        ), s.server.statistics()
        s.assert_recovered()
    assert errors_logged(caplog) == []


#: Requests that never become a WebSocket: name, bytes, the status answered.
def http_request(first_line: str, *headers: str, body: bytes = b"") -> bytes:
    """Build a request head (and body) from its lines."""
    return ("\r\n".join([first_line, *headers]) + "\r\n\r\n").encode() + body


#: The upgrade headers but the version, which some cases get wrong.
UPGRADE = (
    "Host: 127.0.0.1",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {KEY}",
)

BAD_REQUESTS: dict[str, tuple[bytes, int]] = {
    "a TLS ClientHello": (bytes.fromhex("16030100f4010000f00303") + bytes(range(64)), 400),
    "binary garbage": (bytes(range(256)) * 4, 400),
    "a line of nonsense": (b"HELLO THERE\r\n\r\n", 400),
    "a request line without a version": (b"GET /echo\r\n\r\n", 400),
    "a header without a colon": (http_request("GET /echo HTTP/1.1", "Host 127.0.0.1"), 400),
    "an upgrade with a body": (
        http_request(
            "GET /echo HTTP/1.1",
            *UPGRADE,
            "Sec-WebSocket-Version: 13",
            "Content-Length: 5",
            body=b"hello",
        ),
        413,
    ),
    "a POST with a body": (
        http_request("POST /echo HTTP/1.1", "Host: 127.0.0.1", "Content-Length: 5", body=b"hello"),
        413,
    ),
    "a chunked body": (
        http_request(
            "POST / HTTP/1.1",
            "Host: 127.0.0.1",
            "Transfer-Encoding: chunked",
            body=b"5\r\nhello\r\n0\r\n\r\n",
        ),
        413,
    ),
    # 32 KiB of header lines and no end: refused once 16 KiB are buffered incomplete.
    "a head that never ends": (b"GET /echo HTTP/1.1\r\n" + b"X-A: b\r\n" * 4000, 431),
    "an upgrade over HTTP/1.0": (
        http_request("GET /echo HTTP/1.0", *UPGRADE, "Sec-WebSocket-Version: 13"),
        400,
    ),
    "an upgrade of version 8": (
        http_request("GET /echo HTTP/1.1", *UPGRADE, "Sec-WebSocket-Version: 8"),
        426,
    ),
    "an upgrade with a short key": (
        http_request(
            "GET /echo HTTP/1.1",
            *UPGRADE[:3],
            "Sec-WebSocket-Key: c2hvcnQ=",
            "Sec-WebSocket-Version: 13",
        ),
        400,
    ),
    "an upgrade by POST": (
        http_request("POST /echo HTTP/1.1", *UPGRADE, "Sec-WebSocket-Version: 13"),
        405,
    ),
}


def test_requests_that_are_not_a_websocket_upgrade_get_an_http_error_then_a_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WsScenario() as s:
        for name, (data, status) in BAD_REQUESTS.items():
            with RawPeer(s.server) as peer:
                # One segment on loopback: the server reads it all before it answers, so
                # closing leaves nothing unread (which would reset the connection).
                peer.send(data)
                head, body = peer.read_response()
                assert head.startswith(f"HTTP/1.1 {status} "), (name, head[:200])
                assert "connection: close" in head.lower(), (name, head)
                assert body.startswith(str(status).encode()), (name, body[:200])
        s.assert_recovered()
    assert errors_logged(caplog) == []


def test_a_complete_head_over_max_head_size_in_one_segment_gets_431() -> None:
    with (
        serving(WebSocketEchoSession, wire=WIRE, session_args=()) as (server, _),
        RawPeer(server) as peer,
    ):
        peer.send(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
            + b"p" * 20_000
            + b"\r\n\r\nGET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        head, _ = peer.read_response()
        assert head.startswith("HTTP/1.1 431 "), head[:200]


# -- floods --------------------------------------------------------------------


def test_a_flood_of_pings_written_without_reading_leaves_the_server_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pings = 100_000
    flood = b"".join(frame(PING, struct.pack("!I", n)) for n in range(pings))
    with WsScenario() as s:
        rss_before = rss_bytes()
        with RawPeer(s.server) as peer:
            peer.upgrade()
            peer.send(flood)  # ~1 MB as fast as the kernel takes it, nothing read
            s.calm.background.wait_rounds(3)  # the others were served meanwhile
            peer.send(frame(TEXT, b"after the flood"))
            pongs: list[bytes] = []
            for _ in range(pings + 1):
                first, data = peer.read_frame()
                if first == FIN | TEXT:
                    assert data == b"after the flood"
                    break
                assert first == FIN | PONG, f"frame {first:#x} {data!r}"
                pongs.append(data)
            # RFC 6455 §5.5.3 lets a pong answer only the latest ping: the server answers the
            # last of each read (up to 64 KiB: ~6,500 pings), so output stays a fraction of
            # the input (about 20 pongs in practice), in order, ending with the last ping.
            assert pongs, "no pong at all"
            assert pongs[-1] == struct.pack("!I", pings - 1)
            numbers = [struct.unpack("!I", pong)[0] for pong in pongs]
            assert numbers == sorted(set(numbers)), "pongs repeated or out of order"
            assert len(pongs) < pings // 10, f"{len(pongs)} pongs for {pings} pings"
            peer.send(frame(CLOSE, close_payload(1000)))
            code, _, before = peer.read_close()
            assert (code, before) == (1000, [])
            assert peer.ending() == "eof"
        assert rss_bytes() - rss_before < 20 * MIB
        s.assert_recovered()
    assert errors_logged(caplog) == []
