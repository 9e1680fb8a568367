"""The state every send guard needs, behind one interface: SQLite on one machine, Redis for replicas.

An *attempt* is one message the guard decided to send. It is created (with its estimate reserved) in a
single atomic step that also checks the idempotency key, the duplicate window, the per-recipient hourly
limit, the recipients per hour and per number block, the daily and monthly budgets and the single use of
the confirmation, so concurrent sends can never overshoot. The same step keeps running totals (spent per
UTC day and month, the numbers texted in the last hour), so no check reads more rows as the ledger grows.

    pending  --settle-->  sent        the API charged `charged_micro`
    pending  --release--> released    nothing went out; the reservation is given back
    pending  --release_refused-->     nothing went out and its confirmation may be used again: it led to no message
    pending  --unknown--> unknown     the outcome is unknown (an answer lost, or its process died): the
                                      reservation is kept, and the same message or key is refused, until
    unknown  --settle-->  sent        a lookup finds the message, or a person says which one it was
    unknown  --release--> released    a full lookup 15 minutes on shows it never went out, or a person says so

Beside the attempts, two lists a person keeps: the do-not-text list (`OptOut`, one per number: adding a number
again keeps its first `since` and replaces its note when a new one is given) and the pause (`Pause`: one per
store, read before every send, so one `smsai-mcp pause` stops every process and replica sharing the store).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

__all__ = [
    "NO_LIMIT",
    "Attempt",
    "AttemptStatus",
    "BeginRequest",
    "BeginResult",
    "Begun",
    "BudgetExceeded",
    "ConfirmationAlreadyUsed",
    "DuplicateFound",
    "IdempotentReplay",
    "KeyReusedForAnotherMessage",
    "MonthlyBudgetExceeded",
    "NumberBlockReached",
    "OptOut",
    "Pause",
    "RecipientLimitReached",
    "RecipientsPerHourReached",
    "Standing",
    "StateStore",
    "StillUnknown",
    "StoreUnavailable",
    "Velocity",
    "block_of",
    "month_of",
    "repeated",
    "without_text",
]

from smsai_mcp.state.records import (
    NO_LIMIT,
    Attempt,
    AttemptStatus,
    BeginRequest,
    BeginResult,
    Begun,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    DuplicateFound,
    IdempotentReplay,
    KeyReusedForAnotherMessage,
    MonthlyBudgetExceeded,
    NumberBlockReached,
    OptOut,
    Pause,
    RecipientLimitReached,
    RecipientsPerHourReached,
    Standing,
    StillUnknown,
    StoreUnavailable,
    Velocity,
)


def month_of(day: str) -> str:
    """The UTC month of a UTC day: "2026-11-25" -> "2026-11"."""
    return day[:7]


def block_of(e164: str) -> str:
    """The block of 100 a number belongs to: the number without its last two digits (SMS-pumping fraud texts
    neighbouring numbers)."""
    return e164[:-2]


def without_text(message_json: str) -> str:
    """The API's record of a message as the store keeps it: everything but the text (CONTRACT, state privacy)."""
    record = json.loads(message_json)
    if isinstance(record, dict):
        record.pop("body", None)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def repeated(attempt: Attempt, earlier: Attempt) -> DuplicateFound | IdempotentReplay | KeyReusedForAnotherMessage:
    """What an earlier attempt found by key (or, without one, by the duplicate window) makes of a new one."""
    if attempt.idempotency_key is None:
        return DuplicateFound(earlier)
    if earlier.fingerprint != attempt.fingerprint:
        return KeyReusedForAnotherMessage(earlier)
    return IdempotentReplay(earlier)


