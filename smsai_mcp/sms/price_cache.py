"""The price list, fetched once and kept for a while, so a steady-state send costs one upstream request."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio

from smsai_mcp.client.models import Country
from smsai_mcp.sms.estimate import PriceList

__all__ = ["PriceCache"]

DEFAULT_TTL_SECONDS = 900.0


class PriceCache:
    """A single-flight TTL cache: concurrent callers share one fetch; a failed fetch is not cached."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[list[Country]]],
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._prices: PriceList | None = None
        self._fetched_at = 0.0
        self._lock = anyio.Lock()

    async def get(self) -> PriceList:
        if self._fresh():
            assert self._prices is not None
            return self._prices
        async with self._lock:
            if not self._fresh():  # another caller may have refreshed while we waited
                self._prices = PriceList.of(await self._fetch())
                self._fetched_at = self._clock()
            assert self._prices is not None
            return self._prices

    def _fresh(self) -> bool:
        return self._prices is not None and self._clock() - self._fetched_at < self._ttl
