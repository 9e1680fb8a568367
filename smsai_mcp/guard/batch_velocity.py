"""The velocity limits across one batch: each recipient is checked as if the batch's earlier ones were sent.

The ledger's reservation of the whole batch re-checks them cumulatively; checking them the same way first reports
the recipients past a limit as refused (the rest are asked and sent), instead of refusing the whole batch after the
person confirmed it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import Refusal, ledger_refusal
from smsai_mcp.guard.steps.velocity import number_block_refusal, recipients_per_hour_refusal
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.state.store import StateStore, StoreUnavailable

__all__ = ["BatchVelocity"]


@dataclass(slots=True)
class BatchVelocity:
    settings: Settings
    new_numbers: int = 0  # recipients of this batch so far that no one texted in the hour
    new_in_block: Counter[str] = field(default_factory=Counter)

    async def refusal(self, store: StateStore, number: PhoneNumber, now: float) -> Refusal | None:
        """Why this recipient would pass a limit once the batch's earlier ones are sent; else it is counted in."""
        try:
            texted = await store.velocity(number.e164, now=now)
        except StoreUnavailable as exc:  # before any POST: a refusal that says nothing was sent
            raise ledger_refusal(exc) from None
        if texted.already_texted:
            return None
        recipients = texted.recipients + self.new_numbers
        if recipients >= self.settings.max_recipients_per_hour:
            return recipients_per_hour_refusal(number, recipients, self.settings.max_recipients_per_hour)
        block = number.e164[:-2]
        in_block = texted.block_recipients + self.new_in_block[block]
        if in_block >= self.settings.max_per_number_block_per_hour:
            return number_block_refusal(number, in_block, self.settings.max_per_number_block_per_hour)
        self.new_numbers += 1
        self.new_in_block[block] += 1
        return None
