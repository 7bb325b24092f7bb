"""Tests of actornet's runtime: dispatched Pykka actors, their mailboxes and pool."""
