"""The estimate: the country from the number's region, per-segment pricing that never undershoots."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smsai_mcp.client.models import Country
from smsai_mcp.sms.estimate import PriceList, UnsupportedDestination, estimate_message
from smsai_mcp.sms.phone import parse_e164

PRICES = PriceList.of(
    [
        Country(country_code="US", country_name="United States", dial_code="+1", price_usd=0.01),
        Country(country_code="CA", country_name="Canada", dial_code="+1", price_usd=0.0125),
        Country(country_code="JM", country_name="Jamaica", dial_code="+1876", price_usd=0.0731),
        Country(country_code="GB", country_name="United Kingdom", dial_code="+44", price_usd=0.0333333),
    ]
)


@pytest.mark.parametrize(
    ("number", "country", "unit"),
    [("+14165550123", "CA", "0.0125"), ("+18765550123", "JM", "0.0731"), ("+12025551234", "US", "0.01")],
)
def test_shared_dial_code_resolves_by_region(number: str, country: str, unit: str) -> None:
    estimate = estimate_message(parse_e164(number), "hi", PRICES)
    assert estimate.country_code == country
    assert estimate.unit_price_usd == Decimal(unit)


def test_cost_is_unit_price_times_segments() -> None:
    estimate = estimate_message(parse_e164("+14165550123"), "a" * 307, PRICES)  # 3 parts of 153
    assert estimate.segments == 3
    assert estimate.estimated_cost_usd == Decimal("0.0375")


def test_cost_rounds_up_to_the_micro_dollar_never_down() -> None:
    estimate = estimate_message(parse_e164("+447400123456"), "a" * 161, PRICES)
    assert estimate.unit_price_usd == Decimal("0.0333333")
    assert estimate.estimated_cost_usd == Decimal("0.066667")  # 0.0666666 rounded up
    assert estimate.estimated_cost_usd >= estimate.unit_price_usd * estimate.segments


def test_unlisted_country_is_refused_and_points_to_list_countries() -> None:
    with pytest.raises(UnsupportedDestination, match="list_countries"):
        estimate_message(parse_e164("+33612345678"), "bonjour", PRICES)
