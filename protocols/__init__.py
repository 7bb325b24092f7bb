"""Wire protocols as pure objects: bytes in, events out, and back. No sockets here."""

__all__: list[str] = []
