"""A ring of actors passing a token: actornet's runtime at a glance."""
