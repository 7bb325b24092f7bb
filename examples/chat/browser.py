"""The browser door: the chat over WebSocket, one `protocols.chat` payload per binary message.

The page in `web/` connects to `/chat` with subprotocol `actornet-chat.v1`;
every binary message is one chat payload exactly as docs/chat-protocol.md
defines it, without the 4-byte length prefix (WebSocket framing replaces it).
Text messages are refused by the protocol (close 1003). Everything else is
`BinaryChatSession`: only the framing of what goes out differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from examples.chat.binary import BinaryChatSession, to_message
from protocols import chat, websocket

if TYPE_CHECKING:
    from collections.abc import Collection

    from examples.chat.events import ChatEvent, Renderer
    from protocols.http import Handler

__all__ = ["CHAT_PATH", "SUBPROTOCOL", "BrowserChatSession", "browser_wire", "render"]

#: The WebSocket subprotocol the page and the server speak.
SUBPROTOCOL = "actornet-chat.v1"
#: Where the page opens its WebSocket.
CHAT_PATH = "/chat"

# Broadcast frames are uncompressed and unmasked: any browser connection may
# send them as they are, whatever it negotiated.
_FRAMES = websocket.WebSocketServer(chat.CODEC)

# Close code for a client that did not ask for the chat's subprotocol.
_POLICY_VIOLATION = 1008


def browser_wire(
    *,
    http_handler: Handler | None,
    allowed_origins: Collection[str | None] | None = None,
    compression: bool = True,
) -> websocket.WebSocketServer[chat.ChatMessage]:
    """Return the browser door's wire: HTTP pages, and the chat on /chat.

    Args:
        http_handler: Answers every request but the upgrade (the page, /metrics).
        allowed_origins: Origins whose pages may connect, or None for any.
        compression: Whether to negotiate permessage-deflate when a browser offers it.
    """
    return websocket.WebSocketServer(
        chat.CODEC,
        subprotocols=(SUBPROTOCOL,),
        websocket_paths=(CHAT_PATH,),
        allowed_origins=allowed_origins,
        http_handler=http_handler,
        compression=compression,
        # A chat payload is never larger than the binary door's frames.
        max_message_size=chat.MAX_FRAME_SIZE,
    )


def render(event: ChatEvent) -> bytes:
    """Encode a chat event as one WebSocket binary message (rooms call this once per broadcast)."""
    return _FRAMES.encode(to_message(event))


class BrowserChatSession(BinaryChatSession):
    """One chat client in a browser: `BinaryChatSession` behind WebSocket framing."""

    def door_renderer(self) -> Renderer:
        """Return `render`: WebSocket frames of chat payloads."""
        return render

    def on_connect(self) -> None:
        """Refuse a client that did not ask for the chat's subprotocol; else join the chat."""
        handshake = self.conn_handshake
        if not isinstance(handshake, websocket.Handshake) or handshake.subprotocol != SUBPROTOCOL:
            self.close(code=_POLICY_VIOLATION, reason=f"use subprotocol {SUBPROTOCOL}")
            return
        super().on_connect()
