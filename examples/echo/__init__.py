"""Echo server: every frame back to its sender, unchanged."""
