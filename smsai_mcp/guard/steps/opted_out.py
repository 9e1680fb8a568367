"""Opt-outs: a number on the do-not-text list is never texted. The first destination-policy step."""

from __future__ import annotations

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal, utc_time
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.state.store import OptOut

__all__ = ["opted_out", "opted_out_refusal"]


async def opted_out(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    entry = await context.store.opt_out(prepared.number.e164)
    if entry is not None:
        raise opted_out_refusal(prepared.number, entry)
    return None


def opted_out_refusal(number: PhoneNumber, entry: OptOut) -> Refusal:
    return Refusal(
        f"{number.international} is on the do-not-text list since {utc_time(entry.since)}: this person asked "
        "not to be texted. Do not text this number. Only a person can take it off the list, by confirming "
        f"remove_opt_out's question or with `smsai-mcp opt-outs remove {number.e164}`.",
        code="opted_out",
    )
