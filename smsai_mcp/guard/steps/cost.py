"""The estimate, the per-message cap and the daily budget: what a message may cost."""

from __future__ import annotations

from decimal import Decimal

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.money import micro, usd_of_micro

__all__ = ["budget_refusal", "daily_budget", "estimate", "per_message_cap"]


async def estimate(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    """A country the price list does not list, or lists without a usable price, is refused here."""
    await context.estimate(prepared)
    return None


async def per_message_cap(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    estimated = await context.estimate(prepared)
    cap = context.settings.max_cost_per_message_usd
    if estimated.estimated_cost_usd > cap:
        raise Refusal(
            f"This message would cost about ${estimated.estimated_cost_usd:.4f} ({estimated.segments} segment(s) "
            f"of {estimated.encoding} at ${estimated.unit_price_usd} each), above the per-message cap of ${cap} "
            f"(SMSAI_MAX_COST_PER_MESSAGE_USD).{_suggestion_under(cap, estimated)} Shorten the text, avoid characters "
            "that force UCS-2, or ask the user to raise the cap.",
            code="cost_cap",
            estimate=estimated,
        )
    return None


def _suggestion_under(cap: Decimal, estimated: Estimate) -> str:
    """The GSM-7 suggestion, named when it alone would bring the message under the cap (never applied here)."""
    suggestion = estimated.gsm7_suggestion
    if suggestion is None or suggestion.estimated_cost_usd > cap:
        return ""
    return (
        f" Replacing its typographic characters with plain ones, as estimate_sms's gsm7_suggestion shows, would "
        f"make it GSM-7 and about ${suggestion.estimated_cost_usd:.4f} ({suggestion.segments} segment(s)), under the "
        "cap; ask the user before sending the rewritten text."
    )


async def daily_budget(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    estimated = await context.estimate(prepared)
    spent = await context.spent_today_micro()
    budget = context.settings.daily_budget_usd
    if spent + micro(estimated.estimated_cost_usd) > micro(budget):
        raise budget_refusal(estimated, spent, budget)
    return None


def budget_refusal(estimated: Estimate, spent_micro: int, budget: Decimal, *, monthly: bool = False) -> Refusal:
    """The daily budget's refusal, or with `monthly` the monthly one's: the same sentence for its own period."""
    spent = usd_of_micro(spent_micro)
    left = max(budget - spent, Decimal(0))
    period, name, so_far, next_one = (
        ("this month's", "monthly", " this UTC month", "month") if monthly else ("today's", "daily", "", "day")
    )
    return Refusal(
        f"This message (about ${estimated.estimated_cost_usd:.4f}) would take {period} spending past the {name} "
        f"budget of ${budget} (SMSAI_{name.upper()}_BUDGET_USD): ${spent:.4f} is already spent or reserved{so_far}, "
        f"${left:.4f} is left. Wait for the next UTC {next_one}, or ask the user to raise the budget.",
        code=f"{name}_budget",
        estimate=estimated,
    )
