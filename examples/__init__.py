"""Runnable examples built on actornet's public API, as a user would write them."""
