"""Negotiating permessage-deflate (RFC 7692 §5, §7.1): offers, responses, agreed parameters.

`PerMessageDeflate` is what one side wants; `DeflateParams` is what a handshake agreed. The four
parameters, named as the RFC names them, from the point of view of the side they constrain:

| parameter                    | in the client's offer            | in the server's response       |
|------------------------------|----------------------------------|--------------------------------|
| `server_no_context_takeover` | asks the server to reset         | server promises to reset       |
| `client_no_context_takeover` | hints the client will reset      | server requires the client to  |
| `server_max_window_bits=N`   | asks for a server window <= 2^N  | the server's window (<= offer) |
| `client_max_window_bits[=N]` | lets the server limit the client | the client's window (<= offer) |

The server includes `server_max_window_bits` only when the offer did (a smaller window than the
peer's inflater needs no announcement), and `client_max_window_bits` only when the offer did
(RFC 7692 §7.1.2.2 forbids it otherwise). zlib cannot deflate with a 256-byte window (raw deflate
needs windowBits >= 9), so an offer asking this side to compress with 8 window bits is declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "EXTENSION_NAME",
    "DeflateParams",
    "PerMessageDeflate",
    "accept_response",
    "negotiate",
    "parse_extensions",
]

#: The extension token (RFC 7692 §7).
EXTENSION_NAME: Final = "permessage-deflate"

_MIN_WINDOW_BITS: Final = 8  # RFC 7692 §7.1.2: 8..15
_MAX_WINDOW_BITS: Final = 15
_MIN_ZLIB_BITS: Final = 9  # zlib's raw deflate refuses 8 (it silently used 9 before 1.2.9)
_FLAGS: Final = frozenset({"server_no_context_takeover", "client_no_context_takeover"})
_BITS: Final = frozenset({"server_max_window_bits", "client_max_window_bits"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PerMessageDeflate:
    """What this side asks for and accepts in permessage-deflate, and how it compresses.

    The defaults trade a little compression for a lot of memory, measured with CPython 3.11's
    zlib as resident bytes per context after 16 KiB of English-like text (see
    `protocols.websocket` for the table): a 4 KiB window and memLevel 5 take ~38 KiB to compress
    and ~12 KiB to inflate, where zlib's defaults (32 KiB, memLevel 8) take ~162 KiB and ~28 KiB,
    for a compressed size of 41% instead of 37%.

    Attributes:
        server_max_window_bits: The server's LZ77 window, 2^N bytes (9-15).
        client_max_window_bits: The client's LZ77 window, 2^N bytes (9-15); a server can only
            impose it if the client's offer allows it (browsers and `websockets` do).
        server_no_context_takeover: The server resets its compressor after every message:
            no compressor memory between messages, worse compression of small messages.
        client_no_context_takeover: The client resets after every message, so the server's
            inflater is freed between messages.
        mem_level: zlib memLevel of this side's compressor (1-9): 5 takes 16 KiB, 8 takes 128.
        compression_level: zlib level of this side's compressor (0-9); 6 is zlib's default.
        min_size: Messages shorter than this many bytes are sent uncompressed (RFC 7692 §6
            allows it): under 128 B deflate saves a few bytes at ~2-5 µs each.
    """

    server_max_window_bits: int = 12
    client_max_window_bits: int = 12
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    mem_level: int = 5
    compression_level: int = 6
    min_size: int = 128

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            value = getattr(self, name)
            if not _MIN_ZLIB_BITS <= value <= _MAX_WINDOW_BITS:
                raise ValueError(f"{name}={value} must be in 9..15 (zlib cannot deflate with 8)")
        if not 1 <= self.mem_level <= 9:
            raise ValueError(f"mem_level={self.mem_level} must be in 1..9")
        if not 0 <= self.compression_level <= 9:
            raise ValueError(f"compression_level={self.compression_level} must be in 0..9")

    def offer(self) -> str:
        """Build a client's offer: `permessage-deflate; client_max_window_bits` plus our wishes."""
        parts = [EXTENSION_NAME]
        if self.server_no_context_takeover:
            parts.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            parts.append("client_no_context_takeover")
        if self.server_max_window_bits < _MAX_WINDOW_BITS:
            parts.append(f"server_max_window_bits={self.server_max_window_bits}")
        parts.append("client_max_window_bits")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeflateParams:
    """What a handshake agreed: each side's window and whether it resets per message."""

    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int
    """The server's window in bits; the client inflates with it (9-15)."""
    client_max_window_bits: int
    """The client's window in bits; the server inflates with it (9-15)."""
    header: str
    """The `Sec-WebSocket-Extensions` value of the server's response."""


Params = dict[str, int | None]
"""One offer's parameters: name to window bits, or None for a flag or a bare bits parameter."""


