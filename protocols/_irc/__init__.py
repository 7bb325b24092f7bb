"""The parts of `protocols.irc`, one concept per module; import from the public module."""
