"""Fast parsers and builders derived from construct `Struct` definitions.

Theory of operation: plain construct parses a 29-byte message ~20x slower than hand-written
`struct` code and builds it ~30x slower, and its `.compile()` drops length checks, so it is unsafe
on hostile input. This module walks a `Struct`'s subcons once, at definition time, and turns the
ones it understands into small closures that do what construct does, with every check kept:

| construct                               | read                       | write                    |
|-----------------------------------------|----------------------------|--------------------------|
| `FormatField` (`Int8ub` ... `Float64l`) | `struct.unpack_from`       | `struct.pack`            |
| `Bytes(n)` with a constant `n`          | joined to the `struct` run | exact length, else defer |
| `PascalString(Int*, "utf8" or "ascii")` | length fits, strict decode | length fits the prefix   |
| `Prefixed(Int*, GreedyBytes)`           | length fits                | length fits the prefix   |

Neighbouring fixed-width fields share one `struct.Struct`. A `Struct` holding anything else
(unnamed subcons, `Const`, `VarInt`, `parsed=` hooks, nested structs, ...) gets no fast path:
`derive` returns None and the caller uses plain construct, so the construct definition stays the
single source of truth. On build, a value of an unusual type (a `str` subclass, `bytearray`, an
`int` for `Bytes`) raises `Defer`, so construct's own coercion rules decide, as they would without
the fast path.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

import construct  # type: ignore[import-untyped]

from protocols._errors import LocalProtocolError, RemoteProtocolError

__all__ = ["Defer", "FastStruct", "Reader", "Writer", "derive", "derive_tag"]

Reader = Callable[[bytes, int, dict[str, object]], int]
"""Read one or more fields at an offset into a dict of keyword arguments; return the next offset."""

Writer = Callable[[object, list[bytes]], None]
"""Append the encoding of one or more fields of a message to a list of parts."""

_INTEGER_CODES = frozenset("bBhHlLqQ")
_NUMBER_CODES = _INTEGER_CODES | frozenset("efd?")
# Codec names (as `codecs.lookup` spells them) whose decode and encode raise only Unicode*Error.
_ENCODINGS = frozenset({"utf-8", "ascii"})
# What struct.pack raises for a value it cannot pack; construct turns each into FormatFieldError.
_PACK_ERRORS = (struct.error, OverflowError, TypeError, ValueError)


class Defer(Exception):  # noqa: N818 - a signal to the caller, not an error
    """Signal that a value needs construct's own coercion rules: build the message the plain way."""


@dataclass(frozen=True, slots=True)
class _Fixed:
    name: str
    code: str  # struct code without byte order: "I", "5s"
    order: str  # "<", ">", "=", or "" for bytes, which have no byte order
    size: int
    is_bytes: bool


@dataclass(frozen=True, slots=True)
class _Prefixed:
    name: str
    length: struct.Struct
    encoding: str | None  # None for raw bytes


@final
class FastStruct:
    """Readers and writers equivalent to one construct `Struct`, in field order."""

    __slots__ = ("readers", "writers")

    def __init__(self, readers: tuple[Reader, ...], writers: tuple[Writer, ...]) -> None:
        self.readers = readers
        """Closures that read the fields in order."""
        self.writers = writers
        """Closures that write the fields in order."""


def derive_tag(subcon: Any) -> struct.Struct | None:
    """Return a `struct.Struct` for an integer `FormatField`, or None for anything else."""
    if type(subcon) is not construct.FormatField or subcon.parsed is not None:
        return None
    fmtstr: str = subcon.fmtstr
    if fmtstr[1:] not in _INTEGER_CODES:
        return None
    return struct.Struct(fmtstr)


def derive(where: str, definition: Any) -> FastStruct | None:
    """Derive a fast path from a construct `Struct`, or return None if any subcon is unsupported.

    Args:
        where: Name used in error messages, such as the message class name.
        definition: A `construct.Struct`.

    Returns:
        The fast path, or None: then use plain construct for this `Struct`.
    """
    if type(definition) is not construct.Struct or definition.parsed is not None:
        return None
    fields: list[_Fixed | _Prefixed] = []
    for subcon in definition.subcons:
        field = _classify(subcon)
        if field is None:
            return None
        fields.append(field)
    readers: list[Reader] = []
    writers: list[Writer] = []
    for group in _group_fixed_runs(fields):
        if isinstance(group, _Prefixed):
            readers.append(_prefixed_reader(where, group))
            writers.append(_prefixed_writer(where, group))
        else:
            layout = struct.Struct(_run_format(group))
            readers.append(_fixed_reader(where, group, layout))
            writers.append(_fixed_writer(where, group, layout))
    return FastStruct(tuple(readers), tuple(writers))


