"""Destination policy: which numbers the user lets the agent text at all."""

from __future__ import annotations

from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.sms.territories import policy_regions

__all__ = ["check_destination", "refuse_premium"]


def check_destination(number: PhoneNumber, settings: Settings) -> None:
    """Refuse a number the policy does not allow; the blocked list wins over the allowed one."""
    regions = policy_regions(number.region)  # a rule naming GB applies to Jersey too, and one naming JE as well
    where = f"{number.international} is in {' / '.join(regions)}"
    if settings.blocked_countries.intersection(regions):
        raise Refusal(
            f"{where}, which SMSAI_BLOCKED_COUNTRIES blocks. Ask the user before texting this country.",
            code="blocked_country",
        )
    if settings.allowed_countries and not settings.allowed_countries.intersection(regions):
        allowed = ", ".join(sorted(settings.allowed_countries))
        raise Refusal(f"{where}; SMSAI_ALLOWED_COUNTRIES allows only {allowed}.", code="country_not_allowed")
    if settings.allowed_recipients and number.e164 not in settings.allowed_recipients:
        raise Refusal(
            f"{number.international} is not one of the recipients SMSAI_ALLOWED_RECIPIENTS allows. "
            "Ask the user to add it if they want it texted.",
            code="recipient_not_allowed",
        )
    refuse_premium(number)


def refuse_premium(number: PhoneNumber) -> None:
    """Premium-rate and shared-cost numbers are refused even to estimate: SMS-pumping fraud lives on them."""
    if number.is_premium_or_shared_cost:
        kind = "premium-rate" if number.number_type == "PREMIUM_RATE" else "shared-cost"
        raise Refusal(
            f"{number.international} is a {kind} number. smsai-mcp never texts those: they are what SMS-pumping "
            "fraud targets, and they can cost far more than the price list says.",
            code="premium_rate",
        )
