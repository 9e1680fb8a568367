"""estimate_sms as a dry run of the guard: which step would refuse send_sms now, without reserving, asking,
posting or auditing anything (an estimate is not a send attempt)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from smsai_mcp.guard.context import GuardContext, Step
from smsai_mcp.guard.refusal import READ_ONLY_REASON, Refusal
from smsai_mcp.guard.stages import PreparedSend
from smsai_mcp.guard.steps import earlier
from smsai_mcp.guard.steps.paused import pause_refusal
from smsai_mcp.guard.steps.quiet_hours import quiet_until
from smsai_mcp.sms.estimate import Estimate

__all__ = ["BLOCKING_CODES", "READ_ONLY_REASON", "blocked_code", "dry_run"]

# What an earlier attempt of the same message answers (a duplicate, a replay) is not a guard that blocks a new text.
_NOT_BLOCKING: frozenset[Step] = frozenset(
    {earlier.replay_under_key, earlier.still_unknown, earlier.duplicate_in_window}
)

# The codes CONTRACT section 3 lists for blocked_by (those of guards that exist so far).
BLOCKING_CODES = frozenset(
    {
        "paused",
        "read_only",
        "content",
        "opted_out",
        "blocked_country",
        "country_not_allowed",
        "recipient_not_allowed",
        "quiet_hours",
        "recipient_hourly_limit",
        "recipients_per_hour",
        "number_block",
        "cost_cap",
        "daily_budget",
        "monthly_budget",
    }
)
_CONTRACT_CODE = {"hourly_limit": "recipient_hourly_limit"}  # the audit log's code -> the contract's


def blocked_code(refusal_code: str) -> str | None:
    """The contract's code for a refusal, or None when the refusal means no estimate can be made at all."""
    if refusal_code.startswith("content_"):
        return "content"  # every content rule is one guard to the agent; the sentence names the rule
    code = _CONTRACT_CODE.get(refusal_code, refusal_code)
    return code if code in BLOCKING_CODES else None


async def dry_run(prepared: PreparedSend, context: GuardContext, steps: Iterable[Step]) -> Estimate:
    """The estimate, with the first step that would refuse the send (its contract code and sentence), if any."""
    estimate = await context.estimate(prepared)
    # Whatever else blocks the send, the agent learns for free when quiet hours would let it go.
    estimate = replace(estimate, quiet_until=quiet_until(prepared.number, context.settings, context.now))
    if context.settings.read_only:
        return replace(estimate, blocked_by="read_only", blocked_reason=READ_ONLY_REASON)
    pause = await context.store.pause_state()
    if pause is not None:
        return replace(estimate, blocked_by="paused", blocked_reason=str(pause_refusal(pause)))
    for step in steps:
        if step in _NOT_BLOCKING:
            continue
        try:
            await step(prepared, context)
        except Refusal as refusal:
            code = blocked_code(refusal.code)
            if code is None:
                raise  # a number or country that cannot be estimated stays a tool error
            return replace(estimate, blocked_by=code, blocked_reason=str(refusal))
    return estimate
