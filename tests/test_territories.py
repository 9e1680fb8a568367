"""Jersey, Guernsey and the Isle of Man: their own territory to the person, GB's price when the API lists no row of
their own, and a destination rule naming either the territory or GB applies to them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smsai_mcp.client.models import Country
from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sms.estimate import PriceList, estimate_message
from smsai_mcp.sms.phone import parse_e164
from tests.conftest import posts
from tests.guard_helpers import GB, Person, assert_nothing_sent, connect, send, sent, structured

pytestmark = pytest.mark.anyio

JERSEY = "+447797712345"
TERRITORIES = [
    pytest.param(JERSEY, "JE", "Jersey", id="jersey"),
    pytest.param("+447781123456", "GG", "Guernsey", id="guernsey"),
    pytest.param("+447624123456", "IM", "Isle of Man", id="isle-of-man"),
]


@pytest.mark.parametrize(("number", "code", "name"), TERRITORIES)
async def test_a_crown_dependency_number_shows_its_own_territory_priced_as_gb(
    settings: Settings, number: str, code: str, name: str
) -> None:
    async with connect(settings, "legacy") as client:
        estimate = structured(await client.call_tool("estimate_sms", {"to": number, "body": "hello"}))
        gb = structured(await client.call_tool("estimate_sms", {"to": GB, "body": "hello"}))
    assert (estimate["country_code"], estimate["country_name"]) == (code, name)
    assert estimate["unit_price_usd"] == gb["unit_price_usd"]  # the sandbox lists GB, not the territory


async def test_the_person_is_asked_about_the_territory_not_the_united_kingdom(settings: Settings) -> None:
    person = Person()
    async with connect(settings.model_copy(update={"confirm": "elicit"}), "legacy", person) as client:
        sent(await send(client, to=JERSEY))
    [question] = person.questions
    assert "(Jersey)" in question


def test_a_row_of_its_own_in_the_price_list_is_used_when_there_is_one() -> None:
    prices = PriceList.of(
        [
            Country(country_code="GB", country_name="United Kingdom", dial_code="+44", price_usd=0.04),
            Country(country_code="JE", country_name="Jersey", dial_code="+44", price_usd=0.09),
        ]
    )
    estimate = estimate_message(parse_e164(JERSEY), "hi", prices)
    assert (estimate.country_code, estimate.unit_price_usd) == ("JE", Decimal("0.09"))


RULES = [
    pytest.param({"blocked_countries": frozenset({"GB"})}, JERSEY, "blocked", id="blocked-gb-blocks-jersey"),
    pytest.param({"allowed_countries": frozenset({"GB"})}, JERSEY, "sent", id="allowed-gb-allows-jersey"),
    pytest.param({"allowed_countries": frozenset({"JE"})}, JERSEY, "sent", id="allowed-jersey-allows-jersey"),
    pytest.param({"allowed_countries": frozenset({"JE"})}, GB, "not allowed", id="allowed-jersey-not-gb"),
    pytest.param({"blocked_countries": frozenset({"JE"})}, JERSEY, "blocked", id="blocked-jersey-blocks-jersey"),
    pytest.param({"blocked_countries": frozenset({"JE"})}, GB, "sent", id="blocked-jersey-not-gb"),
]


@pytest.mark.parametrize(("rule", "to", "outcome"), RULES)
async def test_a_rule_naming_a_crown_dependency_or_gb_applies_to_it(
    sandbox: Sandbox, settings: Settings, rule: dict[str, frozenset[str]], to: str, outcome: str
) -> None:
    async with connect(settings.model_copy(update=rule), "legacy") as client:
        result = await send(client, to=to)
    if outcome == "sent":
        sent(result)
        assert posts(sandbox) == 1
    else:
        variable = "SMSAI_BLOCKED_COUNTRIES" if outcome == "blocked" else "SMSAI_ALLOWED_COUNTRIES"
        assert_nothing_sent(result, sandbox, posts_so_far=0, says=variable)
