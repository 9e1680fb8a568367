"""A wall clock that a test moves by hand, for `build_server(clock=...)`: windows and expiries pass at once."""

from __future__ import annotations

import time

__all__ = ["FakeClock"]


class FakeClock:
    """Unix seconds, starting at the real time and standing still until `advance` moves them."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def __call__(self) -> float:
        return self._now

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