class StateStore(Protocol):
    async def begin(self, request: BeginRequest, *, now: float) -> BeginResult:
        """Check every limit and reserve the estimate, atomically; create the attempt only if all pass."""

    async def begin_many(self, requests: Sequence[BeginRequest], *, now: float) -> list[BeginResult]:
        """begin for several attempts, all or nothing, atomically: one result per request, in order. Every one is
        begun, or none is: when any result is not `Begun`, none stays begun (the results of those that would have
        been say `Begun` all the same), and the others say why. The checks are cumulative: each request sees the
        reservations and recipients of those before it."""

    async def find_earlier(
        self, *, fingerprint: str, idempotency_key: str | None, duplicate_window_seconds: int, now: float
    ) -> Attempt | None:
        """The attempt a new one would repeat (by key, else inside the duplicate window); read-only."""

    async def find_unresolved(
        self, *, fingerprint: str, idempotency_key: str | None, stale_before: float
    ) -> Attempt | None:
        """The latest attempt of this message or key, at any age, whose outcome is unknown (or pending since before
        `stale_before`, so no longer in flight); read-only."""

    async def recent_to_recipient(self, recipient: str, *, now: float) -> int:
        """Attempts to this number in the last hour that went out or may have."""

    async def settle(self, attempt_id: str, *, charged_micro: int, message_id: int, message_json: str) -> bool:
        """The message went out: replace the reservation with what the API charged; keep its record, not its text.
        Atomic, and whether it settled: not when the attempt is no longer open or the message is another's."""

    async def release(self, attempt_id: str) -> bool:
        """Nothing went out: give the reservation back; whether it did (not when the attempt was no longer open)."""

    async def release_refused(self, attempt_id: str) -> None:
        """The API refused the POST before it could process it: give the reservation back and free the
        confirmation, atomically, so the person may confirm the same message again (only a pending attempt)."""

    async def mark_unknown(self, attempt_id: str) -> bool:
        """The outcome is unknown: keep the reservation until a lookup settles it; whether the attempt was pending."""

    async def velocity(self, recipient: str, *, now: float) -> Velocity:
        """The numbers texted in the last hour, for the recipients-per-hour and number-block limits; read-only."""

    async def message_claimed(self, message_id: int) -> bool:
        """Whether a message id is already matched to an attempt of this ledger (one indexed read): so one message never
        settles two attempts, and tenants sharing an upstream account read only the messages they sent."""

    async def spent_micro(self, day: str) -> int:
        """Charged plus still reserved for one UTC day (a running total: one read)."""

    async def spent_month_micro(self, month: str) -> int:
        """Charged plus still reserved for one UTC month, "2026-11" (a running total: one read)."""

    async def unresolved(self) -> list[Attempt]:
        """Pending and unknown attempts, oldest first, for reconciliation."""

    async def claimed_message_ids(self) -> set[int]:
        """Message ids already matched to an attempt, so one message never settles two."""

    async def shared_value(self, key: str, ttl_seconds: float, produce: Callable[[], Awaitable[str]]) -> str:
        """A value every process sharing this store may reuse for `ttl_seconds` (the price list): Redis keeps
        it for all replicas; SQLite, whose processes share one machine, just produces it."""

    async def shared_generation(self, key: str) -> int:
        """How many times any process sharing this store forgot the shared value `key` (0 if never)."""

    async def forget_shared(self, key: str) -> None:
        """Drop the shared value `key` and count one more generation, so every process drops its own copy too."""

    async def add_opt_out(self, number: str, note: str | None, *, now: float) -> OptOut:
        """Put a number on the do-not-text list; added again, it keeps its first `since`, and a note given replaces
        the old one (None keeps it)."""

    async def remove_opt_out(self, number: str) -> bool:
        """Take a number off the list; whether it was on it."""

    async def opt_out(self, number: str) -> OptOut | None:
        """The number's entry on the list, if any (read before every send to it)."""

    async def list_opt_outs(self, *, offset: int, limit: int) -> tuple[list[OptOut], int]:
        """A page of the list, oldest first (then by number), and how many numbers it holds in all."""

    async def pause(self, reason: str | None, *, now: float) -> Pause:
        """Stop every send of everyone sharing the store; pausing again keeps `since` and replaces the reason."""

    async def resume(self) -> bool:
        """Lift the pause; whether there was one."""

    async def pause_state(self) -> Pause | None:
        """The pause in force, if any: one cheap read, made before every send."""

    async def standing(self, day: str, month: str) -> Standing:
        """The totals of a UTC day and month and the pause, in one read (one round trip on Redis)."""

    async def claim_batch_key(self, key: str, fingerprint: str, *, now: float) -> str:
        """Let a batch idempotency key stand for one batch for 24 hours, unless it already stands for one (atomic);
        the fingerprint it stands for."""

    async def batch_key(self, key: str, *, now: float) -> str | None:
        """The fingerprint a batch idempotency key stands for, if it was claimed in the last 24 hours; read-only."""

    async def ping(self) -> bool:
        """Whether the store answers now (for readiness checks); never raises."""

    async def close(self) -> None: ...
