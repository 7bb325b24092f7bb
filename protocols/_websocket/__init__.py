"""The parts of `protocols.websocket`, one concept per module; import from the public module."""
