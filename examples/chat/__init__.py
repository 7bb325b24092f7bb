"""The example chat: rooms, nicks, history and presence, reachable over actornet.

The chat itself (`events`, `rules`, `room`, `directory`) knows no wire format.
Each protocol gets a session that translates its frames to chat commands and
chat events to its frames: `binary` for protocols.chat.
"""
