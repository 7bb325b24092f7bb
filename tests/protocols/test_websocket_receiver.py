"""The receiving half: frames cut anywhere, every RFC 6455 rejection, pings, close, limits."""

from __future__ import annotations

import struct

import pytest
from _ws import MASK, chunkings, client_frame, feed, open_server

from protocols import RemoteProtocolError, chat
from protocols._websocket._frames import Opcode, build_frame
from protocols.websocket import (
    CloseInfo,
    ConnectionState,
    MessageTooBig,
    WebSocketProtocolError,
    WebSocketServer,
)

T, B, C = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack(">H", code) + reason


SHORT_STREAM = (
    bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 §5.7: masked "Hello"
    + client_frame(B, b"\x00\xff" * 100)
    + client_frame(T, "h\u00e9".encode(), fin=False)
    + client_frame(Opcode.PING, b"mid-message ping")
    + client_frame(C, b"llo \xe2\x82", fin=False)  # a euro sign cut between fragments
    + client_frame(C, b"\xac")
    + client_frame(B, b"")
)
SHORT_EVENTS = ["Hello", b"\x00\xff" * 100, "h\u00e9llo \u20ac", b""]
STREAM = SHORT_STREAM + client_frame(B, b"x" * 70000)
EVENTS = [*SHORT_EVENTS, b"x" * 70000]


def test_stream_decodes_however_it_is_cut() -> None:
    for chunks in chunkings(SHORT_STREAM):
        receiver, _ = open_server()
        assert feed(receiver, chunks) == SHORT_EVENTS, chunks
        assert receiver.state is ConnectionState.OPEN


def test_large_frames_decode_in_any_chunk_size() -> None:
    for size in (1, 7, 1000, 65536, len(STREAM)):
        receiver, _ = open_server()
        chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
        assert feed(receiver, chunks) == EVENTS, size


def test_frames_in_the_upgrade_request_chunk_are_decoded() -> None:
    from _ws import upgrade_request  # noqa: PLC0415

    receiver = WebSocketServer(compression=False).decoder()
    receiver.receive_data(upgrade_request() + client_frame(T, b"early"))
    assert receiver.data_to_send().startswith(b"HTTP/1.1 101 ")
    assert receiver.opened() is not None
    assert receiver.events() == ["early"]


def failure(frames: bytes, *, codec: bool = False) -> tuple[WebSocketProtocolError, bytes]:
    server = WebSocketServer(chat.CODEC, compression=False) if codec else None
    receiver, _ = open_server(server)
    receiver.receive_data(frames)
    with pytest.raises(WebSocketProtocolError) as caught:
        receiver.events()
        receiver.events()  # the first call may return the events before the error
    with pytest.raises(WebSocketProtocolError):  # again, on every later call
        receiver.events()
    assert receiver.state is ConnectionState.FAILED
    owed = receiver.data_to_send()
    error = caught.value
    if error.close_code != 1006:
        assert owed[:1] == b"\x88", owed
        assert struct.unpack(">H", owed[2:4])[0] == error.close_code
    receiver.receive_data(client_frame(T, b"ignored"))  # later bytes are dropped
    assert receiver.data_to_send() == b""
    return error, owed


