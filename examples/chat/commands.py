"""What a user asks the chat, independent of any wire format.

The incoming twin of `events`: a door decodes its wire messages into these
commands and hands them to the user's `ChatUser`, which answers with events.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Register:
    """Claim `nick` as the first nick of this connection."""

    nick: str


@dataclass(frozen=True, slots=True)
class ChangeNick:
    """Claim `nick` in place of the registered one."""

    nick: str


@dataclass(frozen=True, slots=True)
class Join:
    """Enter `room`, creating it if needed."""

    room: str


@dataclass(frozen=True, slots=True)
class Leave:
    """Leave `room`, telling its members `reason`."""

    room: str
    reason: str


@dataclass(frozen=True, slots=True)
class Say:
    """Say `text` in `room` (`notice`: see `events.MessageSaid`)."""

    room: str
    text: str
    notice: bool = False


@dataclass(frozen=True, slots=True)
class SetTopic:
    """Set the topic of `room` ("" clears it)."""

    room: str
    topic: str


@dataclass(frozen=True, slots=True)
class Whisper:
    """Send `text` to the user called `to` alone (`notice`: see `events.MessageSaid`)."""

    to: str
    text: str
    notice: bool = False


@dataclass(frozen=True, slots=True)
class ListRooms:
    """Ask for the list of rooms."""


@dataclass(frozen=True, slots=True)
class ListNames:
    """Ask for the members of `room`, joined or not; the answer carries `tag`."""

    room: str
    tag: str = ""


@dataclass(frozen=True, slots=True)
class ShowTopic:
    """Ask for the topic of `room`, a room the user is in."""

    room: str


@dataclass(frozen=True, slots=True)
class Lookup:
    """Ask about the user called `nick` (answered by `events.UserInfo`, carrying `tag`)."""

    nick: str
    tag: str = ""


@dataclass(frozen=True, slots=True)
class SetAway:
    """Mark the user away with `message`, or back ("")."""

    message: str


@dataclass(frozen=True, slots=True)
class LeaveAll:
    """Leave every room the user is in, telling their members `reason`."""

    reason: str


@dataclass(frozen=True, slots=True)
class Quit:
    """Leave every room, telling their members `reason`, and disconnect."""

    reason: str


ChatCommand = (
    Register
    | ChangeNick
    | Join
    | Leave
    | LeaveAll
    | Say
    | SetTopic
    | ShowTopic
    | Whisper
    | ListRooms
    | ListNames
    | Lookup
    | SetAway
    | Quit
)
