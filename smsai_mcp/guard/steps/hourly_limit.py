"""Per-recipient hourly limit: stops an agent stuck in a loop from texting one number over and over."""

from __future__ import annotations

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.phone import PhoneNumber

__all__ = ["per_recipient_hourly_limit", "recipient_limit_refusal"]


async def per_recipient_hourly_limit(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    limit = context.settings.max_per_recipient_per_hour
    recent = await context.store.recent_to_recipient(prepared.number.e164, now=context.now)
    if recent >= limit:
        raise recipient_limit_refusal(prepared.number, recent, limit)
    return None


def recipient_limit_refusal(number: PhoneNumber, count: int, limit: int) -> Refusal:
    return Refusal(
        f"{number.international} has already been sent {count} message(s) in the past hour, the limit set by "
        f"SMSAI_MAX_PER_RECIPIENT_PER_HOUR ({limit}). Wait before texting this number again.",
        code="hourly_limit",
    )
