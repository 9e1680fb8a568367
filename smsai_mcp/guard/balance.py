"""The account balance, read afresh for each confirmation question: an older figure is never shown."""

from __future__ import annotations

from decimal import Decimal

from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiError
from smsai_mcp.sms.money import usd

__all__ = ["BalanceReader"]


class BalanceReader:
    def __init__(self, api: SmsApi) -> None:
        self._api = api

    async def read_now(self) -> Decimal | None:
        """The balance read from the upstream now, for a question; None when it cannot say (not an amount, or out
        of reach): the question then leaves it out."""
        try:
            return usd((await self._api.balance()).credits_usd)
        except ApiError:
            return None
