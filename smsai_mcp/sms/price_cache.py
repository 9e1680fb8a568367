"""The price list, fetched once and kept for a while, so a steady-state send costs one upstream request.

It is never older than ten minutes (CONTRACT section 4), counted from when it was fetched from the upstream, also
when the copy came from another process through the shared state. When a charge shows it is out of date, `forget`
makes this process, and every other sharing the state, fetch it again before its next estimate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import anyio
from pydantic import BaseModel, ValidationError

from smsai_mcp.client.models import Country, PriceRows

if TYPE_CHECKING:
    from smsai_mcp.sms.estimate import PriceList

__all__ = ["DEFAULT_TTL_SECONDS", "PriceCache", "SharedCopy"]

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 600.0


class SharedCopy(Protocol):
    """One copy of the price list for every process that shares a state store."""

    async def read(self, ttl_seconds: float, produce: Callable[[], Awaitable[str]]) -> str:
        """The shared copy, or the one `produce` makes when there is none, kept for `ttl_seconds`."""

    async def generation(self) -> int:
        """A number that changes whenever any process forgets the shared copy."""

    async def forget(self) -> None:
        """Drop the shared copy and change the generation."""


class _Stored(BaseModel):
    fetched_at: float
    countries: list[Country]
    unpriced: dict[str, str]


class PriceCache:
    """A single-flight TTL cache: concurrent callers share one fetch; a failed fetch is not cached."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[PriceRows]],
        *,
        shared: SharedCopy | None = None,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._shared = shared
        self._ttl = ttl_seconds
        self._clock = clock  # wall clock: a shared copy's age is compared across processes
        self._prices: PriceList | None = None
        self._generation = 0
        self._lock = anyio.Lock()

    async def get(self) -> PriceList:
        generation = await self._shared_generation()
        if self._current(generation):
            assert self._prices is not None
            return self._prices
        async with self._lock:
            if not self._current(generation):  # another caller may have refreshed while we waited
                prices = await self._load()
                if not self._young(prices) and self._shared is not None:
                    # A copy that a replica with a longer TTL (or a clock running behind) left: never used.
                    await self._shared.forget()
                    generation = await self._shared.generation()
                    prices = await self._load()
                self._prices, self._generation = prices, generation
            assert self._prices is not None
            return self._prices

    async def forget(self) -> None:
        """The list is out of date: fetch it again before the next estimate, here and in every process sharing it."""
        self._prices = None
        if self._shared is not None:
            await self._shared.forget()

    async def _shared_generation(self) -> int:
        if self._shared is None:
            return 0
        try:
            return await self._shared.generation()
        except Exception:  # a store out of reach stops sends by itself; estimates go on with a young local copy
            logger.warning("could not read whether the shared price list was forgotten", exc_info=True)
            return self._generation

    def _current(self, generation: int) -> bool:
        return self._prices is not None and generation == self._generation and self._young(self._prices)

    def _young(self, prices: PriceList) -> bool:
        return 0 <= self._clock() - prices.fetched_at < self._ttl

    async def _load(self) -> PriceList:
        from smsai_mcp.sms.estimate import PriceList  # with the send path: a server starts without estimating

        if self._shared is None:
            return PriceList.from_rows(await self._fetch(), fetched_at=self._clock())
        text = await self._shared.read(self._ttl, self._produce)
        try:
            stored = _Stored.model_validate_json(text)
        except ValidationError:
            logger.warning("the shared copy of the price list could not be read; fetching it again")
            await self._shared.forget()
            stored = _Stored.model_validate_json(await self._shared.read(self._ttl, self._produce))
        return PriceList.of(stored.countries, unpriced=stored.unpriced, fetched_at=stored.fetched_at)

    async def _produce(self) -> str:
        rows = await self._fetch()
        stored = _Stored(fetched_at=self._clock(), countries=rows.countries, unpriced=rows.unpriced)
        return stored.model_dump_json()