REJECTIONS = [
    ("unmasked client frame", build_frame(T, b"hi"), 1002, "not masked"),
    ("RSV1 without deflate", client_frame(T, b"hi", rsv1=True), 1002, "RSV1"),
    ("RSV2", bytes([0xA1]) + client_frame(T, b"hi")[1:], 1002, "RSV2/RSV3"),
    ("RSV3", bytes([0x91]) + client_frame(T, b"hi")[1:], 1002, "RSV2/RSV3"),
    ("data opcode 3", client_frame(3, b""), 1002, "unknown data opcode 0x3"),
    ("control opcode 0xB", client_frame(0xB, b""), 1002, "unknown control opcode 0xb"),
    ("fragmented ping", client_frame(Opcode.PING, b"", fin=False), 1002, "fragmented PING"),
    ("126-byte ping", client_frame(Opcode.PING, b"x" * 126), 1002, "126 bytes exceeds the 125"),
    ("continuation first", client_frame(C, b"x"), 1002, "without a message to continue"),
    (
        "new message inside one",
        client_frame(T, b"a", fin=False) + client_frame(B, b"b"),
        1002,
        "new BINARY message inside a fragmented TEXT",
    ),
    (
        "RSV1 on continuation",
        client_frame(T, b"a", fin=False) + client_frame(C, b"b", rsv1=True),
        1002,
        "continuation frame has RSV1",
    ),
    ("bad UTF-8", client_frame(T, b"\xff"), 1007, "not UTF-8 at byte 0"),
    ("overlong UTF-8", client_frame(T, b"ab\xc0\xaf"), 1007, "not UTF-8 at byte 2"),
    ("surrogate in UTF-8", client_frame(T, b"\xed\xa0\x80"), 1007, "not UTF-8"),
    (
        "bad UTF-8 in a fragment, before the message ends",
        client_frame(T, b"ok", fin=False) + client_frame(C, b"\xff", fin=False),
        1007,
        "not UTF-8",
    ),
    ("1-byte close", client_frame(Opcode.CLOSE, b"\x03"), 1002, "1-byte payload"),
    ("close code 999", client_frame(Opcode.CLOSE, close_payload(999)), 1002, "code 999"),
    ("close code 1004", client_frame(Opcode.CLOSE, close_payload(1004)), 1002, "code 1004"),
    ("close code 1005", client_frame(Opcode.CLOSE, close_payload(1005)), 1002, "code 1005"),
    ("close code 1006", client_frame(Opcode.CLOSE, close_payload(1006)), 1002, "code 1006"),
    ("close code 1015", client_frame(Opcode.CLOSE, close_payload(1015)), 1002, "code 1015"),
    ("close code 1016", client_frame(Opcode.CLOSE, close_payload(1016)), 1002, "code 1016"),
    ("close code 2999", client_frame(Opcode.CLOSE, close_payload(2999)), 1002, "code 2999"),
    ("close code 5000", client_frame(Opcode.CLOSE, close_payload(5000)), 1002, "code 5000"),
    (
        "close reason not UTF-8",
        client_frame(Opcode.CLOSE, close_payload(1000, b"\xff")),
        1007,
        "reason is not UTF-8",
    ),
    (
        "2^63 length",
        bytes([0x82, 0xFF]) + (2**63).to_bytes(8, "big") + MASK,
        1002,
        "most significant bit",
    ),
]


