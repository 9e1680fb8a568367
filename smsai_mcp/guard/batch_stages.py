"""The stages of a batch, as stages.py names those of one send, and the pure rules a batch follows: its size, its
distinct numbers, each recipient's derived idempotency key, what a token confirms, and its budget refusal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from smsai_mcp.client.models import Message
from smsai_mcp.guard.refusal import OutcomeUnknown, Refusal
from smsai_mcp.guard.stages import CheckedSend, SendOutcome, SendRequest
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.money import usd_of_micro
from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164
from smsai_mcp.sms.text import as_the_api_keeps_it
from smsai_mcp.state.store import (
    BeginResult,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    DuplicateFound,
    IdempotentReplay,
    KeyReusedForAnotherMessage,
    MonthlyBudgetExceeded,
    NumberBlockReached,
    RecipientLimitReached,
    RecipientsPerHourReached,
    StillUnknown,
)

__all__ = [
    "BATCH_TOKEN_REFUSALS",
    "UNKNOWN_AFTER_RESERVATION",
    "Audited",
    "BatchOutcome",
    "BatchRequest",
    "Check",
    "CheckedBatch",
    "DryRun",
    "Progress",
    "RecipientOutcome",
    "RecipientStatus",
    "batch_fingerprint",
    "batch_key_refusal",
    "derived_key",
    "e164_or_as_given",
    "keyed_batch",
    "over_budget_refusal",
    "reasons",
    "refuse_malformed",
    "status_of",
    "why_not_begun",
]

RecipientStatus = Literal["sent", "duplicate", "refused", "unknown", "pending"]
Check = Callable[[SendRequest], Awaitable[CheckedSend | SendOutcome]]
BATCH_TOKEN_REFUSALS = {
    "token_forged": "The confirmation_token is not one this server issued. Call send_sms_batch without it to get a "
    "new one.",
    "token_for_another_message": "The confirmation_token was issued for a different batch (the recipients, in the "
    "same order, the body and the sender_id must be exactly the same). Call send_sms_batch without a token to "
    "confirm this one.",
}
DryRun = Callable[[str, str, str | None], Awaitable[Estimate]]
Audited = Callable[[str, Exception, Estimate | None], Awaitable[Refusal | OutcomeUnknown]]
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BatchRequest:
    recipients: tuple[str, ...]
    body: str
    sender_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class RecipientOutcome:
    to: str  # E.164 once it parses, else as given
    status: RecipientStatus
    estimate: Estimate | None = None
    message: Message | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """Every recipient past the guard's steps: an outcome each (`pending` for the sendable), in the order given."""

    outcomes: tuple[RecipientOutcome, ...]
    sendable: tuple[CheckedSend, ...]
    fingerprint: str  # what a token confirms: the text, the sender and the ordered sendable recipients
    spent_today_micro: int
    keyed: tuple[str, str] | None = None  # the store's name for its idempotency key, and what the key stands for

    @property
    def numbers(self) -> list[str]:
        """The E.164 numbers it would send to, in order."""
        return [checked.prepared.number.e164 for checked in self.sendable]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    status: Literal["done", "confirmation_required"]
    results: tuple[RecipientOutcome, ...]
    confirmation_token: str | None = None
    expires_at: str | None = None

    @property
    def estimate_total_usd(self) -> Decimal:
        """What the recipients not refused cost (or would), by their estimates."""
        priced = (r.estimate.estimated_cost_usd for r in self.results if r.estimate and r.status != "refused")
        return sum(priced, Decimal(0))


def derived_key(batch_key: str | None, e164: str) -> str | None:
    """One recipient's idempotency key within a batch: the same batch key and number always give the same one."""
    if batch_key is None:
        return None
    return "batch:" + hashlib.sha256(json.dumps([batch_key, e164]).encode()).hexdigest()


def keyed_batch(request: BatchRequest) -> tuple[str, str] | None:
    """The store's name for the batch's idempotency key and what it stands for: the text and sender as the API keeps
    them and the set of numbers (order and spelling aside), so the key cannot reach numbers the first batch had not."""
    if request.idempotency_key is None:
        return None
    numbers = sorted({e164_or_as_given(to) for to in request.recipients})
    sender = as_the_api_keeps_it(request.sender_id) if request.sender_id is not None else None
    described = [as_the_api_keeps_it(request.body), sender or None, numbers]
    identity = hashlib.sha256(json.dumps(described, ensure_ascii=False).encode()).hexdigest()
    return "batch:" + hashlib.sha256(request.idempotency_key.encode()).hexdigest(), identity


