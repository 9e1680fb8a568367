"""Destination policy: which numbers the user lets the agent text at all. The blocked list wins over the allowed."""

from __future__ import annotations

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.sms.territories import policy_regions

__all__ = ["allowed_countries", "allowed_recipients", "blocked_countries", "premium_rate", "refuse_premium"]


def _where(number: PhoneNumber) -> tuple[frozenset[str], str]:
    regions = policy_regions(number.region)  # a rule naming GB applies to Jersey too, and one naming JE as well
    return frozenset(regions), f"{number.international} is in {' / '.join(regions)}"


async def blocked_countries(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    regions, where = _where(prepared.number)
    if context.settings.blocked_countries.intersection(regions):
        raise Refusal(
            f"{where}, which SMSAI_BLOCKED_COUNTRIES blocks. Ask the user before texting this country.",
            code="blocked_country",
        )
    return None


async def allowed_countries(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    regions, where = _where(prepared.number)
    allowed = context.settings.allowed_countries
    if allowed and not allowed.intersection(regions):
        listed = ", ".join(sorted(allowed))
        raise Refusal(f"{where}; SMSAI_ALLOWED_COUNTRIES allows only {listed}.", code="country_not_allowed")
    return None


async def allowed_recipients(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    number = prepared.number
    if context.settings.allowed_recipients and number.e164 not in context.settings.allowed_recipients:
        raise Refusal(
            f"{number.international} is not one of the recipients SMSAI_ALLOWED_RECIPIENTS allows. "
            "Ask the user to add it if they want it texted.",
            code="recipient_not_allowed",
        )
    return None


async def premium_rate(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    refuse_premium(prepared.number)
    return None


def refuse_premium(number: PhoneNumber) -> None:
    """Premium-rate and shared-cost numbers are refused even to estimate: SMS-pumping fraud lives on them."""
    if number.is_premium_or_shared_cost:
        kind = "premium-rate" if number.number_type == "PREMIUM_RATE" else "shared-cost"
        raise Refusal(
            f"{number.international} is a {kind} number. smsai-mcp never texts those: they are what SMS-pumping "
            "fraud targets, and they can cost far more than the price list says.",
            code="premium_rate",
        )
