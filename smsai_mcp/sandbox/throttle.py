"""Laravel's per-minute rate limiter: a window opens at a key's first hit and allows `limit` hits until it closes."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until the window closes; meaningful when refused
    reset_at: int  # Unix time the window closes

    def headers(self) -> dict[str, str]:
        if self.allowed:
            return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        return {
            "Retry-After": str(self.retry_after),
            "X-RateLimit-Reset": str(self.reset_at),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
        }


class Throttle:
    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window opened at, hits)

    def hit(self, key: str) -> Decision:
        now = self._clock()
        opened, hits = self._windows.get(key, (now, 0))
        if now - opened >= WINDOW_SECONDS:
            opened, hits = now, 0
        left = opened + WINDOW_SECONDS - now
        retry_after = max(1, math.ceil(left))
        reset_at = math.ceil(time.time() + left)
        if hits >= self.limit:  # refused attempts do not count, as in Laravel
            return Decision(False, self.limit, 0, retry_after, reset_at)
        self._windows[key] = (opened, hits + 1)
        return Decision(True, self.limit, self.limit - hits - 1, retry_after, reset_at)
