"""What the state store keeps and answers: attempts, what `begin` found, the lists a person keeps (state/store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DAY_SECONDS",
    "HOUR_SECONDS",
    "IDEMPOTENCY_SECONDS",
    "NO_LIMIT",
    "PENDING_STALE_SECONDS",
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
    "StillUnknown",
    "StoreUnavailable",
    "Velocity",
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
class Standing:
    """What check_balance shows of the store, read in one go: the day's and the month's running totals (charged
    plus still reserved) and the pause in force."""

    spent_today_micro: int
    spent_month_micro: int
    pause: Pause | None


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