@pytest.mark.parametrize(
    ("name", "frames", "code", "match"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_rejections_carry_their_close_code_and_queue_the_close(
    name: str, frames: bytes, code: int, match: str
) -> None:
    error, _ = failure(client_frame(T, b"before") + frames)
    assert error.close_code == code
    assert match in str(error), str(error)


@pytest.mark.parametrize(
    ("name", "frames", "code", "match"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
def test_rejections_are_the_same_byte_by_byte(
    name: str, frames: bytes, code: int, match: str
) -> None:
    receiver, _ = open_server()
    with pytest.raises(WebSocketProtocolError) as caught:
        feed(receiver, [frames[i : i + 1] for i in range(len(frames))])
    assert caught.value.close_code == code


def test_events_before_an_error_are_returned_first() -> None:
    receiver, _ = open_server()
    receiver.receive_data(client_frame(T, b"one") + client_frame(B, b"two") + build_frame(T, b"x"))
    assert receiver.events() == ["one", b"two"]
    with pytest.raises(WebSocketProtocolError, match="not masked"):
        receiver.events()


def test_a_2_63_length_is_rejected_at_once() -> None:
    receiver, _ = open_server()
    receiver.receive_data(bytes([0x82, 0xFF]) + (2**63).to_bytes(8, "big") + MASK)
    with pytest.raises(WebSocketProtocolError, match="most significant bit"):
        receiver.events()


def test_declared_size_over_the_limit_is_rejected_before_buffering() -> None:
    server = WebSocketServer(compression=False, max_message_size=1000)
    receiver, _ = open_server(server)
    receiver.receive_data(bytes([0x82, 0xFE]) + struct.pack(">H", 1001) + MASK)
    with pytest.raises(MessageTooBig) as caught:
        receiver.events()
    assert (caught.value.close_code, caught.value.size, caught.value.limit) == (1009, 1001, 1000)
    assert str(caught.value) == (
        "declared frame of 1001 bytes exceeds max_message_size=1000; "
        "raise max_message_size if such messages are expected"
    )
    assert receiver.data_to_send()[2:4] == b"\x03\xf1"  # a Close frame with 1009


def test_message_size_counts_every_fragment() -> None:
    server = WebSocketServer(compression=False, max_message_size=1000)
    receiver, _ = open_server(server)
    receiver.receive_data(client_frame(B, b"x" * 600, fin=False))
    receiver.receive_data(client_frame(C, b"x" * 400, fin=False))
    assert receiver.events() == []
    receiver.receive_data(client_frame(C, b"x", fin=True)[:6])  # the header is enough
    with pytest.raises(MessageTooBig, match="message of 1001 bytes exceeds max_message_size=1000"):
        receiver.events()


def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    receiver, _ = open_server(WebSocketServer(compression=False, max_message_size=1000))
    receiver.receive_data(client_frame(B, b"x" * 1000))
    assert receiver.events() == [b"x" * 1000]


def test_a_big_frame_is_buffered_once_not_reparsed() -> None:
    receiver, _ = open_server()
    frame = client_frame(B, b"y" * 100_000)
    for i in range(0, len(frame) - 1, 1000):
        receiver.receive_data(frame[i : i + 1000])
    assert receiver.events() == [b"y" * 100_000]


def test_ping_is_answered_with_a_pong_of_the_same_payload() -> None:
    receiver, _ = open_server()
    receiver.receive_data(client_frame(Opcode.PING, b"are you there"))
    assert receiver.data_to_send() == build_frame(Opcode.PONG, b"are you there")
    assert receiver.events() == []


def test_a_ping_flood_in_one_chunk_gets_one_pong_for_the_last() -> None:
    receiver, _ = open_server()
    flood = b"".join(client_frame(Opcode.PING, str(i).encode()) for i in range(1000))
    receiver.receive_data(flood)
    assert receiver.data_to_send() == build_frame(Opcode.PONG, b"999")


def test_unsolicited_pongs_are_ignored() -> None:
    receiver, _ = open_server()
    receiver.receive_data(client_frame(Opcode.PONG, b"heartbeat") + client_frame(T, b"hi"))
    assert receiver.events() == ["hi"]
    assert receiver.data_to_send() == b""


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_close_is_echoed_recorded_and_finishes(code: int) -> None:
    for chunks in chunkings(client_frame(Opcode.CLOSE, close_payload(code, "bye é".encode()))):
        receiver, _ = open_server()
        assert feed(receiver, chunks) == []
        assert receiver.finished
        assert receiver.state is ConnectionState.CLOSED
        assert receiver.close_received == CloseInfo(code=code, reason="bye é")
        assert receiver.data_to_send() == build_frame(Opcode.CLOSE, close_payload(code))


def test_an_empty_close_is_echoed_empty_and_reads_as_1005() -> None:
    receiver, _ = open_server()
    receiver.receive_data(client_frame(Opcode.CLOSE, b"") + client_frame(T, b"after"))
    assert receiver.events() == []
    assert receiver.close_received == CloseInfo(code=1005, reason="")
    assert receiver.data_to_send() == b"\x88\x00"


def test_a_pending_pong_goes_before_the_close_echo() -> None:
    receiver, _ = open_server()
    receiver.receive_data(client_frame(Opcode.PING, b"p") + client_frame(Opcode.CLOSE, b""))
    assert receiver.data_to_send() == build_frame(Opcode.PONG, b"p") + b"\x88\x00"


def test_eof_between_frames_ends_quietly_and_inside_one_is_1006() -> None:
    receiver, _ = open_server()
    receiver.receive_data(client_frame(T, b"hi"))
    receiver.receive_data(b"")
    assert receiver.events() == ["hi"]
    assert receiver.state is ConnectionState.ENDED
    assert not receiver.finished
    with pytest.raises(Exception, match="after end of stream"):
        receiver.receive_data(b"more")

    receiver, _ = open_server()
    receiver.receive_data(client_frame(T, b"hello")[:4])
    receiver.receive_data(b"")
    with pytest.raises(WebSocketProtocolError, match="inside a frame") as caught:
        receiver.events()
    assert caught.value.close_code == 1006
    assert receiver.data_to_send() == b""


def test_codec_binary_messages_decode_to_messages() -> None:
    receiver, sender = open_server(WebSocketServer(chat.CODEC, compression=False))
    hello = chat.Hello(version=1, nick="ann")
    payload = chat.CODEC.encode(hello)
    receiver.receive_data(client_frame(B, payload[:2], fin=False) + client_frame(C, payload[2:]))
    receiver.receive_data(client_frame(B, payload))
    assert receiver.events() == [hello, hello]
    welcome = chat.Welcome(version=1, nick="ann", server="test")
    assert sender.send(welcome) == build_frame(B, chat.CODEC.encode(welcome))


def test_codec_text_message_is_1003_and_bad_payload_is_1007() -> None:
    error, _ = failure(client_frame(T, b"hello"), codec=True)
    assert error.close_code == 1003
    assert "binary messages only" in str(error)
    error, _ = failure(client_frame(B, b"\x7f"), codec=True)
    assert error.close_code == 1007
    assert isinstance(error.__cause__, RemoteProtocolError)


def test_error_close_reason_fits_a_control_frame() -> None:
    _, owed = failure(client_frame(T, b"\xff" * 10))
    assert len(owed) <= 2 + 125
    owed[4:].decode("utf-8")
