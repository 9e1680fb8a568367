"""What a guard step may read besides the send: the policy, the ledger, the price list, and now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from smsai_mcp.client.errors import ApiError
from smsai_mcp.config import Settings
from smsai_mcp.guard.reconcile import Reconciler
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.estimate import Estimate, UnpricedDestination, estimate_message
from smsai_mcp.sms.money import utc_day, utc_month
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.store import StateStore, Velocity

__all__ = ["GuardContext", "Step"]


@dataclass(slots=True)
class GuardContext:
    """One send's view of the world. The estimate, the spend and the velocity are read once, when a step first asks."""

    settings: Settings
    store: StateStore
    prices: PriceCache
    reconciler: Reconciler
    now: float
    _estimate: Estimate | None = field(default=None, init=False)
    _spent_today_micro: int | None = field(default=None, init=False)
    _spent_this_month_micro: int | None = field(default=None, init=False)
    _velocity: Velocity | None = field(default=None, init=False)

    async def estimate(self, prepared: PreparedSend) -> Estimate:
        """The send's estimate; a country the price list does not list or price is refused."""
        if self._estimate is None:
            try:
                prices = await self.prices.get()
            except ApiError as exc:
                raise Refusal(exc.message, code="price_list_unavailable") from None
            try:
                self._estimate = estimate_message(prepared.number, prepared.body, prices)
            except UnpricedDestination as exc:
                raise Refusal(str(exc), code="country_unpriced") from None
            except ValueError as exc:
                raise Refusal(str(exc), code="country_not_listed") from None
        return self._estimate

    async def spent_today_micro(self) -> int:
        if self._spent_today_micro is None:
            self._spent_today_micro = await self.store.spent_micro(utc_day(self.now))
        return self._spent_today_micro

    async def spent_this_month_micro(self) -> int:
        if self._spent_this_month_micro is None:
            self._spent_this_month_micro = await self.store.spent_month_micro(utc_month(self.now))
        return self._spent_this_month_micro

    async def velocity(self, recipient: str) -> Velocity:
        if self._velocity is None:
            self._velocity = await self.store.velocity(recipient, now=self.now)
        return self._velocity


# One signature for every step: it passes (None), answers the call without a send (an earlier outcome), or raises
# Refusal (or OutcomeUnknown) with a code and a sentence.
Step = Callable[[PreparedSend, GuardContext], Awaitable[SendOutcome | None]]
