"""What the Redis begin script's replies mean, as the store's results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from smsai_mcp.state.store import (
    Attempt,
    BeginResult,
    Begun,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    MonthlyBudgetExceeded,
    NumberBlockReached,
    RecipientLimitReached,
    RecipientsPerHourReached,
    StillUnknown,
    repeated,
)

__all__ = ["begin_result"]


async def begin_result(attempt: Attempt, reply: list[str], load: Callable[[str], Awaitable[Attempt]]) -> BeginResult:
    """One attempt's reply; `load` reads the earlier attempt a reply names."""
    match reply:
        case ["begun"] | ["held_back"]:  # held back: it would have been begun, but another of its batch was not
            return Begun(attempt)
        case ["earlier", earlier_id]:
            return repeated(attempt, await load(str(earlier_id)))
        case ["unknown", earlier_id]:
            return StillUnknown(await load(str(earlier_id)))
        case ["confirmation_used"]:
            return ConfirmationAlreadyUsed()
        case ["recipient_limit", count]:
            return RecipientLimitReached(int(count))
        case ["recipients_per_hour", count]:
            return RecipientsPerHourReached(int(count))
        case ["number_block", count]:
            return NumberBlockReached(int(count))
        case ["budget", spent]:
            return BudgetExceeded(int(spent))
        case ["monthly_budget", spent]:
            return MonthlyBudgetExceeded(int(spent))
    raise RuntimeError(f"unexpected reply from the begin script: {reply!r}")
