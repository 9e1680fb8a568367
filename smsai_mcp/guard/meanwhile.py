"""What may have changed while the person read the question (a batch's can take minutes): read again just before
each POST. A pause, the number's opt-out, or the start of the recipient's quiet hours stops it."""

from __future__ import annotations

from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.steps.opted_out import opted_out_refusal
from smsai_mcp.guard.steps.paused import pause_refusal
from smsai_mcp.guard.steps.quiet_hours import quiet_hours_refusal, quiet_now
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.state.store import StateStore

__all__ = ["stopped_meanwhile"]


async def stopped_meanwhile(
    store: StateStore, settings: Settings, number: PhoneNumber, *, now: float
) -> Refusal | None:
    """Why the POST to `number` may no longer go out, or None; the store's reads may raise."""
    pause = await store.pause_state()
    if pause is not None:
        return pause_refusal(pause)
    entry = await store.opt_out(number.e164)
    if entry is not None:
        return opted_out_refusal(number, entry)
    quiet = quiet_now(number, settings, now)
    return quiet_hours_refusal(quiet, now) if quiet is not None else None
