"""Relay server: every frame to every connected client, in one order."""
