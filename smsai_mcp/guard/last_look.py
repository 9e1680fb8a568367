"""The last reads before the POST: what may have changed while the person was asked, which can take minutes.

The ledger re-checks the limits and budgets atomically as it reserves; these are the guards it does not hold.
"""

from __future__ import annotations

from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.steps.opted_out import opted_out_refusal
from smsai_mcp.guard.steps.paused import pause_refusal
from smsai_mcp.guard.steps.quiet_hours import quiet_hours_refusal, quiet_now
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.state.store import StateStore

__all__ = ["stopped_meanwhile"]


async def stopped_meanwhile(store: StateStore, settings: Settings, number: PhoneNumber, now: float) -> Refusal | None:
    """A pause set, an opt-out added, or quiet hours begun since the checks: the refusal that stops the POST."""
    pause = await store.pause_state()
    if pause is not None:
        return pause_refusal(pause)
    opt_out = await store.opt_out(number.e164)
    if opt_out is not None:
        return opted_out_refusal(number, opt_out)
    quiet = quiet_now(number, settings, now)
    return quiet_hours_refusal(quiet, now) if quiet is not None else None
