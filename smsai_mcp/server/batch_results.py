"""The structured result of send_sms_batch: one entry per recipient, in the order given, and the counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from smsai_mcp.server.results import EstimateResult, MessageResult

if TYPE_CHECKING:
    from smsai_mcp.guard.batch_stages import BatchOutcome, RecipientOutcome

__all__ = ["BatchRecipientResult", "BatchResult"]


class _Omitting(BaseModel):
    model_config = ConfigDict(frozen=True)

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: Any) -> dict[str, Any]:
        # A field that does not apply to this status is left out rather than sent as null.
        return {key: value for key, value in handler(self).items() if value is not None}


class BatchRecipientResult(_Omitting):
    to: str = Field(description="The recipient, normalised to E.164 (as given when it is no valid number).")
    status: Literal["sent", "duplicate", "refused", "unknown", "pending"] = Field(
        description="sent; duplicate (an identical message went out earlier: the earlier one is in message); "
        "refused (nothing sent to this number: see reason); unknown (it may have been sent: never retry it); "
        "pending (waiting for confirmation)."
    )
    estimate: EstimateResult | None = Field(default=None, description="What this message costs, when it is priced.")
    message: MessageResult | None = Field(default=None, description="The message, when sent or duplicate.")
    reason: str | None = Field(default=None, description="Why, when refused or unknown.")

    @classmethod
    def of(cls, outcome: RecipientOutcome) -> BatchRecipientResult:
        return cls(
            to=outcome.to,
            status=outcome.status,
            estimate=EstimateResult.of(outcome.estimate) if outcome.estimate is not None else None,
            message=MessageResult.of(outcome.message) if outcome.message is not None else None,
            reason=outcome.reason,
        )


class BatchResult(_Omitting):
    status: Literal["done", "confirmation_required"]
    estimate_total_usd: float = Field(description="The estimated cost of every recipient not refused.")
    results: list[BatchRecipientResult] = Field(description="One per recipient, in the order given.")
    sent_count: int = Field(description="Recipients sent to by this call (or by the first call under its key).")
    refused_count: int = Field(description="Recipients refused: nothing was sent to them.")
    confirmation_token: str | None = Field(
        default=None,
        description="When confirmation is required: pass it back with the same recipients, body and sender_id.",
    )
    expires_at: str | None = Field(default=None, description="When the confirmation token expires (ISO 8601, UTC).")

    @classmethod
    def of(cls, outcome: BatchOutcome) -> BatchResult:
        return cls(
            status=outcome.status,
            estimate_total_usd=float(outcome.estimate_total_usd),
            results=[BatchRecipientResult.of(result) for result in outcome.results],
            sent_count=sum(1 for result in outcome.results if result.status == "sent"),
            refused_count=sum(1 for result in outcome.results if result.status == "refused"),
            confirmation_token=outcome.confirmation_token,
            expires_at=outcome.expires_at,
        )