def _classify(subcon: Any) -> _Fixed | _Prefixed | None:  # noqa: PLR0911 - one exit per rule
    if type(subcon) is not construct.Renamed or not subcon.name or subcon.parsed is not None:
        return None
    name: str = subcon.name
    inner = subcon.subcon
    if inner.parsed is not None:
        return None
    if type(inner) is construct.FormatField and inner.fmtstr[1:] in _NUMBER_CODES:
        order, code = inner.fmtstr[0], inner.fmtstr[1:]
        return _Fixed(name, code, order, struct.calcsize(inner.fmtstr), is_bytes=False)
    if type(inner) is construct.Bytes and type(inner.length) is int:
        return _Fixed(name, f"{inner.length}s", "", inner.length, is_bytes=True)
    encoding: str | None = None
    if type(inner) is construct.StringEncoded:
        encoding = _known_encoding(inner.encoding)
        if encoding is None:
            return None
        inner = inner.subcon
    if (
        type(inner) is construct.Prefixed
        and inner.subcon is construct.GreedyBytes
        and not inner.includelength
        and inner.parsed is None
    ):
        length = derive_tag(inner.lengthfield)
        if length is not None:
            return _Prefixed(name, length, encoding)
    return None


def _known_encoding(encoding: object) -> str | None:
    if not isinstance(encoding, str):
        return None
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return None
    return name if name in _ENCODINGS else None


def _group_fixed_runs(
    fields: list[_Fixed | _Prefixed],
) -> list[_Prefixed | tuple[_Fixed, ...]]:
    groups: list[_Prefixed | tuple[_Fixed, ...]] = []
    run: list[_Fixed] = []
    order = ""
    for field in fields:
        if isinstance(field, _Fixed) and (not field.order or not order or field.order == order):
            run.append(field)
            order = order or field.order
            continue
        if run:
            groups.append(tuple(run))
            run, order = [], ""
        if isinstance(field, _Fixed):
            run, order = [field], field.order
        else:
            groups.append(field)
    if run:
        groups.append(tuple(run))
    return groups


def _run_format(run: tuple[_Fixed, ...]) -> str:
    order = next((field.order for field in run if field.order), ">")
    return order + "".join(field.code for field in run)


def _truncated(where: str, run: tuple[_Fixed, ...], data: bytes, pos: int) -> RemoteProtocolError:
    for field in run:
        if pos + field.size > len(data):
            return RemoteProtocolError(
                f"{where}.{field.name}: needs {field.size} bytes at offset {pos}, but the "
                f"{len(data)}-byte payload has {len(data) - pos} left; the message is truncated"
            )
        pos += field.size
    raise AssertionError("_truncated called for a run that fits")  # pragma: no cover


def _fixed_reader(where: str, run: tuple[_Fixed, ...], layout: struct.Struct) -> Reader:
    size = layout.size
    unpack_from = layout.unpack_from
    if len(run) == 1:
        name = run[0].name

        def read_field(data: bytes, pos: int, kwargs: dict[str, object]) -> int:
            end = pos + size
            if end > len(data):
                raise _truncated(where, run, data, pos)
            kwargs[name] = unpack_from(data, pos)[0]
            return end

        return read_field

    names = tuple(field.name for field in run)

    def read_fields(data: bytes, pos: int, kwargs: dict[str, object]) -> int:
        end = pos + size
        if end > len(data):
            raise _truncated(where, run, data, pos)
        kwargs.update(zip(names, unpack_from(data, pos), strict=True))
        return end

    return read_fields


