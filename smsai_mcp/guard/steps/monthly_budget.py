"""The monthly budget: spend allowed per UTC calendar month (SMSAI_MONTHLY_BUDGET_USD), beside the daily one."""

from __future__ import annotations

from decimal import Decimal

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.money import micro, usd_of_micro

__all__ = ["monthly_budget", "monthly_budget_refusal"]


async def monthly_budget(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    budget = context.settings.monthly_budget_usd
    if budget is None:
        return None
    estimated = await context.estimate(prepared)
    spent = await context.spent_this_month_micro()
    if spent + micro(estimated.estimated_cost_usd) > micro(budget):
        raise monthly_budget_refusal(estimated, spent, budget)
    return None


def monthly_budget_refusal(estimated: Estimate, spent_micro: int, budget: Decimal) -> Refusal:
    spent = usd_of_micro(spent_micro)
    left = max(budget - spent, Decimal(0))
    return Refusal(
        f"This message (about ${estimated.estimated_cost_usd:.4f}) would take this month's spending past the monthly "
        f"budget of ${budget} (SMSAI_MONTHLY_BUDGET_USD): ${spent:.4f} is already spent or reserved this UTC month, "
        f"${left:.4f} is left. Wait for the next UTC month, or ask the user to raise the budget.",
        code="monthly_budget",
        estimate=estimated,
    )
