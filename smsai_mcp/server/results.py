"""The structured results of the tools: each becomes a tool's output schema and its `structuredContent`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

if TYPE_CHECKING:
    from smsai_mcp.client.models import Country, Message
    from smsai_mcp.guard.stages import SendOutcome
    from smsai_mcp.sms.estimate import Estimate
    from smsai_mcp.sms.gsm7_suggestion import Gsm7Suggestion

__all__ = [
    "BalanceResult",
    "CountriesResult",
    "CountryResult",
    "EstimateResult",
    "Gsm7SuggestionResult",
    "MessageResult",
    "MessagesResult",
    "ReplacementResult",
    "SendResult",
]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReplacementResult(_Result):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from", description="The character in the text.")
    to: str = Field(description="What the suggestion writes instead: its usual GSM-7 equivalent.")
    count: int = Field(description="How many times it occurs in the text.")


class Gsm7SuggestionResult(_Result):
    """The text with its typographic characters replaced by their usual GSM-7 equivalents; never applied."""

    body: str = Field(description="The rewritten text, all of it GSM-7. Send it only if the person agrees.")
    segments: int = Field(description="SMS parts the rewritten text takes.")
    estimated_cost_usd: float = Field(description="What the rewritten text would cost.")
    saving_usd: float = Field(description="estimated_cost_usd of the original text minus that of the rewrite.")
    replacements: list[ReplacementResult] = Field(description="Each distinct character replaced, with its count.")

    @classmethod
    def of(cls, suggestion: Gsm7Suggestion) -> Gsm7SuggestionResult:
        return cls(
            body=suggestion.body,
            segments=suggestion.segments,
            estimated_cost_usd=float(suggestion.estimated_cost_usd),
            saving_usd=float(suggestion.saving_usd),
            replacements=[ReplacementResult(from_=r.from_, to=r.to, count=r.count) for r in suggestion.replacements],
        )


class EstimateResult(_Result):
    """What a message will cost, worked out before anything is sent."""

    to: str = Field(description="The recipient, normalised to E.164.")
    country_code: str = Field(description="ISO 3166-1 alpha-2 code of the recipient's country.")
    country_name: str
    encoding: Literal["GSM-7", "UCS-2"] = Field(description="GSM-7 unless a character forces UCS-2.")
    characters: int = Field(description="Characters in the body.")
    segments: int = Field(description="SMS parts the carrier will send; each is billed.")
    non_gsm_characters: list[str] = Field(description="The distinct characters that force UCS-2; empty for GSM-7.")
    unit_price_usd: float = Field(description="Price of one segment to this country.")
    estimated_cost_usd: float = Field(description="unit_price_usd times segments.")
    warnings: list[str] = Field(
        description="Short sentences the person should know: links, markdown a phone shows raw, invisible characters."
    )
    links: list[str] = Field(description="The host names of the links in the text.")
    gsm7_suggestion: Gsm7SuggestionResult | None = Field(
        description="null, or a GSM-7 rewrite when only typographic characters (curly quotes, dashes, the ellipsis, "
        "special spaces) force UCS-2; a suggestion the server never applies."
    )
    recipient_time_zones: list[str] = Field(
        description="The IANA time zones of the number, or of its country when the number has none."
    )
    quiet_until: str | None = Field(
        description="null when quiet hours allow a send now, else when they end (ISO 8601 UTC) in every time zone "
        "of the number."
    )
    blocked_by: str | None = Field(
        description="null when send_sms would go on to confirmation now; else the code of the first guard that would "
        "refuse it (e.g. read_only, content, blocked_country, country_not_allowed, recipient_not_allowed, "
        "quiet_hours, recipient_hourly_limit, cost_cap, daily_budget)."
    )
    blocked_reason: str | None = Field(description="The sentence of the guard in blocked_by, or null.")

    @classmethod
    def of(cls, estimate: Estimate) -> EstimateResult:
        return cls(
            to=estimate.to,
            country_code=estimate.country_code,
            country_name=estimate.country_name,
            encoding=estimate.encoding,
            characters=estimate.characters,
            segments=estimate.segments,
            non_gsm_characters=list(estimate.non_gsm_characters),
            unit_price_usd=float(estimate.unit_price_usd),
            estimated_cost_usd=float(estimate.estimated_cost_usd),
            warnings=list(estimate.warnings),
            links=list(estimate.links),
            gsm7_suggestion=(
                Gsm7SuggestionResult.of(estimate.gsm7_suggestion) if estimate.gsm7_suggestion is not None else None
            ),
            recipient_time_zones=list(estimate.recipient_time_zones),
            quiet_until=estimate.quiet_until,
            blocked_by=estimate.blocked_by,
            blocked_reason=estimate.blocked_reason,
        )


class MessageResult(BaseModel):
    """One SMS as the API records it; fields the API adds are passed through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: int
    to: str
    status: str = Field(description="sent, delivered or failed (any other value is passed through).")
    # null when the API stated no usable amount: the estimate is booked then, but showing it here would claim a charge
    # the API never stated, and NaN or -1 is no JSON number the schema allows.
    price_usd: float | None = Field(description="What the API charged, in USD.")

    @classmethod
    def of(cls, message: Message) -> MessageResult:
        return cls.model_validate(message.model_dump(exclude_none=True) | {"price_usd": message.price_usd})


