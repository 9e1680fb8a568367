"""Duplicate and idempotency: an earlier attempt of the same message or key answers the call, or refuses it."""

from __future__ import annotations

from smsai_mcp.client.models import Message
from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.reconcile import how_it_is_settled
from smsai_mcp.guard.refusal import OutcomeUnknown, Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.state.store import Attempt

__all__ = ["answer_from_earlier", "duplicate_in_window", "replay_under_key", "still_unknown", "still_unknown_refusal"]


async def replay_under_key(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    """A retry under the same key is not a new send: it gets the first answer, whatever the limits say now."""
    if prepared.idempotency_key is None:
        return None
    earlier = await context.store.find_earlier(
        fingerprint=prepared.fingerprint,
        idempotency_key=prepared.idempotency_key,
        duplicate_window_seconds=0,
        now=context.now,
    )
    if earlier is None:
        return None
    return answer_from_earlier(earlier, prepared, await context.estimate(prepared))


async def still_unknown(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    """The same message or key whose earlier outcome is unknown (a pending send of a process that died moments
    ago too, before any reconciling pass says so) is refused until that outcome is known."""
    unresolved = await context.store.find_unresolved(
        fingerprint=prepared.fingerprint, idempotency_key=prepared.idempotency_key, stale_before=context.now
    )
    if unresolved is not None and (
        unresolved.status == "unknown" or context.reconciler.no_longer_in_flight(unresolved, context.now)
    ):
        raise still_unknown_refusal(unresolved)
    return None


async def duplicate_in_window(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    """Without a key, an identical message inside the duplicate window answers with the earlier message."""
    if prepared.idempotency_key is not None:
        return None
    earlier = await context.store.find_earlier(
        fingerprint=prepared.fingerprint,
        idempotency_key=None,
        duplicate_window_seconds=context.settings.duplicate_window_seconds,
        now=context.now,
    )
    if earlier is None:
        return None
    return answer_from_earlier(earlier, prepared, await context.estimate(prepared))


def answer_from_earlier(earlier: Attempt, prepared: PreparedSend, estimate: Estimate) -> SendOutcome:
    keyed = prepared.idempotency_key is not None
    if keyed and earlier.fingerprint != prepared.fingerprint:
        raise Refusal(
            "This idempotency_key was already used in the last 24 hours for a different message. Use a new key "
            "for a new message, or send exactly the same to, body and sender_id to get the first result.",
            code="idempotency_key_reused",
        )
    if earlier.status == "unknown":
        raise still_unknown_refusal(earlier)
    if earlier.status != "sent" or earlier.message_json is None:
        raise OutcomeUnknown(
            "An identical message to this number may have been sent moments ago; its outcome is unknown, so it "
            "must not be retried, and nothing more was sent now. Check list_messages in a minute."
        )
    message = Message.model_validate_json(earlier.message_json)
    return SendOutcome(status="sent" if keyed else "duplicate", estimate=estimate, message=message)


def still_unknown_refusal(earlier: Attempt) -> OutcomeUnknown:
    return OutcomeUnknown(
        "An identical message (or one under the same idempotency_key) may have been sent earlier; its outcome is "
        "unknown, so it must not be retried, and nothing more was sent now. Check list_messages to see whether it "
        f"went out. It stays refused until its outcome is known: {how_it_is_settled(earlier.id)}"
    )