def _prefixed_reader(where: str, field: _Prefixed) -> Reader:
    name, encoding = field.name, field.encoding
    prefix_size = field.length.size
    unpack_from = field.length.unpack_from

    def read_length(data: bytes, pos: int) -> tuple[int, int]:
        start = pos + prefix_size
        if start > len(data):
            raise RemoteProtocolError(
                f"{where}.{name}: needs a {prefix_size}-byte length prefix at offset {pos}, but "
                f"the {len(data)}-byte payload has {len(data) - pos} left; the message is truncated"
            )
        (size,) = unpack_from(data, pos)
        end: int = start + size
        if size < 0 or end > len(data):
            raise RemoteProtocolError(
                f"{where}.{name}: length prefix declares {size} bytes, but the {len(data)}-byte "
                f"payload has {len(data) - start} left after it"
            )
        return start, end

    if encoding is None:

        def read_bytes(data: bytes, pos: int, kwargs: dict[str, object]) -> int:
            start, end = read_length(data, pos)
            kwargs[name] = data[start:end]
            return end

        return read_bytes

    def read_string(data: bytes, pos: int, kwargs: dict[str, object]) -> int:
        # Inlined read_length: strings are the common case and a call costs ~10% here.
        start = pos + prefix_size
        if start <= len(data):
            (size,) = unpack_from(data, pos)
            end: int = start + size
            if size >= 0 and end <= len(data):
                try:
                    kwargs[name] = data[start:end].decode(encoding)
                except UnicodeDecodeError as exc:
                    raise RemoteProtocolError(
                        f"{where}.{name}: invalid {encoding} at byte {exc.start} of the "
                        f"{size}-byte string ({exc.reason}); the peer must send {encoding}"
                    ) from exc
                return end
        read_length(data, pos)  # raises the precise error
        raise AssertionError("read_length accepted what read_string refused")  # pragma: no cover

    return read_string


def _describe_pack_error(where: str, run: tuple[_Fixed, ...], message: object) -> str:
    for field in run:
        value = getattr(message, field.name)
        fmt = field.order + field.code
        try:
            struct.pack(fmt, value)
        except _PACK_ERRORS as exc:
            if field.code in _INTEGER_CODES and isinstance(value, int):
                bits = 8 * field.size
                low, high = (
                    (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
                    if field.code.islower()
                    else (0, (1 << bits) - 1)
                )
                return f"{where}.{field.name}={value} does not fit {fmt} ({low}..{high})"
            return f"{where}.{field.name}={value!r:.60} cannot be packed as {fmt}: {exc}"
    return f"{where}: fields {', '.join(field.name for field in run)} cannot be packed together"


def _fixed_writer(where: str, run: tuple[_Fixed, ...], layout: struct.Struct) -> Writer:
    pack = layout.pack
    names = tuple(field.name for field in run)
    sized = tuple((field.name, field.size) for field in run if field.is_bytes)

    def write_fields(message: object, out: list[bytes]) -> None:
        for name, size in sized:
            value = getattr(message, name)
            if type(value) is not bytes or len(value) != size:
                raise Defer
        try:
            out.append(pack(*[getattr(message, name) for name in names]))
        except _PACK_ERRORS as exc:
            raise LocalProtocolError(_describe_pack_error(where, run, message)) from exc

    if sized or len(run) > 1:
        return write_fields
    name = names[0]

    def write_field(message: object, out: list[bytes]) -> None:
        try:
            out.append(pack(getattr(message, name)))
        except _PACK_ERRORS as exc:
            raise LocalProtocolError(_describe_pack_error(where, run, message)) from exc

    return write_field


def _prefixed_writer(where: str, field: _Prefixed) -> Writer:
    name, encoding = field.name, field.encoding
    pack = field.length.pack
    code = field.length.format[1:]
    bits = 8 * field.length.size - (1 if code.islower() else 0)
    limit = (1 << bits) - 1
    unit = f"bytes of {encoding}" if encoding is not None else "bytes"

    def append(data: bytes, out: list[bytes]) -> None:
        if len(data) > limit:
            raise LocalProtocolError(
                f"{where}.{name}: {len(data)} {unit} exceed the {limit}-byte limit of its "
                f"{field.length.format} length prefix; shorten the value or widen the prefix"
            )
        out.append(pack(len(data)))
        out.append(data)

    if encoding is None:

        def write_bytes(message: object, out: list[bytes]) -> None:
            value = getattr(message, name)
            if type(value) is not bytes:
                raise Defer
            append(value, out)

        return write_bytes

    def write_string(message: object, out: list[bytes]) -> None:
        value = getattr(message, name)
        if type(value) is not str:
            raise Defer
        try:
            data = value.encode(encoding)
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(
                f"{where}.{name}: character {exc.object[exc.start : exc.end]!r} at index "
                f"{exc.start} cannot be encoded as {encoding} ({exc.reason})"
            ) from exc
        append(data, out)

    return write_string