class SendResult(_Result):
    status: Literal["sent", "duplicate", "confirmation_required"]
    estimate: EstimateResult
    message: MessageResult | None = Field(default=None, description="The message, when sent or duplicate.")
    confirmation_token: str | None = Field(
        default=None, description="When confirmation is required: pass it back with the same to, body and sender_id."
    )
    expires_at: str | None = Field(default=None, description="When the confirmation token expires (ISO 8601, UTC).")

    @classmethod
    def of(cls, outcome: SendOutcome) -> SendResult:
        return cls(
            status=outcome.status,
            estimate=EstimateResult.of(outcome.estimate),
            message=MessageResult.of(outcome.message) if outcome.message is not None else None,
            confirmation_token=outcome.confirmation_token,
            expires_at=outcome.expires_at,
        )

    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: Any) -> dict[str, Any]:
        # A field that does not apply to this status is left out rather than sent as null.
        return {key: value for key, value in handler(self).items() if value is not None}


class BalanceResult(_Result):
    credits_usd: float = Field(description="Credits left on the SMS for AI account.")
    daily_budget_usd: float = Field(description="What this server lets the agent spend per UTC day.")
    spent_today_usd: float = Field(description="Spent (or reserved) by this server today, UTC.")
    daily_budget_remaining_usd: float
    max_cost_per_message_usd: float = Field(description="The largest estimated cost one message may have.")
    paused: bool = Field(description="Whether sending is paused (`smsai-mcp pause`); reads keep working.")
    pause_reason: str | None = Field(description="Why sending is paused, as the operator said; null when not.")
    monthly_budget_usd: float | None = Field(
        default=None, description="What this server lets the agent spend per UTC month; null without a monthly cap."
    )
    spent_this_month_usd: float = Field(default=0.0, description="Spent (or reserved) by this server this UTC month.")
    monthly_budget_remaining_usd: float | None = Field(default=None, description="Null without a monthly cap.")


class CountryResult(_Result):
    country_code: str
    country_name: str
    dial_code: str | None
    price_usd: float = Field(description="Price of one SMS segment.")

    @classmethod
    def of(cls, country: Country) -> CountryResult:
        return cls(
            country_code=country.country_code,
            country_name=country.country_name,
            dial_code=country.dial_code,
            price_usd=country.price_usd,
        )


class CountriesResult(_Result):
    countries: list[CountryResult]


class MessagesResult(_Result):
    messages: list[MessageResult]
    page: int
    last_page: int
    per_page: int
    total: int
    has_more: bool
