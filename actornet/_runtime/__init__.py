"""Cheap actors under Pykka's API: dispatcher, mailbox, poller. Knows nothing of sockets."""
