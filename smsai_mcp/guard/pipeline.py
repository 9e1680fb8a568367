"""The send guard: the steps of CONTRACT section 4, in their order, before the one upstream POST.

A step is one function (guard/context.py `Step`): it reads the prepared send and the context, and passes,
answers the call with an earlier outcome, or refuses with a code and a sentence. Adding a step is adding
its file and a line below. The guard audits every outcome itself: refusals, answers and sends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from smsai_mcp.client.api import SmsApi
from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import AuditLog, estimate_fields
from smsai_mcp.guard.balance import BalanceReader
from smsai_mcp.guard.batch import BatchGuard
from smsai_mcp.guard.confirm import Asked, confirm
from smsai_mcp.guard.context import GuardContext, Step
from smsai_mcp.guard.dry_run import dry_run
from smsai_mcp.guard.opt_outs import OptOuts
from smsai_mcp.guard.question import Question
from smsai_mcp.guard.reconcile import IN_FLIGHT_MARGIN_SECONDS, Reconciler
from smsai_mcp.guard.refusal import OutcomeUnknown, Refusal, ledger_refusal
from smsai_mcp.guard.send import Sender
from smsai_mcp.guard.stages import CheckedSend, SendOutcome, SendRequest
from smsai_mcp.guard.steps import (
    content,
    cost,
    destination,
    earlier,
    hourly_limit,
    monthly_budget,
    opted_out,
    quiet_hours,
    velocity,
)
from smsai_mcp.guard.steps.paused import refuse_if_paused
from smsai_mcp.guard.steps.validation import prepare, read_number_and_body
from smsai_mcp.guard.tokens import ConfirmationTokens
from smsai_mcp.sms.estimate import Estimate, estimate_message
from smsai_mcp.sms.local_time import local_time
from smsai_mcp.sms.money import usd_of_micro, utc_day, utc_month
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.store import Standing, StateStore, StoreUnavailable

__all__ = ["STEPS", "SendGuard"]

logger = logging.getLogger(__name__)

# (A read-only server or tenant is refused by the MCP layer before any of these, and before anyone is asked.)
# The pause comes first (steps/paused.py), then input validation (steps/validation.py `prepare`), then:
STEPS: tuple[Step, ...] = (
    content.content_checks,  # bidi and tag characters, secrets, URL shorteners: SMSAI_CONTENT_CHECKS
    earlier.replay_under_key,  # a retry under a known key gets its first answer, whatever the limits say now
    earlier.still_unknown,  # the same message or key whose outcome is unknown is refused until it is known
    opted_out.opted_out,  # the do-not-text list: the first destination-policy step
    destination.blocked_countries,
    destination.allowed_countries,
    destination.allowed_recipients,
    destination.premium_rate,
    quiet_hours.quiet_hours,  # SMSAI_QUIET_HOURS in the recipient's local time, widened by US state law
    hourly_limit.per_recipient_hourly_limit,
    velocity.recipients_per_hour,  # distinct numbers in any rolling hour: SMSAI_MAX_RECIPIENTS_PER_HOUR
    velocity.number_block,  # distinct numbers of one block of 100: SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR
    cost.estimate,
    cost.per_message_cap,
    cost.daily_budget,
    monthly_budget.monthly_budget,  # SMSAI_MONTHLY_BUDGET_USD, per UTC month
    earlier.duplicate_in_window,
)
# Then confirmation (confirm.py), then the send (send.py), which re-checks every limit atomically as it reserves.


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
        balances: BalanceReader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._prices = prices
        self._store = store
        self._audit = audit
        self._tokens = tokens
        self._balances = balances
        self._clock = clock
        self.opt_outs = OptOuts(store, audit, clock)  # the do-not-text list the opted_out step reads
        in_flight_seconds = settings.timeout_seconds + IN_FLIGHT_MARGIN_SECONDS
        self._sender: Sender
        self.reconciler = Reconciler(
            api=api,
            store=store,
            audit=audit,
            settle=lambda attempt, message: self._sender.settle(attempt, message),
            clock=clock,
            in_flight_seconds=in_flight_seconds,
            look_up_seconds=settings.timeout_seconds,
        )
        self._sender = Sender(
            settings=settings,
            api=api,
            prices=prices,
            store=store,
            audit=audit,
            reconciler=self.reconciler,
            clock=clock,
            in_flight_seconds=in_flight_seconds,
        )
        self.batches = BatchGuard(  # send_sms_batch: each recipient through `check`, then one confirmation
            settings=settings,
            store=store,
            tokens=tokens,
            sender=self._sender,
            audit=audit,
            balances=balances,
            clock=clock,
            check=self.check,
            audited=self._refused,
            dry_run=self.estimate,
        )

    async def check(self, request: SendRequest) -> CheckedSend | SendOutcome:
        """Every step before confirmation, in order: the checked send, or an earlier outcome that answers the call.
        Sends nothing, reserves nothing; a refusal is audited and raised."""
        try:
            await refuse_if_paused(self._store)
            prepared = prepare(request)
            context = GuardContext(self._settings, self._store, self._prices, self.reconciler, now=self._clock())
            for step in STEPS:
                answer = await step(prepared, context)
                if answer is not None:
                    await self._audit_answer(answer)
                    return answer
            return CheckedSend(prepared, await context.estimate(prepared), await context.spent_today_micro())
        except Exception as failure:  # every failure before the POST is a refusal that says nothing was sent
            raise await self._refused(request.to, failure, None) from None

    async def confirm_and_send(self, checked: CheckedSend, *, asked: Asked | None, token: str | None) -> SendOutcome:
        """Confirmation, then the send: posted at most once, audited, and charged to the cached balance."""
        try:
            decided = confirm(
                checked, settings=self._settings, tokens=self._tokens, now=self._clock(), asked=asked, token=token
            )
            if isinstance(decided, SendOutcome):
                await self._audit_answer(decided)
                return decided
            outcome = await self._sender.send(decided)
        except OutcomeUnknown:
            raise  # after the POST the send audited it as unknown; a race caught as it reserved posted nothing
        except Exception as failure:
            raise await self._refused(checked.prepared.number.e164, failure, checked.estimate) from None
        return outcome

    async def _refused(self, to: str, failure: Exception, estimate: Estimate | None) -> Refusal | OutcomeUnknown:
        """The failure as a refusal that carries its code, recorded in the audit log."""
        if isinstance(failure, StoreUnavailable):
            failure = ledger_refusal(failure)
        elif not isinstance(failure, Refusal | OutcomeUnknown):
            logger.error("unexpected failure before the POST", exc_info=failure)
            failure = Refusal(
                "smsai-mcp hit an internal error (details are in its log). Try again later.", code="internal_error"
            )
        try:
            if isinstance(failure, Refusal):
                fields = {**estimate_fields(failure.estimate or estimate), **failure.audit}
                await self._audit.record(event="refused", recipient=to, reason=failure.code, **fields)
            else:
                await self._audit.record(
                    event="refused", recipient=to, reason="outcome_unknown", **estimate_fields(estimate)
                )
        except OSError:  # a full disk must not turn a refusal into a failure that may have sent
            logger.warning("the audit log could not record a refusal", exc_info=True)
        return failure

    async def elicitation_failed(self, to: str, checked: CheckedSend | None) -> None:
        """The client could not get the person's answer: nothing was sent, and the audit log says why."""
        estimate = checked.estimate if checked is not None else None
        recipient = checked.prepared.number.e164 if checked is not None else to
        await self._audit.record(
            event="refused", recipient=recipient, reason="elicitation_failed", **estimate_fields(estimate)
        )

    async def _audit_answer(self, outcome: SendOutcome) -> None:
        """A call answered without a send: a duplicate, a replay under an idempotency key, a token issued."""
        event = "confirmation_required" if outcome.status == "confirmation_required" else "duplicate"
        message_id = {"message_id": outcome.message.id} if outcome.message is not None else {}
        try:
            await self._audit.record(
                event=event, recipient=outcome.estimate.to, **estimate_fields(outcome.estimate), **message_id
            )
        except OSError:  # the answer sends nothing more either way
            logger.warning("the audit log could not record an answer", exc_info=True)

    async def question(self, checked: CheckedSend) -> Question:
        """The confirmation question, with the balance read from the upstream for it (left out when it cannot say)
        and the recipient's local time by the guard's clock."""
        budget = self._settings.daily_budget_usd
        number = checked.prepared.number
        return Question(
            recipient=number.international,
            estimate=checked.estimate,
            sender_id=checked.prepared.sender_id,
            body=checked.prepared.body,
            local_time=local_time(checked.estimate.recipient_time_zones, self._clock(), home_region=number.region),
            balance_usd=await self._balances.read_now() if self._balances is not None else None,
            budget_left_usd=max(budget - usd_of_micro(checked.spent_today_micro), Decimal(0)),
            daily_budget_usd=budget,
        )

    async def estimate(self, to: str, body: str, sender_id: str | None = None) -> Estimate:
        """What estimate_sms shows: refuses what it cannot price, and premium-rate numbers; else the estimate with
        the first step that would refuse send_sms now (a dry run: no reservation, question, POST or audit line)."""
        number, body = read_number_and_body(to, body)
        destination.refuse_premium(number)
        estimate_message(number, body, await self._prices.get())  # raises the plain sentence of an unpriced country
        context = GuardContext(self._settings, self._store, self._prices, self.reconciler, now=self._clock())
        return await dry_run(prepare(SendRequest(to, body, sender_id)), context, STEPS)

    async def reconcile(self) -> int:
        """Settle or release, on evidence only, attempts that a crash or a lost answer left open."""
        return await self.reconciler.reconcile()

    async def standing(self) -> Standing:
        """Spent today and this month (UTC), and the pause: what check_balance shows, in one read."""
        now = self._clock()
        return await self._store.standing(utc_day(now), utc_month(now))