def batch_key_refusal() -> Refusal:
    return Refusal(
        "This idempotency_key was already used in the last 24 hours for another batch (other recipients, text or "
        "sender_id). Use a new key for a new batch, or send exactly the same recipients, body and sender_id to get "
        "the first batch's results.",
        code="idempotency_key_reused",
    )


UNKNOWN_AFTER_RESERVATION = (
    "The message may have been sent; its outcome is unknown, so it must not be retried. Check list_messages in a "
    "minute to see whether it went out."
)


def why_not_begun(result: BeginResult) -> str:
    """What a ledger that would not begin one recipient's attempt found, in a few words."""
    match result:
        case ConfirmationAlreadyUsed():
            return "this confirmation was already used for it"
        case BudgetExceeded():
            return "the daily budget filled up"
        case RecipientLimitReached():
            return "its hourly limit was reached"
        case DuplicateFound() | IdempotentReplay():
            return "an identical message to it was just sent"
        case StillUnknown():
            return "an identical message to it has an unknown outcome"
        case KeyReusedForAnotherMessage():
            return "its idempotency key was used for another message"
        case MonthlyBudgetExceeded():
            return "the monthly budget filled up"
        case RecipientsPerHourReached():
            return "the limit of numbers texted per hour was reached"
        case NumberBlockReached():
            return "the limit of numbers of its block of 100 texted per hour was reached"
    return "it could not be reserved"


def status_of(outcome: SendOutcome) -> RecipientStatus:
    return "duplicate" if outcome.status == "duplicate" else "sent"


def e164_or_as_given(to: str) -> str:
    try:
        return parse_e164(to).e164
    except InvalidPhoneNumber:
        return to


def refuse_malformed(request: BatchRequest, most: int) -> None:
    if not request.recipients:
        raise Refusal("A batch needs at least one recipient in recipients.", code="batch_empty")
    if len(request.recipients) > most:
        raise Refusal(
            f"This batch has {len(request.recipients)} recipients; this server sends at most {most} in one batch "
            "(SMSAI_MAX_BATCH_SIZE). Split it into smaller batches.",
            code="batch_too_large",
        )
    seen: dict[str, int] = {}
    for position, to in enumerate(request.recipients, start=1):
        number = e164_or_as_given(to)
        if number in seen:
            raise Refusal(
                f"Recipients {seen[number]} and {position} are the same number ({number}); each number may appear "
                "once in a batch. Remove the repeat and call send_sms_batch again.",
                code="duplicate_recipients",
            )
        seen[number] = position


def batch_fingerprint(sendable: Sequence[CheckedSend]) -> str:
    first = sendable[0].prepared if sendable else None
    numbers = [c.prepared.number.e164 for c in sendable]
    described = ["batch", first.body if first else "", first.sender_id if first else None, numbers]
    return hashlib.sha256(json.dumps(described, ensure_ascii=False).encode()).hexdigest()


def reasons(outcomes: Sequence[RecipientOutcome]) -> str:
    """Each reason once, after the numbers it applies to (a text refused for all of them is said once)."""
    numbers_by_reason: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.reason:
            numbers_by_reason.setdefault(outcome.reason, []).append(outcome.to)
    return " ".join(f"{', '.join(numbers)}: {reason}" for reason, numbers in numbers_by_reason.items())


def over_budget_refusal(period: str, name: str, budget: Decimal, spent: int, total: int) -> Refusal:
    left = max(budget - usd_of_micro(spent), Decimal(0))
    return Refusal(
        f"This batch (about ${usd_of_micro(total):.4f} in all) would take {period} spending past the {name} budget of "
        f"${budget} (SMSAI_{name.upper()}_BUDGET_USD): ${usd_of_micro(spent):.4f} is already spent or reserved, "
        f"${left:.4f} is left. "
        "No one was asked. Send to fewer recipients, or ask the user to raise the budget.",
        code=f"{name}_budget",
    )
