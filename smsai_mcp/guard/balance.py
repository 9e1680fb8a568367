"""The account balance: read afresh for each confirmation question, and kept for check_balance's failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiError, InvalidBalance
from smsai_mcp.sms.estimate import usd

__all__ = ["BalanceCache"]


class BalanceCache:
    def __init__(self, api: SmsApi, *, ttl_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._ttl = ttl_seconds
        self._clock = clock
        self._credits: Decimal | None = None
        self._fetched_at = 0.0

    async def get(self) -> Decimal | None:
        """The balance, or None when the API cannot say right now (the question then leaves it out)."""
        if self._credits is None or self._clock() - self._fetched_at >= self._ttl:
            try:
                self.update(usd((await self._api.balance()).credits_usd))
            except InvalidBalance:
                self.forget()
            except ApiError:
                return self._credits
        return self._credits

    async def read_now(self) -> Decimal | None:
        """The balance read from the upstream now, for a question; None when it cannot say (never an older one)."""
        try:
            credits = usd((await self._api.balance()).credits_usd)
        except InvalidBalance:
            self.forget()
            return None
        except ApiError:
            return None
        self.update(credits)
        return credits

    def forget(self) -> None:
        # An upstream whose balance is not an amount makes an older figure doubtful too: show none until a valid one.
        self._credits = None

    def update(self, credits_usd: Decimal) -> None:
        self._credits = credits_usd
        self._fetched_at = self._clock()

    def charge(self, amount_usd: Decimal) -> None:
        if self._credits is not None:
            self._credits -= amount_usd
