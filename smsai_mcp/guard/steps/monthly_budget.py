"""The monthly budget: spend allowed per UTC calendar month (SMSAI_MONTHLY_BUDGET_USD), beside the daily one."""

from __future__ import annotations

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.guard.steps.cost import budget_refusal
from smsai_mcp.sms.money import micro

__all__ = ["monthly_budget"]


async def monthly_budget(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    budget = context.settings.monthly_budget_usd
    if budget is None:
        return None
    estimated = await context.estimate(prepared)
    spent = await context.spent_this_month_micro()
    if spent + micro(estimated.estimated_cost_usd) > micro(budget):
        raise budget_refusal(estimated, spent, budget, monthly=True)
    return None