def parse_extensions(values: list[str]) -> list[tuple[str, Params | None]]:
    """Parse `Sec-WebSocket-Extensions` header values into (name, params) in order.

    params is None when the extension's parameters are malformed (unknown, repeated, or a bad
    value): RFC 7692 §7.1 has such an offer declined, not the handshake failed.
    """
    result: list[tuple[str, Params | None]] = []
    for value in values:
        for item in value.split(","):
            name, *raw_params = (part.strip() for part in item.split(";"))
            if name:
                result.append((name.lower(), _parse_params(raw_params)))
    return result


def _parse_params(raw_params: list[str]) -> Params | None:
    params: Params = {}
    for raw in raw_params:
        key, sep, raw_value = raw.partition("=")
        key = key.strip().lower()
        value = raw_value.strip().strip('"')
        if key in params:
            return None
        if (key in _FLAGS and not sep) or (key in _BITS and not sep):
            params[key] = None
        elif key in _BITS and value.isdigit() and value == str(int(value)):
            bits = int(value)
            if not _MIN_WINDOW_BITS <= bits <= _MAX_WINDOW_BITS:
                return None
            params[key] = bits
        else:
            return None
    return params


def negotiate(values: list[str], config: PerMessageDeflate) -> DeflateParams | None:
    """Accept the first acceptable permessage-deflate offer of a client, as a server.

    Args:
        values: The request's `Sec-WebSocket-Extensions` values.
        config: What this server wants.

    Returns:
        The agreed parameters (with the response header), or None to use no compression.
    """
    for name, params in parse_extensions(values):
        if name != EXTENSION_NAME or params is None:
            continue
        if "server_max_window_bits" in params and params["server_max_window_bits"] is None:
            continue  # server_max_window_bits needs a value (RFC 7692 §7.1.2.1)
        response = [EXTENSION_NAME]
        server_nct = "server_no_context_takeover" in params or config.server_no_context_takeover
        client_nct = "client_no_context_takeover" in params or config.client_no_context_takeover
        if server_nct:
            response.append("server_no_context_takeover")
        if client_nct:
            response.append("client_no_context_takeover")
        server_bits = config.server_max_window_bits
        if "server_max_window_bits" in params:
            server_bits = min(server_bits, params["server_max_window_bits"] or _MAX_WINDOW_BITS)
            if server_bits < _MIN_ZLIB_BITS:
                continue
            response.append(f"server_max_window_bits={server_bits}")
        client_bits = _MAX_WINDOW_BITS
        if "client_max_window_bits" in params:
            offered = params["client_max_window_bits"] or _MAX_WINDOW_BITS
            client_bits = min(config.client_max_window_bits, offered)
            response.append(f"client_max_window_bits={client_bits}")
        return DeflateParams(
            server_no_context_takeover=server_nct,
            client_no_context_takeover=client_nct,
            server_max_window_bits=server_bits,
            client_max_window_bits=max(client_bits, _MIN_ZLIB_BITS),
            header="; ".join(response),
        )
    return None


def accept_response(values: list[str], config: PerMessageDeflate) -> DeflateParams | None:
    """Check a server's `Sec-WebSocket-Extensions` against the offer `config.offer()` made.

    Returns:
        The agreed parameters, or None if the server accepted no extension.

    Raises:
        ValueError: The server's answer is not one the offer allows; the message says why.
    """
    extensions = parse_extensions(values)
    if not extensions:
        return None
    if len(extensions) > 1:
        raise ValueError(f"server accepted {len(extensions)} extensions; we offered one")
    name, params = extensions[0]
    header = ", ".join(values)
    if name != EXTENSION_NAME:
        raise ValueError(f"server accepted extension {name!r}, which we did not offer")
    if params is None:
        raise ValueError(f"server's permessage-deflate parameters are malformed: {header!r}")
    if config.server_no_context_takeover and "server_no_context_takeover" not in params:
        raise ValueError(
            f"server ignored our server_no_context_takeover (RFC 7692 §7.1.1.1): {header!r}"
        )
    server_bits = params.get("server_max_window_bits", _MAX_WINDOW_BITS)
    if server_bits is None:
        raise ValueError(f"server_max_window_bits without a value in {header!r}")
    if config.server_max_window_bits < _MAX_WINDOW_BITS and (
        "server_max_window_bits" not in params or server_bits > config.server_max_window_bits
    ):
        raise ValueError(
            f"server did not honour server_max_window_bits={config.server_max_window_bits}: "
            f"{header!r}"
        )
    client_bits = params.get("client_max_window_bits", config.client_max_window_bits)
    if client_bits is None:
        raise ValueError(f"client_max_window_bits without a value in {header!r}")
    if client_bits < _MIN_ZLIB_BITS:
        raise ValueError(
            f"server asks for client_max_window_bits={client_bits}; zlib cannot deflate with "
            "fewer than 9 window bits"
        )
    return DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in params,
        client_no_context_takeover="client_no_context_takeover" in params
        or config.client_no_context_takeover,
        server_max_window_bits=max(server_bits, _MIN_ZLIB_BITS),
        client_max_window_bits=min(client_bits, config.client_max_window_bits),
        header=header,
    )
