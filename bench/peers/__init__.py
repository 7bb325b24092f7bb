"""Peer servers the benchmarks measure actornet against, same framing, same machine."""
