"""TaggedUnion: a codec for messages declared as construct Structs behind an Enum tag."""

from __future__ import annotations

import dataclasses
import struct
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, final

import construct  # type: ignore[import-untyped]

from protocols._errors import LocalProtocolError, RemoteProtocolError
from protocols._fastpath import Defer, FastStruct, Reader, Writer, derive, derive_tag

if TYPE_CHECKING:
    import enum
    from collections.abc import Mapping

__all__ = ["TaggedUnion"]

M = TypeVar("M")
E = TypeVar("E", bound="enum.Enum")

# Everything construct 2.10.70 lets escape on hostile bytes (it wraps most failures, not all).
_PARSE_ERRORS = (construct.ConstructError, struct.error, UnicodeDecodeError)
# ... and on a bad message: a missing field is a KeyError, a wrong type may be a TypeError.
_BUILD_ERRORS = (
    construct.ConstructError,
    struct.error,
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
)


@final
@dataclasses.dataclass(frozen=True, slots=True)
class _Case:
    member: enum.Enum
    cls: type[Any]
    fields: tuple[str, ...]
    tag_bytes: bytes
    readers: tuple[Reader, ...] | None
    writers: tuple[Writer, ...] | None


@final
class TaggedUnion(Generic[M]):
    """Codec for a union of frozen dataclasses, each laid out by a construct `Struct` after a tag.

    The wire format is `Struct("tag" / Enum(tag, TagEnum), "body" / Switch(this.tag, {...},
    default=Error), Terminated)`: an unknown tag or trailing bytes fail. The construct definition is
    the single source of truth; a fast path derived from it (see `protocols._fastpath`) parses and
    builds the supported field types several times faster with the same checks, and each `Struct`
    it cannot handle uses plain construct.

    Example:
        ```python
        class Kind(enum.Enum):
            PING = 1

        @dataclass(frozen=True, slots=True, kw_only=True)
        class Ping:
            seq: int

        codec = TaggedUnion[Ping](Int8ub, {Kind.PING: (Ping, Struct("seq" / Int32ub))})
        ```

    Args:
        tag: construct field for the tag, such as `Int8ub`.
        cases: For each tag (members of one `enum.Enum` whose values are ints), the dataclass of the
            message and the `Struct` of its body. Each dataclass field must be a named subcon of
            its `Struct`; other named subcons must build from nothing (`Const`, `Padding`, ...).
        fast: Use the derived fast path where possible; False forces plain construct (for tests
            and benchmarks).

    Raises:
        ValueError: The cases are empty, mix Enum classes, reuse a dataclass, or a dataclass does
            not match its `Struct`.
    """

    __slots__ = ("_by_class", "_by_name", "_by_value", "_tag_layout", "format", "tags")

    def __init__(
        self,
        tag: Any,
        cases: Mapping[E, tuple[type[M], Any]],
        *,
        fast: bool = True,
    ) -> None:
        if not cases:
            raise ValueError("cases is empty; map at least one Enum member to (dataclass, Struct)")
        tags = {type(member) for member in cases}
        if len(tags) != 1:
            names = ", ".join(sorted(t.__name__ for t in tags))
            raise ValueError(f"cases mix Enum classes {names}; use members of one Enum")
        self.tags: type[enum.Enum] = tags.pop()
        """The Enum whose members name the messages."""
        self.format: Any = construct.Struct(
            "tag" / construct.Enum(tag, self.tags),
            "body"
            / construct.Switch(
                construct.this.tag,
                {member.name: body for member, (_, body) in cases.items()},
                default=construct.Error,
            ),
            construct.Terminated,
        )
        """The whole payload as one plain construct `Struct`; unsafe to `.compile()` for parsing."""
        self._tag_layout = derive_tag(tag) if fast else None
        self._by_name: dict[str, _Case] = {}
        self._by_value: dict[int, _Case] = {}
        self._by_class: dict[type[Any], _Case] = {}
        for member, (cls, body) in cases.items():
            if type(member.value) is not int:
                raise ValueError(f"{member} has value {member.value!r}; tags must be ints")
            case = self._make_case(member, cls, body, tag)
            if cls in self._by_class:
                raise ValueError(f"{cls.__name__} is mapped to two tags; give each message one")
            self._by_name[member.name] = case
            self._by_value[member.value] = case
            self._by_class[cls] = case

    def _make_case(self, member: enum.Enum, cls: type[Any], body: Any, tag: Any) -> _Case:
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"{cls!r} for {member} is not a dataclass")
        fields = tuple(field.name for field in dataclasses.fields(cls))
        subcons = {subcon.name: subcon for subcon in getattr(body, "subcons", ()) if subcon.name}
        missing = [name for name in fields if name not in subcons]
        if missing:
            raise ValueError(
                f"{cls.__name__} fields {missing} are not named subcons of its Struct "
                f"(which has {sorted(subcons)}); rename one or the other"
            )
        unbuildable = [
            name for name, sub in subcons.items() if name not in fields and not sub.flagbuildnone
        ]
        if unbuildable:
            raise ValueError(
                f"{cls.__name__}'s Struct needs values for {unbuildable}, which are not fields of "
                f"{cls.__name__}; add the fields or make the subcons Const/Computed"
            )
        fast: FastStruct | None = None
        if self._tag_layout is not None and set(subcons) == set(fields):
            fast = derive(cls.__name__, body)
        return _Case(
            member=member,
            cls=cls,
            fields=fields,
            tag_bytes=construct.Enum(tag, self.tags).build(member.name),
            readers=fast.readers if fast is not None else None,
            writers=fast.writers if fast is not None else None,
        )

    def __repr__(self) -> str:
        return f"TaggedUnion({self.tags.__name__}: {', '.join(self._by_name)})"

    @property
    def fast_path(self) -> frozenset[enum.Enum]:
        """Tags whose messages are parsed and built by the derived fast path."""
        return frozenset(case.member for case in self._by_name.values() if case.readers is not None)

    def decode(self, payload: bytes) -> M:
        """Parse one payload into the message its tag names.

        Args:
            payload: One frame's payload.

        Returns:
            A new instance of the dataclass mapped to the payload's tag.

        Raises:
            RemoteProtocolError: Unknown tag, truncated field, length prefix past the end, invalid
                UTF-8, or trailing bytes; the message names the field and the sizes.
        """
        layout = self._tag_layout
        if layout is None:
            return self._decode_plain(payload)
        if type(payload) is not bytes:
            payload = bytes(payload)
        if len(payload) < layout.size:
            raise RemoteProtocolError(
                f"payload of {len(payload)} bytes is shorter than the {layout.size}-byte "
                f"{self.tags.__name__} tag"
            )
        case = self._by_value.get(layout.unpack_from(payload)[0])
        if case is None:
            raise self._unknown_tag(layout.unpack_from(payload)[0])
        if case.readers is None:
            return self._decode_plain(payload)
        kwargs: dict[str, object] = {}
        pos = layout.size
        for read in case.readers:
            pos = read(payload, pos, kwargs)
        if pos != len(payload):
            raise RemoteProtocolError(
                f"{case.cls.__name__}: {len(payload) - pos} trailing bytes after the message "
                f"(it ends at byte {pos} of the {len(payload)}-byte payload)"
            )
        return cast("M", case.cls(**kwargs))

    def _unknown_tag(self, value: int) -> RemoteProtocolError:
        known = ", ".join(f"{case.member.name}={tag}" for tag, case in self._by_value.items())
        return RemoteProtocolError(
            f"unknown {self.tags.__name__} tag {value}; this side knows {known} "
            "(is the peer speaking another version?)"
        )

    def _decode_plain(self, payload: bytes) -> M:
        try:
            parsed = self.format.parse(payload)
        except _PARSE_ERRORS as exc:
            if isinstance(exc, construct.ExplicitError):
                tag = int(self.format.tag.parse(payload))
                if tag not in self._by_value:
                    raise self._unknown_tag(tag) from exc
            raise RemoteProtocolError(
                f"cannot parse {len(payload)}-byte payload as {self.tags.__name__}: "
                f"{_describe(exc)}"
            ) from exc
        case = self._by_name[str(parsed.tag)]
        body = parsed.body
        return cast("M", case.cls(**{name: body[name] for name in case.fields}))

    def encode(self, message: M) -> bytes:
        """Build the payload of a message: its tag, then its fields.

        Args:
            message: An instance of one of the mapped dataclasses.

        Returns:
            The payload, without framing.

        Raises:
            LocalProtocolError: The message is not of a mapped class, or a field does not fit (a
                string longer than its length prefix allows, an integer out of range, a wrong type).
        """
        case = self._by_class.get(type(message))
        if case is None:
            known = ", ".join(case.cls.__name__ for case in self._by_name.values())
            raise LocalProtocolError(
                f"cannot encode {type(message).__name__}: {self.tags.__name__} messages are {known}"
            )
        writers = case.writers
        if writers is not None and self._tag_layout is not None:
            out = [case.tag_bytes]
            try:
                for write in writers:
                    write(message, out)
            except Defer:
                pass
            else:
                return b"".join(out)
        return self._encode_plain(case, message)

    def _encode_plain(self, case: _Case, message: object) -> bytes:
        body = {name: getattr(message, name) for name in case.fields}
        try:
            return cast("bytes", self.format.build({"tag": case.member.name, "body": body}))
        except _BUILD_ERRORS as exc:
            raise LocalProtocolError(
                f"cannot encode {case.cls.__name__}: {_describe(exc)}"
            ) from exc


def _describe(exc: BaseException) -> str:
    # construct puts "Error in path (parsing) -> body -> room" on a first line of its own.
    return " ".join(str(exc).split("\n")) or type(exc).__name__
