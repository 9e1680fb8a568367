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
from dataclasses import dataclass
from typing import Literal, Protocol

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
    "StateStore",
    "StillUnknown",
    "StoreUnavailable",
    "Velocity",
    "block_of",
    "month_of",
    "repeated",
    "without_text",
]

AttemptStatus = Literal["pending", "sent", "unknown", "released"]
DAY_SECONDS = 86_400
IDEMPOTENCY_SECONDS = DAY_SECONDS
HOUR_SECONDS = 3_600
# A pending attempt older than this cannot still be in flight (the upstream timeout and a margin): it is unknown.
PENDING_STALE_SECONDS = 150.0
# A limit that never binds, for callers (and tests) that do not set one.
NO_LIMIT = 2**62


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    day: str  # the UTC day whose budget it counts against, "2026-11-25"
    created_at: float  # unix seconds
    recipient: str  # E.164: the hourly limit and reconciliation need it whole
    fingerprint: str  # sha256 of to, body and sender_id: what "identical" means
    body_sha256: str  # matches a listed message during reconciliation without keeping the text
    idempotency_key: str | None
    confirmation_id: str | None
    owner: str  # host:pid of the process that made it, to spot reservations orphaned by a crash
    status: AttemptStatus
    reserved_micro: int
    charged_micro: int | None = None
    message_id: int | None = None
    message_json: str | None = None  # the API's record of the message without its text, returned for duplicates


@dataclass(frozen=True, slots=True)
class BeginRequest:
    attempt: Attempt  # status "pending"
    daily_budget_micro: int
    max_per_recipient_per_hour: int
    duplicate_window_seconds: int
    pending_stale_seconds: float = PENDING_STALE_SECONDS
    monthly_budget_micro: int | None = None  # None: no monthly cap; the month is that of `attempt.day`
    max_recipients_per_hour: int = NO_LIMIT  # distinct numbers in any rolling hour
    max_per_number_block_per_hour: int = NO_LIMIT  # distinct numbers of one block of 100 in any rolling hour


@dataclass(frozen=True, slots=True)
class Begun:
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class IdempotentReplay:
    earlier: Attempt


@dataclass(frozen=True, slots=True)
class KeyReusedForAnotherMessage:
    earlier: Attempt


@dataclass(frozen=True, slots=True)
class DuplicateFound:
    earlier: Attempt


@dataclass(frozen=True, slots=True)
class StillUnknown:
    """An earlier attempt of the same message or key whose outcome is unknown: nothing may be sent until it is."""

    earlier: Attempt


@dataclass(frozen=True, slots=True)
class RecipientLimitReached:
    sent_in_last_hour: int


@dataclass(frozen=True, slots=True)
class BudgetExceeded:
    spent_micro: int


@dataclass(frozen=True, slots=True)
class MonthlyBudgetExceeded:
    spent_micro: int


@dataclass(frozen=True, slots=True)
class RecipientsPerHourReached:
    count: int  # distinct numbers texted in the last hour


@dataclass(frozen=True, slots=True)
class NumberBlockReached:
    count: int  # distinct numbers of the recipient's block of 100 texted in the last hour


@dataclass(frozen=True, slots=True)
class ConfirmationAlreadyUsed:
    pass


@dataclass(frozen=True, slots=True)
class OptOut:
    """A number on the do-not-text list: nothing is sent to it until a person takes it off."""

    number: str  # E.164
    since: float  # unix seconds of the first time it was added
    note: str | None  # why, as the person wrote it (never audited: it may be personal)


@dataclass(frozen=True, slots=True)
class Pause:
    """Sending is stopped for everyone sharing the store until an operator resumes it."""

    reason: str | None
    since: float  # unix seconds of the pause that is in force (pausing again keeps it)


@dataclass(frozen=True, slots=True)
class Velocity:
    """The numbers texted in the last hour, as the velocity limits see them for one recipient."""

    already_texted: bool  # this number was texted in the hour: texting it again adds no distinct number
    recipients: int  # distinct numbers texted in the hour
    block_recipients: int  # distinct numbers of its block of 100 texted in the hour


class StoreUnavailable(Exception):
    """The store could not be read or written in time: `locked` by another process, or `unreachable`."""

    def __init__(self, why: Literal["locked", "unreachable"]) -> None:
        super().__init__(f"the state store is {why}")
        self.why = why


BeginResult = (
    Begun
    | IdempotentReplay
    | KeyReusedForAnotherMessage
    | DuplicateFound
    | StillUnknown
    | RecipientLimitReached
    | RecipientsPerHourReached
    | NumberBlockReached
    | BudgetExceeded
    | MonthlyBudgetExceeded
    | ConfirmationAlreadyUsed
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

    async def claim_batch_key(self, key: str, fingerprint: str, *, now: float) -> str:
        """Let a batch idempotency key stand for one batch for 24 hours, unless it already stands for one (atomic);
        the fingerprint it stands for."""

    async def batch_key(self, key: str, *, now: float) -> str | None:
        """The fingerprint a batch idempotency key stands for, if it was claimed in the last 24 hours; read-only."""

    async def ping(self) -> bool:
        """Whether the store answers now (for readiness checks); never raises."""

    async def close(self) -> None: ...
