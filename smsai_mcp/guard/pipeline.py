"""The send guard: every step of CONTRACT section 4, in its order, before the one upstream POST.

validation → destination policy → estimate → per-message cap → daily budget → duplicate and idempotency
→ confirmation → reserve (atomic re-check of all limits) → send exactly once → settle, release or look it up
(the lookups and the settling of unknown outcomes are in reconcile.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import anyio

from smsai_mcp.client.amounts import bookable_charge
from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiError, ApiStatusError, ConnectionLost, UpstreamTimeout
from smsai_mcp.client.models import Message
from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.guard.confirm import ConfirmationTokens, Question
from smsai_mcp.guard.policy import check_destination, refuse_premium
from smsai_mcp.guard.reconcile import (
    IN_FLIGHT_MARGIN_SECONDS,
    OWNER,
    Reconciler,
    body_sha256,
    fingerprint,
    how_it_is_settled,
)
from smsai_mcp.guard.refusal import AUDIT_UNWRITABLE, LEDGER_UNWRITABLE, OutcomeUnknown, Refusal, ledger_refusal
from smsai_mcp.sms.estimate import MICRO_USD, Estimate, UnpricedDestination, estimate_message
from smsai_mcp.sms.phone import InvalidPhoneNumber, PhoneNumber, parse_e164
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.sms.text import as_the_api_keeps_it
from smsai_mcp.state.store import (
    Attempt,
    BeginRequest,
    Begun,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    DuplicateFound,
    IdempotentReplay,
    KeyReusedForAnotherMessage,
    RecipientLimitReached,
    StateStore,
    StillUnknown,
    StoreUnavailable,
)

__all__ = ["Prepared", "SendGuard", "SendOutcome", "fingerprint"]

logger = logging.getLogger(__name__)


def micro(amount: Decimal) -> int:
    return int((amount / MICRO_USD).to_integral_value())


def usd_of_micro(amount: int) -> Decimal:
    return Decimal(amount) * MICRO_USD


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


@dataclass(frozen=True, slots=True)
class SendOutcome:
    status: Literal["sent", "duplicate", "confirmation_required"]
    estimate: Estimate
    message: Message | None = None
    confirmation_token: str | None = None
    expires_at: str | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A send that passed every check before confirmation; `answer` is set when nothing more is to be done."""

    number: PhoneNumber
    body: str
    sender_id: str | None
    idempotency_key: str | None
    estimate: Estimate
    fingerprint: str
    spent_micro: int
    answer: SendOutcome | None = None


