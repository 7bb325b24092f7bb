"""WebSocket echo server: every message back to its sender, with its type."""
