"""The send itself: reserve atomically (re-checking every limit), post once, then settle, refuse or look it up.

From the reservation on, a send runs to its end even if the caller goes away or the server shuts down: a send
recorded by halves is how money is double-spent. The upstream timeout bounds it.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal

import anyio

from smsai_mcp.client.amounts import bookable_charge
from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiError, ApiStatusError, ConnectionLost, InvalidResponse, UpstreamTimeout
from smsai_mcp.client.models import Message
from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import AuditLog, estimate_fields
from smsai_mcp.guard.confirm import SKIPPED_FOR_LISTED_RECIPIENT
from smsai_mcp.guard.last_look import stopped_meanwhile
from smsai_mcp.guard.reconcile import OWNER as THIS_PROCESS
from smsai_mcp.guard.reconcile import Reconciler, body_sha256, how_it_is_settled
from smsai_mcp.guard.refusal import AUDIT_UNWRITABLE, LEDGER_UNWRITABLE, OutcomeUnknown, Refusal, ledger_refusal
from smsai_mcp.guard.stages import ConfirmedSend, SendOutcome
from smsai_mcp.guard.steps.cost import budget_refusal
from smsai_mcp.guard.steps.earlier import answer_from_earlier, still_unknown_refusal
from smsai_mcp.guard.steps.hourly_limit import recipient_limit_refusal
from smsai_mcp.guard.steps.velocity import number_block_refusal, recipients_per_hour_refusal
from smsai_mcp.sms.money import micro, usd_of_micro, utc_day
from smsai_mcp.sms.phone import same_number
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.store import (
    Attempt,
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
    RecipientLimitReached,
    RecipientsPerHourReached,
    StateStore,
    StillUnknown,
    StoreUnavailable,
)

__all__ = ["Sender"]

logger = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        *,
        settings: Settings,
        api: SmsApi,
        prices: PriceCache,
        store: StateStore,
        audit: AuditLog,
        reconciler: Reconciler,
        clock: Callable[[], float],
        in_flight_seconds: float,
    ) -> None:
        self._settings = settings
        self._api = api
        self._prices = prices
        self._store = store
        self._audit = audit
        self._reconciler = reconciler
        self._clock = clock
        self._in_flight_seconds = in_flight_seconds

    async def send(self, confirmed: ConfirmedSend) -> SendOutcome:
        """Never posts twice. Records the reservation and what the POST led to; the caller audits refusals."""
        with anyio.CancelScope(shield=True):
            outcome = await self._reserve_and_post(self.attempt_for(confirmed, now=self._clock()), confirmed)
        return outcome

    def attempt_for(self, confirmed: ConfirmedSend, *, now: float) -> Attempt:
        """The ledger's record of this send, pending, its estimate to reserve."""
        checked = confirmed.checked
        return Attempt(
            id=uuid.uuid4().hex,
            day=utc_day(now),
            created_at=now,
            recipient=checked.prepared.number.e164,
            fingerprint=checked.prepared.fingerprint,
            body_sha256=body_sha256(checked.prepared.body),
            idempotency_key=checked.prepared.idempotency_key,
            confirmation_id=confirmed.confirmation_id,
            owner=THIS_PROCESS,
            status="pending",
            reserved_micro=micro(checked.estimate.estimated_cost_usd),
        )

    def begin_request(self, attempt: Attempt) -> BeginRequest:
        """What the ledger checks as it reserves the attempt: every limit of this server's policy."""
        monthly = self._settings.monthly_budget_usd
        return BeginRequest(
            attempt=attempt,
            daily_budget_micro=micro(self._settings.daily_budget_usd),
            max_per_recipient_per_hour=self._settings.max_per_recipient_per_hour,
            duplicate_window_seconds=self._settings.duplicate_window_seconds,
            pending_stale_seconds=self._in_flight_seconds,
            monthly_budget_micro=micro(monthly) if monthly is not None else None,
            max_recipients_per_hour=self._settings.max_recipients_per_hour,
            max_per_number_block_per_hour=self._settings.max_per_number_block_per_hour,
        )

    async def post_reserved(self, attempt: Attempt, confirmed: ConfirmedSend) -> SendOutcome:
        """The send of an attempt the ledger has already begun (a batch reserves all of its at once). One whose POST
        could outlast the time a pending attempt counts as in flight is given back unsent: past it, a lookup would
        take the attempt for lost while its POST is still out."""
        if self._clock() - attempt.created_at > self._in_flight_seconds - self._settings.timeout_seconds:
            await self._store.release_refused(attempt.id)
            raise Refusal(
                "The batch took too long to reach this recipient (the SMS for AI API answered slowly), so it was not "
                "sent to. Call send_sms_batch again, with the same idempotency_key if it had one, to send the rest.",
                code="batch_too_slow",
                estimate=confirmed.checked.estimate,
            )
        with anyio.CancelScope(shield=True):
            outcome = await self._after_begun(attempt, confirmed)
        return outcome

    async def _reserve_and_post(self, attempt: Attempt, confirmed: ConfirmedSend) -> SendOutcome:
        checked = confirmed.checked
        prepared = checked.prepared
        begun = await self._begin(attempt)
        match begun:
            case Begun():
                pass
            case StillUnknown(earlier):
                raise still_unknown_refusal(earlier)
            case DuplicateFound(earlier) | IdempotentReplay(earlier) | KeyReusedForAnotherMessage(earlier):
                return answer_from_earlier(earlier, prepared, checked.estimate)
            case RecipientLimitReached(count):
                raise recipient_limit_refusal(prepared.number, count, self._settings.max_per_recipient_per_hour)
            case RecipientsPerHourReached(count):
                raise recipients_per_hour_refusal(prepared.number, count, self._settings.max_recipients_per_hour)
            case NumberBlockReached(count):
                raise number_block_refusal(prepared.number, count, self._settings.max_per_number_block_per_hour)
            case BudgetExceeded(spent):
                raise budget_refusal(checked.estimate, spent, self._settings.daily_budget_usd)
            case MonthlyBudgetExceeded(spent):
                monthly = self._settings.monthly_budget_usd
                raise budget_refusal(checked.estimate, spent, monthly or Decimal(0), monthly=True)
            case ConfirmationAlreadyUsed():
                raise Refusal(
                    "This confirmation was already used for a send; a confirmation counts once. "
                    "Call send_sms again without it to confirm a new message.",
                    code="confirmation_used",
                )
        return await self._after_begun(attempt, confirmed)

    async def _after_begun(self, attempt: Attempt, confirmed: ConfirmedSend) -> SendOutcome:
        checked = confirmed.checked
        audit = {"attempt": attempt.id, **estimate_fields(checked.estimate)}
        if confirmed.skipped_confirmation:
            audit["confirmation"] = SKIPPED_FOR_LISTED_RECIPIENT
        try:
            # Not synced on its own: the outcome's line, synced, makes it durable too (one fsync per send).
            await self._audit.record(event="reserved", recipient=attempt.recipient, sync=False, **audit)
        except OSError:
            logger.exception("the audit log could not be written; nothing was sent")
            with contextlib.suppress(Exception):  # it led to no message; if even this fails, a later pass releases it
                await self._store.release_refused(attempt.id)
            raise Refusal(AUDIT_UNWRITABLE, code="audit_unwritable", estimate=checked.estimate) from None
        await self._unless_stopped_meanwhile(attempt, confirmed)
        try:
            return await self._post(attempt, confirmed, audit)
        except (Refusal, OutcomeUnknown):
            raise
        except Exception:
            # From the POST on, a failure may follow a message that went out: never "nothing was sent", and a retry
            # must meet an unknown attempt, not a pending one it takes for in flight (and posts again).
            logger.exception("a send failed after its POST; it stays unknown until a lookup settles it")
            with contextlib.suppress(Exception):  # a store that failed may fail again: the attempt ages into unknown
                await self._store.mark_unknown(attempt.id)
            raise OutcomeUnknown(
                "The message may have been sent; its outcome is unknown, so it must not be retried. smsai-mcp could "
                "not record the SMS for AI API's answer. Check list_messages in a minute to see whether it went out. "
                f"Until its outcome is known, the same message is refused: {how_it_is_settled(attempt.id)}"
            ) from None

    async def _post(self, attempt: Attempt, confirmed: ConfirmedSend, audit: dict[str, object]) -> SendOutcome:
        """The one POST, then what its answer shows: settled, refused (released), or looked up."""
        checked = confirmed.checked
        prepared = checked.prepared
        try:
            message = await self._api.send(to=attempt.recipient, body=prepared.body, sender_id=prepared.sender_id)
        except ApiError as exc:
            if not exc.request_may_have_been_processed:
                await self._store.release_refused(attempt.id)  # it led to no message: the person may confirm again
                raise Refusal(
                    exc.message,
                    code="upstream_refused",
                    estimate=checked.estimate,
                    audit={"attempt": attempt.id, "upstream": type(exc).__name__},
                ) from None
            return await self._after_unknown_outcome(attempt, confirmed, exc, audit)
        if not same_number(message.to, attempt.recipient) or await self._store.message_claimed(message.id):
            # Another number's message, or one an earlier send was settled with: not this one's answer.
            unreadable = InvalidResponse("the send answer names another message", method="POST", path="/sms/send")
            return await self._after_unknown_outcome(attempt, confirmed, unreadable, audit)
        await self.settle(attempt, message)
        await self._audit.record(
            event="sent", recipient=attempt.recipient, message_id=message.id, charged_usd=message.price_usd, **audit
        )
        return SendOutcome(status="sent", estimate=checked.estimate, message=message)

    async def _unless_stopped_meanwhile(self, attempt: Attempt, confirmed: ConfirmedSend) -> None:
        """A pause, an opt-out or quiet hours that began while the person was asked stop the POST too."""
        number = confirmed.checked.prepared.number
        try:
            stop = await stopped_meanwhile(self._store, self._settings, number, self._clock())
        except Exception:
            with contextlib.suppress(Exception):  # a store out of reach may stay so: a later pass releases it
                await self._store.release_refused(attempt.id)
            raise
        if stop is not None:
            await self._store.release_refused(attempt.id)  # it led to no message: the person may confirm again
            raise stop

    async def _begin(self, attempt: Attempt) -> BeginResult:
        try:
            return await self._store.begin(self.begin_request(attempt), now=attempt.created_at)
        except StoreUnavailable as exc:
            raise ledger_refusal(exc) from None
        except Exception:  # a full disk, a ledger removed: the reservation is not on the books, so no POST
            logger.exception("the ledger could not record a reservation; nothing was sent")
            raise Refusal(LEDGER_UNWRITABLE, code="ledger_unwritable") from None

    async def _after_unknown_outcome(
        self, attempt: Attempt, confirmed: ConfirmedSend, error: ApiError, audit: dict[str, object]
    ) -> SendOutcome:
        await self._store.mark_unknown(attempt.id)
        found = (await self._reconciler.look_up(attempt)).found
        if found is not None:
            if await self.settle(attempt, found):  # else a person or another process settled it, and recorded it
                await self._audit.record(
                    event="sent", recipient=attempt.recipient, message_id=found.id, reconciled=True, **audit
                )
            return SendOutcome(status="sent", estimate=confirmed.checked.estimate, message=found)
        await self._audit.record(event="unknown", recipient=attempt.recipient, reason=type(error).__name__, **audit)
        raise OutcomeUnknown(
            f"The message may have been sent; its outcome is unknown, so it must not be retried. {_why_unknown(error)} "
            "It is not in the sent list yet. Check list_messages in a minute to see whether it went out. Until its "
            "outcome is known, its estimated cost stays reserved against today's budget and the same message is "
            f"refused: {how_it_is_settled(attempt.id)}"
        )

    async def settle(self, attempt: Attempt, message: Message) -> bool:
        """Books the message on the attempt; whether this call settled it (not when another got there first)."""
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


def _why_unknown(error: ApiError) -> str:
    """What happened to a send, without the retry advice that suits a read."""
    if isinstance(error, UpstreamTimeout):
        return "The SMS for AI API did not answer in time."
    if isinstance(error, ConnectionLost):
        return "The connection to the SMS for AI API broke before it answered."
    if isinstance(error, ApiStatusError):
        return f"The SMS for AI API answered HTTP {error.status_code} after the request reached it."
    return "The SMS for AI API's answer could not be read."