class SendGuard:
    def __init__(
        self,
        *,
        settings: Settings,
        api: SmsApi,
        prices: PriceCache,
        store: StateStore,
        audit: AuditLog,
        tokens: ConfirmationTokens,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._api = api
        self._prices = prices
        self._store = store
        self._audit = audit
        self._tokens = tokens
        self._clock = clock
        self._in_flight_seconds = settings.timeout_seconds + IN_FLIGHT_MARGIN_SECONDS
        self.reconciler = Reconciler(
            api=api,
            store=store,
            audit=audit,
            settle=self._settle,
            clock=clock,
            in_flight_seconds=self._in_flight_seconds,
        )

    @staticmethod
    def _read(to: str, body: str) -> tuple[PhoneNumber, str]:
        """The number, and the body as the API would keep it, so estimates and duplicates see what it stores."""
        number = parse_e164(to)
        body = as_the_api_keeps_it(body)
        if not body:
            raise Refusal("The body is blank. Write the message text, then try again.", code="invalid_body")
        return number, body

    async def estimate(self, to: str, body: str) -> tuple[PhoneNumber, Estimate]:
        number, body = self._read(to, body)
        refuse_premium(number)
        return number, estimate_message(number, body, await self._prices.get())

    async def prepare(self, *, to: str, body: str, sender_id: str | None, idempotency_key: str | None) -> Prepared:
        """Every check up to confirmation, in the contract's order. Sends nothing, reserves nothing."""
        try:
            number, body = self._read(to, body)
        except InvalidPhoneNumber as exc:
            raise Refusal(str(exc), code="invalid_number") from None
        if sender_id is not None:
            sender_id = as_the_api_keeps_it(sender_id) or None  # posted and compared as the API keeps it
        now = self._clock()
        print_ = fingerprint(number.e164, body, sender_id)
        if idempotency_key is not None:
            # A retry under the same key is not a new send: it gets the first answer, whatever the limits say now.
            earlier = await self._store.find_earlier(
                fingerprint=print_, idempotency_key=idempotency_key, duplicate_window_seconds=0, now=now
            )
            if earlier is not None:
                estimate = estimate_message(number, body, await self._prices.get())
                return self._prepared_with_answer(number, body, sender_id, idempotency_key, estimate, print_, earlier)
        # Any open one: a pending send of a process that died moments ago is unknown too, before any pass says so.
        unresolved = await self._store.find_unresolved(
            fingerprint=print_, idempotency_key=idempotency_key, stale_before=now
        )
        if unresolved is not None and (
            unresolved.status == "unknown" or self.reconciler.no_longer_in_flight(unresolved, now)
        ):
            raise _still_unknown(unresolved)
        check_destination(number, self._settings)
        recent = await self._store.recent_to_recipient(number.e164, now=now)
        if recent >= self._settings.max_per_recipient_per_hour:
            raise _recipient_limit(number, recent, self._settings.max_per_recipient_per_hour)
        try:
            estimate = estimate_message(number, body, await self._prices.get())
        except UnpricedDestination as exc:
            raise Refusal(str(exc), code="country_unpriced") from None
        except ValueError as exc:
            raise Refusal(str(exc), code="country_not_listed") from None
        cap = self._settings.max_cost_per_message_usd
        if estimate.estimated_cost_usd > cap:
            raise Refusal(
                f"This message would cost about ${estimate.estimated_cost_usd:.4f} ({estimate.segments} segment(s) "
                f"of {estimate.encoding} at ${estimate.unit_price_usd} each), above the per-message cap of ${cap} "
                "(SMSAI_MAX_COST_PER_MESSAGE_USD). Shorten the text, avoid characters that force UCS-2, or ask the "
                "user to raise the cap.",
                code="cost_cap",
                estimate=estimate,
            )
        spent = await self._store.spent_micro(utc_day(now))
        self._check_budget(estimate, spent)
        if idempotency_key is None:
            earlier = await self._store.find_earlier(
                fingerprint=print_,
                idempotency_key=None,
                duplicate_window_seconds=self._settings.duplicate_window_seconds,
                now=now,
            )
            if earlier is not None:
                return self._prepared_with_answer(number, body, sender_id, None, estimate, print_, earlier)
        return Prepared(number, body, sender_id, idempotency_key, estimate, print_, spent)

    def _prepared_with_answer(
        self,
        number: PhoneNumber,
        body: str,
        sender_id: str | None,
        key: str | None,
        estimate: Estimate,
        print_: str,
        earlier: Attempt,
    ) -> Prepared:
        answer = self._answer_from_earlier(earlier, estimate, print_, keyed=key is not None)
        return Prepared(number, body, sender_id, key, estimate, print_, 0, answer)

    def _answer_from_earlier(self, earlier: Attempt, estimate: Estimate, print_: str, *, keyed: bool) -> SendOutcome:
        if keyed and earlier.fingerprint != print_:
            raise Refusal(
                "This idempotency_key was already used in the last 24 hours for a different message. Use a new key "
                "for a new message, or send exactly the same to, body and sender_id to get the first result.",
                code="idempotency_key_reused",
            )
        if earlier.status == "unknown":
            raise _still_unknown(earlier)
        if earlier.status != "sent" or earlier.message_json is None:
            raise OutcomeUnknown(
                "An identical message to this number may have been sent moments ago; its outcome is unknown, so it "
                "must not be retried, and nothing more was sent now. Check list_messages in a minute."
            )
        message = Message.model_validate_json(earlier.message_json)
        return SendOutcome(status="sent" if keyed else "duplicate", estimate=estimate, message=message)

    def _check_budget(self, estimate: Estimate, spent_micro: int) -> None:
        budget = self._settings.daily_budget_usd
        if spent_micro + micro(estimate.estimated_cost_usd) > micro(budget):
            spent = usd_of_micro(spent_micro)
            left = max(budget - spent, Decimal(0))
            raise Refusal(
                f"This message (about ${estimate.estimated_cost_usd:.4f}) would take today's spending past the daily "
                f"budget of ${budget} (SMSAI_DAILY_BUDGET_USD): ${spent:.4f} is already spent or reserved, "
                f"${left:.4f} is left. Wait for the next UTC day, or ask the user to raise the budget.",
                code="daily_budget",
                estimate=estimate,
            )

    def question(self, prepared: Prepared, balance_usd: Decimal | None) -> Question:
        budget = self._settings.daily_budget_usd
        return Question(
            recipient=prepared.number.international,
            estimate=prepared.estimate,
            sender_id=prepared.sender_id,
            body=prepared.body,
            balance_usd=balance_usd,
            budget_left_usd=max(budget - usd_of_micro(prepared.spent_micro), Decimal(0)),
            daily_budget_usd=budget,
        )

    def issue_token(self, prepared: Prepared) -> SendOutcome:
        token, expires = self._tokens.issue(prepared.fingerprint, now=self._clock())
        return SendOutcome(
            status="confirmation_required",
            estimate=prepared.estimate,
            confirmation_token=token,
            expires_at=datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
        )

    def verify_token(self, prepared: Prepared, token: str) -> str:
        return self._tokens.verify(token, prepared.fingerprint, now=self._clock())

    async def send(self, prepared: Prepared, *, confirmation_id: str | None) -> SendOutcome:
        """Reserve atomically, post once, then settle, release or reconcile. Never posts twice."""
        now = self._clock()
        estimate = prepared.estimate
        attempt = Attempt(
            id=uuid.uuid4().hex,
            day=utc_day(now),
            created_at=now,
            recipient=prepared.number.e164,
            fingerprint=prepared.fingerprint,
            body_sha256=body_sha256(prepared.body),
            idempotency_key=prepared.idempotency_key,
            confirmation_id=confirmation_id,
            owner=OWNER,
            status="pending",
            reserved_micro=micro(estimate.estimated_cost_usd),
        )
        # From the reservation on, a send runs to its end even if the caller goes away or the server shuts
        # down: a send recorded by halves is how money is double-spent. The upstream timeout bounds it.
        with anyio.CancelScope(shield=True):
            outcome = await self._reserve_and_post(attempt, prepared)
        return outcome

    async def _reserve_and_post(self, attempt: Attempt, prepared: Prepared) -> SendOutcome:
        estimate = prepared.estimate
        now = attempt.created_at
        try:
            begun = await self._store.begin(
                BeginRequest(
                    attempt=attempt,
                    daily_budget_micro=micro(self._settings.daily_budget_usd),
                    max_per_recipient_per_hour=self._settings.max_per_recipient_per_hour,
                    duplicate_window_seconds=self._settings.duplicate_window_seconds,
                    pending_stale_seconds=self._in_flight_seconds,
                ),
                now=now,
            )
        except StoreUnavailable as exc:
            raise ledger_refusal(exc) from None
        except Exception:  # a full disk, a broken ledger: the reservation is not on the books, so no POST
            logger.exception("the ledger could not record a reservation; nothing was sent")
            raise Refusal(LEDGER_UNWRITABLE, code="ledger_unwritable") from None
        match begun:
            case Begun():
                pass
            case StillUnknown(earlier):
                raise _still_unknown(earlier)
            case DuplicateFound(earlier) | IdempotentReplay(earlier) | KeyReusedForAnotherMessage(earlier):
                keyed = prepared.idempotency_key is not None
                return self._answer_from_earlier(earlier, estimate, prepared.fingerprint, keyed=keyed)
            case RecipientLimitReached(count):
                raise _recipient_limit(prepared.number, count, self._settings.max_per_recipient_per_hour)
            case BudgetExceeded(spent):
                self._check_budget(estimate, spent)
                raise AssertionError("the budget check above refuses")  # pragma: no cover
            case ConfirmationAlreadyUsed():
                raise Refusal(
                    "This confirmation was already used for a send; a confirmation counts once. "
                    "Call send_sms again without it to confirm a new message.",
                    code="confirmation_used",
                )
        audit = {"attempt": attempt.id, **_audit_estimate(estimate)}
        try:
            await self._audit.record(event="reserved", recipient=attempt.recipient, **audit)
        except OSError:
            logger.exception("the audit log could not be written; nothing was sent")
            with contextlib.suppress(Exception):  # it led to no message; if even this fails, a later pass releases it
                await self._store.release_refused(attempt.id)
            raise Refusal(AUDIT_UNWRITABLE, code="audit_unwritable", audited=True) from None
        try:
            message = await self._api.send(to=attempt.recipient, body=prepared.body, sender_id=prepared.sender_id)
        except ApiError as exc:
            if not exc.request_may_have_been_processed:
                await self._store.release_refused(attempt.id)  # it led to no message: the person may confirm again
                reason = type(exc).__name__
                await self._audit.record(event="refused", recipient=attempt.recipient, reason=reason, **audit)
                raise Refusal(exc.message, code="upstream_refused", audited=True) from None
            return await self._after_unknown_outcome(attempt, prepared, exc, audit)
        await self._settle(attempt, message)
        await self._audit.record(
            event="sent", recipient=attempt.recipient, message_id=message.id, charged_usd=message.price_usd, **audit
        )
        return SendOutcome(status="sent", estimate=estimate, message=message)

    async def _after_unknown_outcome(
        self, attempt: Attempt, prepared: Prepared, error: ApiError, audit: dict[str, object]
    ) -> SendOutcome:
        await self._store.mark_unknown(attempt.id)
        found = (await self.reconciler.look_up(attempt)).found
        if found is not None:
            if await self._settle(attempt, found):  # else a person or another process settled it, and recorded it
                await self._audit.record(
                    event="sent", recipient=attempt.recipient, message_id=found.id, reconciled=True, **audit
                )
            return SendOutcome(status="sent", estimate=prepared.estimate, message=found)
        await self._audit.record(event="unknown", recipient=attempt.recipient, reason=type(error).__name__, **audit)
        raise OutcomeUnknown(
            f"The message may have been sent; its outcome is unknown, so it must not be retried. {_why_unknown(error)} "
            "It is not in the sent list yet. Check list_messages in a minute to see whether it went out. Until its "
            "outcome is known, its estimated cost stays reserved against today's budget and the same message is "
            f"refused: {how_it_is_settled(attempt.id)}"
        )

    async def _settle(self, attempt: Attempt, message: Message) -> bool:
        # A charge the answer does not state as an amount (missing, NaN, negative...) is booked at the estimate.
        stated = bookable_charge(message.price_usd)
        charged = micro(stated) if stated is not None else attempt.reserved_micro
        settled = await self._store.settle(
            attempt.id, charged_micro=charged, message_id=message.id, message_json=message.model_dump_json()
        )
        if settled and charged > attempt.reserved_micro:
            await self._refresh_prices_after_overcharge(attempt, charged)
        return settled

    async def _refresh_prices_after_overcharge(self, attempt: Attempt, charged_micro: int) -> None:
        """The upstream charged more than its price list said: fetch the list again before the next estimate."""
        logger.warning(
            "the SMS for AI API charged %s USD where the price list gave %s USD; the price list will be fetched again",
            usd_of_micro(charged_micro),
            usd_of_micro(attempt.reserved_micro),
        )
        try:
            await self._prices.forget()
        except Exception:  # the message went out and is booked: that answer must not turn into a failure
            logger.warning("could not mark the shared price list as out of date", exc_info=True)

    async def reconcile(self) -> int:
        """Settle or release, on evidence only, attempts that a crash or a lost answer left open."""
        return await self.reconciler.reconcile()

    async def audit_refusal(self, to: str, code: str, estimate: Estimate | None) -> None:
        """A send refused before its reservation: recorded with the step that refused, masked, without text.
        A log that cannot be written (a full disk) must not turn the refusal into a failure that may have sent."""
        try:
            await self._audit.record(event="refused", recipient=to, reason=code, **_audit_estimate(estimate))
        except OSError:
            logger.warning("the audit log could not record a refusal", exc_info=True)

    async def audit_answer(self, outcome: SendOutcome) -> None:
        """A call answered without a send: a duplicate, a replay under an idempotency key, a token issued."""
        event = "confirmation_required" if outcome.status == "confirmation_required" else "duplicate"
        message_id = {"message_id": outcome.message.id} if outcome.message is not None else {}
        try:
            await self._audit.record(
                event=event, recipient=outcome.estimate.to, **_audit_estimate(outcome.estimate), **message_id
            )
        except OSError:  # the answer sends nothing more either way
            logger.warning("the audit log could not record an answer", exc_info=True)

    async def spent_today_micro(self) -> int:
        return await self._store.spent_micro(utc_day(self._clock()))


def _audit_estimate(estimate: Estimate | None) -> dict[str, object]:
    if estimate is None:
        return {}
    return {"segments": estimate.segments, "estimate_usd": str(estimate.estimated_cost_usd)}


def _why_unknown(error: ApiError) -> str:
    """What happened to a send, without the retry advice that suits a read."""
    if isinstance(error, UpstreamTimeout):
        return "The SMS for AI API did not answer in time."
    if isinstance(error, ConnectionLost):
        return "The connection to the SMS for AI API broke before it answered."
    if isinstance(error, ApiStatusError):
        return f"The SMS for AI API answered HTTP {error.status_code} after the request reached it."
    return "The SMS for AI API's answer could not be read."


def _recipient_limit(number: PhoneNumber, count: int, limit: int) -> Refusal:
    return Refusal(
        f"{number.international} has already been sent {count} message(s) in the past hour, the limit set by "
        f"SMSAI_MAX_PER_RECIPIENT_PER_HOUR ({limit}). Wait before texting this number again.",
        code="hourly_limit",
    )


def _still_unknown(earlier: Attempt) -> OutcomeUnknown:
    return OutcomeUnknown(
        "An identical message (or one under the same idempotency_key) may have been sent earlier; its outcome is "
        "unknown, so it must not be retried, and nothing more was sent now. Check list_messages to see whether it "
        f"went out. It stays refused until its outcome is known: {how_it_is_settled(earlier.id)}"
    )
