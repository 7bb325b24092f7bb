"""Benchmarks for actornet; run one with `python -m bench.<name>`."""
