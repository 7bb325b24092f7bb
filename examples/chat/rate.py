"""TokenBucket: the rate limit on one user's commands, with its defaults."""

from __future__ import annotations

import time

#: Commands a client may send in a burst...
RATE_BURST = 20
#: ...and per second after it.
RATE_PER_SECOND = 10.0


class TokenBucket:
    """Rate limiter: `burst` commands at once, `per_second` on average."""

    __slots__ = ("burst", "per_second", "stamp", "tokens")

    def __init__(self, burst: float, per_second: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        """Spend one token if there is one; return whether there was."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
