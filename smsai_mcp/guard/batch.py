"""A batch: one text to many numbers, each through the guard as a single send, confirmed once, each sent once.

Every recipient's attempt carries an idempotency key derived from the batch's key and the number, so a retry
under the batch key replays the ones that went out and sends only the rest; without a key the duplicate window
protects each recipient as it does a single send. The whole batch is reserved at once before any POST.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import anyio

from smsai_mcp.config import Settings
from smsai_mcp.guard import batch_stages as rules
from smsai_mcp.guard.audit import AuditLog, estimate_fields
from smsai_mcp.guard.balance import BalanceReader
from smsai_mcp.guard.batch_stages import (
    BATCH_TOKEN_REFUSALS,
    UNKNOWN_AFTER_RESERVATION,
    Audited,
    BatchOutcome,
    BatchRequest,
    Check,
    CheckedBatch,
    DryRun,
    Progress,
    RecipientOutcome,
)
from smsai_mcp.guard.batch_velocity import BatchVelocity
from smsai_mcp.guard.confirm import Asked, asks_a_person, persons_confirmation, skips_confirmation
from smsai_mcp.guard.question import BatchQuestion, BatchRecipient
from smsai_mcp.guard.refusal import LEDGER_UNWRITABLE, OutcomeUnknown, Refusal, ledger_refusal
from smsai_mcp.guard.send import Sender
from smsai_mcp.guard.stages import CheckedSend, ConfirmedSend, SendOutcome, SendRequest
from smsai_mcp.guard.tokens import ConfirmationTokens
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.money import micro, usd_of_micro, utc_month
from smsai_mcp.state.store import Attempt, Begun, StateStore, StoreUnavailable

__all__ = ["SENDS_AT_ONCE", "BatchGuard"]

logger = logging.getLogger(__name__)

SENDS_AT_ONCE = 4  # POSTs in flight at once: quick for a person waiting, far below the upstream's rate limit


class BatchGuard:
    def __init__(
        self,
        *,
        settings: Settings,
        store: StateStore,
        tokens: ConfirmationTokens,
        sender: Sender,
        audit: AuditLog,
        balances: BalanceReader | None,
        clock: Callable[[], float],
        check: Check,
        audited: Audited,
        dry_run: DryRun,
    ) -> None:
        self._settings = settings
        self._store = store
        self._tokens = tokens
        self._sender = sender
        self._audit = audit
        self._balances = balances
        self._clock = clock
        self._check = check
        self._audited = audited
        self._dry_run = dry_run

    async def check(self, request: BatchRequest) -> CheckedBatch:
        """Every recipient through the guard's steps, then the batch's total against the budgets. Sends nothing,
        reserves nothing; a Refusal when the batch may not go on as a whole."""
        rules.refuse_malformed(request, self._settings.max_batch_size)
        keyed = rules.keyed_batch(request)
        if keyed is not None and await self._store.batch_key(keyed[0], now=self._clock()) not in (None, keyed[1]):
            raise rules.batch_key_refusal()
        outcomes: list[RecipientOutcome] = []
        sendable: list[CheckedSend] = []
        velocity = BatchVelocity(self._settings)
        for to in request.recipients:
            number = rules.e164_or_as_given(to)
            single = SendRequest(
                to, request.body, request.sender_id, rules.derived_key(request.idempotency_key, number)
            )
            try:
                checked = await self._check(single)
            except Refusal as refusal:
                estimate = refusal.estimate or await self._estimate_if_priced(single)
                outcomes.append(RecipientOutcome(number, "refused", estimate, reason=str(refusal)))
                continue
            except OutcomeUnknown as unknown:
                estimate = await self._estimate_if_priced(single)
                outcomes.append(RecipientOutcome(number, "unknown", estimate, reason=str(unknown)))
                continue
            if isinstance(checked, SendOutcome):
                outcomes.append(RecipientOutcome(number, rules.status_of(checked), checked.estimate, checked.message))
            else:
                over = await velocity.refusal(self._store, checked.prepared.number, self._clock())
                if over is not None:
                    audited = await self._audited(number, over, checked.estimate)
                    outcomes.append(RecipientOutcome(number, "refused", checked.estimate, reason=str(audited)))
                    continue
                sendable.append(checked)
                outcomes.append(RecipientOutcome(number, "pending", checked.estimate))
        if not sendable and all(o.status in ("refused", "unknown") for o in outcomes):
            raise Refusal(
                "No recipient of this batch can be sent to. " + rules.reasons(outcomes), code="batch_unsendable"
            )
        batch = CheckedBatch(
            tuple(outcomes),
            tuple(sendable),
            rules.batch_fingerprint(sendable),
            max((c.spent_today_micro for c in sendable), default=0),
            keyed,
        )
        await self._refuse_over_budget(batch)
        return batch

    async def _estimate_if_priced(self, request: SendRequest) -> Estimate | None:
        """A refused recipient's estimate, as estimate_sms gives it (naming the guard that refuses it); None for a
        number that cannot be priced at all."""
        try:
            return await self._dry_run(request.to, request.body, request.sender_id)
        except Exception:  # an invalid, premium-rate or unlisted number has no estimate: its reason says why
            return None

    def asks_a_person(self, batch: CheckedBatch) -> bool:
        """Whether a person is asked about this batch when the client can ask: not when every number is one the
        user sends to without a question."""
        return bool(batch.sendable) and asks_a_person(self._settings, batch.numbers)

    async def question(self, batch: CheckedBatch) -> BatchQuestion:
        budget = self._settings.daily_budget_usd
        first = batch.sendable[0].prepared
        return BatchQuestion(
            recipients=tuple(BatchRecipient(c.prepared.number.international, c.estimate) for c in batch.sendable),
            refused=sum(1 for o in batch.outcomes if o.status in ("refused", "unknown")),
            sender_id=first.sender_id,
            body=first.body,
            balance_usd=await self._balances.read_now() if self._balances is not None else None,
            budget_left_usd=max(budget - usd_of_micro(batch.spent_today_micro), Decimal(0)),
            daily_budget_usd=budget,
        )

    async def confirm_and_send(
        self, batch: CheckedBatch, *, asked: Asked | None, token: str | None, progress: Progress | None = None
    ) -> BatchOutcome:
        """One confirmation for the whole batch, one reservation, then each recipient posted once."""
        if not batch.sendable:
            return BatchOutcome("done", batch.outcomes)
        try:
            confirmation = self._confirmation(batch, asked=asked, token=token)
            if isinstance(confirmation, BatchOutcome):
                await self._audit_each(batch, event="confirmation_required")
                return confirmation
            skipped = skips_confirmation(self._settings, batch.numbers)
            confirmed = [
                ConfirmedSend(
                    c,
                    None if confirmation is None else f"{confirmation}:{c.prepared.number.e164}",
                    skipped_confirmation=skipped,
                )
                for c in batch.sendable  # each attempt uses its own part of the one confirmation, once
            ]
            with anyio.CancelScope(shield=True):  # from the reservation on, the batch runs to its end
                sent = await self._reserve_and_send(confirmed, progress, batch.keyed)
        except Refusal as refusal:
            await self._audit_refused(batch, refusal)
            raise
        by_number = {outcome.to: outcome for outcome in sent}
        return BatchOutcome(
            "done", tuple(by_number.get(o.to, o) if o.status == "pending" else o for o in batch.outcomes)
        )

    def _confirmation(
        self, batch: CheckedBatch, *, asked: Asked | None, token: str | None
    ) -> str | BatchOutcome | None:
        """The id of the batch's confirmation (None when none is needed), or the token to hand back first."""
        mode = self._settings.confirm
        if mode == "off" or skips_confirmation(self._settings, batch.numbers):
            return None
        if asked is not None:
            return persons_confirmation(asked)
        if mode == "elicit":
            raise Refusal(
                "This server needs a person to confirm each SMS (SMSAI_CONFIRM=elicit), and this MCP client cannot "
                "ask them (it does not support elicitation). Use a client that does, or set SMSAI_CONFIRM=token.",
                code="cannot_elicit",
            )
        now = self._clock()
        if token is None:
            issued, expires = self._tokens.issue(batch.fingerprint, now=now)
            at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
            return BatchOutcome("confirmation_required", batch.outcomes, issued, at)
        try:
            return "token:" + self._tokens.verify(token, batch.fingerprint, now=now)
        except Refusal as refusal:  # worded for send_sms; a batch's agent needs the batch's words
            raise Refusal(BATCH_TOKEN_REFUSALS.get(refusal.code, str(refusal)), code=refusal.code) from None

    async def _reserve_and_send(
        self, confirmed: Sequence[ConfirmedSend], progress: Progress | None, keyed: tuple[str, str] | None
    ) -> list[RecipientOutcome]:
        now = self._clock()
        attempts = [self._sender.attempt_for(c, now=now) for c in confirmed]
        try:
            # Claimed just before the reservation: a batch refused or declined leaves its key free for another.
            claimed = keyed is None or await self._store.claim_batch_key(*keyed, now=now) == keyed[1]
            requests = [self._sender.begin_request(a) for a in attempts] if claimed else []
            begun = await self._store.begin_many(requests, now=now) if requests else []
        except StoreUnavailable as exc:
            raise ledger_refusal(exc) from None
        except Exception:  # a full disk, a ledger removed: nothing is on the books, so no POST
            logger.exception("the ledger could not record a batch's reservations; nothing was sent")
            raise Refusal(LEDGER_UNWRITABLE, code="ledger_unwritable") from None
        if not claimed:
            raise rules.batch_key_refusal()
        if not all(isinstance(result, Begun) for result in begun):
            changed = [
                f"{c.checked.prepared.number.international}: {rules.why_not_begun(result)}"
                for c, result in zip(confirmed, begun, strict=True)
                if not isinstance(result, Begun)
            ]
            raise Refusal(
                "Between the checks and the reservation of the whole batch, the ledger changed for these "
                f"recipients: {'; '.join(changed)}. Call send_sms_batch again to see where each one stands.",
                code="batch_reservation",
            )
        outcomes: list[RecipientOutcome] = []
        limiter = anyio.CapacityLimiter(SENDS_AT_ONCE)

        async def send_one(attempt_index: int) -> None:
            async with limiter:
                outcomes.append(await self._post(attempts[attempt_index], confirmed[attempt_index]))
            if progress is not None:
                with contextlib.suppress(Exception):  # a client gone away does not stop the batch
                    await progress(len(outcomes), len(confirmed))

        async with anyio.create_task_group() as group:
            for index in range(len(confirmed)):
                group.start_soon(send_one, index)
        return outcomes

    async def _post(self, attempt: Attempt, confirmed: ConfirmedSend) -> RecipientOutcome:
        checked = confirmed.checked
        to = checked.prepared.number.e164
        try:
            outcome = await self._sender.post_reserved(attempt, confirmed)
        except Refusal as refusal:  # the API refused this one (402, 429...): nothing went to this number
            audited = await self._audited(to, refusal, checked.estimate)
            return RecipientOutcome(to, "refused", checked.estimate, reason=str(audited))
        except OutcomeUnknown as unknown:
            return RecipientOutcome(to, "unknown", checked.estimate, reason=str(unknown))
        except Exception:  # after the reservation a failure may follow a POST: never claim nothing went out
            logger.exception("a batch send failed after its reservation")
            return RecipientOutcome(to, "unknown", checked.estimate, reason=UNKNOWN_AFTER_RESERVATION)
        return RecipientOutcome(to, rules.status_of(outcome), outcome.estimate, outcome.message)

    async def _refuse_over_budget(self, batch: CheckedBatch) -> None:
        """The whole batch against the daily and monthly budgets, before anyone is asked."""
        total = sum(micro(c.estimate.estimated_cost_usd) for c in batch.sendable)
        if not total:
            return
        daily = self._settings.daily_budget_usd
        refusal: Refusal | None = None
        if batch.spent_today_micro + total > micro(daily):
            refusal = rules.over_budget_refusal("today's", "daily", daily, batch.spent_today_micro, total)
        monthly = self._settings.monthly_budget_usd
        if refusal is None and monthly is not None:
            try:
                spent = await self.spent_this_month_micro()
            except StoreUnavailable as exc:  # before anyone is asked: a refusal that says nothing was sent
                raise ledger_refusal(exc) from None
            if spent + total > micro(monthly):
                refusal = rules.over_budget_refusal("this month's", "monthly", monthly, spent, total)
        if refusal is not None:
            await self._audit_refused(batch, refusal)
            raise refusal

    async def _audit_refused(self, batch: CheckedBatch, refusal: Refusal) -> None:
        """A refusal of the whole batch: one audit line per recipient it would have sent to."""
        await self._audit_each(batch, event="refused", reason=refusal.code, **refusal.audit)

    async def _audit_each(self, batch: CheckedBatch, *, event: str, **fields: object) -> None:
        for checked in batch.sendable:
            with contextlib.suppress(OSError):  # the answer stands even if its audit line cannot be written
                estimated = estimate_fields(checked.estimate)
                await self._audit.record(event=event, recipient=checked.prepared.number.e164, **estimated, **fields)

    async def spent_this_month_micro(self) -> int:
        """Charged plus reserved this UTC month (the store's running total)."""
        return await self._store.spent_month_micro(utc_month(self._clock()))
