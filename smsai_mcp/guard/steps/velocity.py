"""Velocity: how many distinct numbers may be texted in any rolling hour, in all and per block of 100.

An agent tricked into texting many numbers, or into texting neighbouring numbers one after another (the
pattern of SMS-pumping fraud, where each message earns the fraudster a share), is stopped here. A number
already texted in that hour does not count again.
"""

from __future__ import annotations

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.phone import PhoneNumber

__all__ = ["number_block", "number_block_refusal", "recipients_per_hour", "recipients_per_hour_refusal"]


async def recipients_per_hour(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    texted = await context.velocity(prepared.number.e164)
    limit = context.settings.max_recipients_per_hour
    if not texted.already_texted and texted.recipients >= limit:
        raise recipients_per_hour_refusal(prepared.number, texted.recipients, limit)
    return None


async def number_block(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    texted = await context.velocity(prepared.number.e164)
    limit = context.settings.max_per_number_block_per_hour
    if not texted.already_texted and texted.block_recipients >= limit:
        raise number_block_refusal(prepared.number, texted.block_recipients, limit)
    return None


def recipients_per_hour_refusal(number: PhoneNumber, count: int, limit: int) -> Refusal:
    return Refusal(
        f"{count} different numbers have been texted in the past hour, the limit set by "
        f"SMSAI_MAX_RECIPIENTS_PER_HOUR ({limit}), and {number.international} would be one more. Wait until the "
        "numbers texted earliest are an hour old, or ask the user to raise the limit.",
        code="recipients_per_hour",
    )


def number_block_refusal(number: PhoneNumber, count: int, limit: int) -> Refusal:
    block = number.e164[:-2] + "xx"
    return Refusal(
        f"{count} numbers of the block {block} (numbers equal but for their last two digits) have been texted in "
        f"the past hour, the limit set by SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR ({limit}); texting neighbouring "
        f"numbers is the pattern of SMS-pumping fraud. Check with the user that {number.international} is really "
        "meant, then wait an hour or ask them to raise the limit.",
        code="number_block",
    )
