"""What a message will cost: the recipient's country from its region, its encoding and segments, the price."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType

from smsai_mcp.client.models import Country, PriceRows
from smsai_mcp.sms.gsm7_suggestion import Gsm7Suggestion, gsm7_rewrite
from smsai_mcp.sms.links import link_hosts
from smsai_mcp.sms.money import MICRO_USD, usd
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.sms.segments import Encoding, count_segments
from smsai_mcp.sms.territories import PRICED_AS, TERRITORY_NAMES
from smsai_mcp.sms.text_warnings import text_warnings
from smsai_mcp.sms.time_zones import recipient_time_zones

__all__ = [
    "MICRO_USD",
    "Estimate",
    "PriceList",
    "UnpricedDestination",
    "UnsupportedDestination",
    "estimate_message",
    "usd",
]


class UnsupportedDestination(ValueError):
    """The number is valid, but the API does not list its country (or lists no price for it)."""


class UnpricedDestination(UnsupportedDestination):
    """The API lists the number's country, but with no usable price: that country alone is refused for now."""


@dataclass(frozen=True, slots=True)
class PriceList:
    """The upstream price list, keyed by ISO country code, and when it was fetched from the upstream."""

    by_code: Mapping[str, Country]
    unpriced: Mapping[str, str] = field(default_factory=dict)  # listed without a usable price: code -> name
    fetched_at: float = 0.0  # unix seconds

    @classmethod
    def of(
        cls, countries: Iterable[Country], *, unpriced: Mapping[str, str] | None = None, fetched_at: float = 0.0
    ) -> PriceList:
        by_code = {country.country_code.upper(): country for country in countries}
        left_out = {code: name for code, name in (unpriced or {}).items() if code not in by_code}
        return cls(MappingProxyType(by_code), MappingProxyType(left_out), fetched_at)

    @classmethod
    def from_rows(cls, rows: PriceRows, *, fetched_at: float) -> PriceList:
        return cls.of(rows.countries, unpriced=rows.unpriced, fetched_at=fetched_at)

    def country_for(self, number: PhoneNumber) -> Country:
        region = number.region
        if region not in self.by_code and region not in self.unpriced and region in PRICED_AS:
            region = PRICED_AS[region]
        country = self.by_code.get(region)
        if country is None and region in self.unpriced:
            name = self.unpriced[region]
            listed = f"{name} ({region})" if name != region else region
            raise UnpricedDestination(
                f"The SMS for AI price list gives no valid price for {listed} right now, so nothing can be sent "
                "there until it does; other countries are not affected. Try again later."
            )
        if country is None:
            raise UnsupportedDestination(
                f"SMS for AI does not deliver to {number.region} ({number.international}); "
                "list_countries shows where it does."
            )
        return country


@dataclass(frozen=True, slots=True)
class Estimate:
    to: str
    country_code: str
    country_name: str
    encoding: Encoding
    characters: int
    segments: int
    non_gsm_characters: tuple[str, ...]
    unit_price_usd: Decimal
    estimated_cost_usd: Decimal
    warnings: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # host names
    gsm7_suggestion: Gsm7Suggestion | None = None
    recipient_time_zones: tuple[str, ...] = ()
    quiet_until: str | None = None  # set only by the guard's dry run (estimate_sms), which knows the time
    blocked_by: str | None = None  # set only by the guard's dry run (estimate_sms)
    blocked_reason: str | None = None


def _cost(unit_price: Decimal, segments: int) -> Decimal:
    return (unit_price * segments).quantize(MICRO_USD, rounding=ROUND_CEILING)


def _suggestion(body: str, unit_price: Decimal, cost: Decimal) -> Gsm7Suggestion | None:
    rewrite = gsm7_rewrite(body)
    if rewrite is None:
        return None
    segments = count_segments(rewrite.body).segments
    rewritten_cost = _cost(unit_price, segments)
    return Gsm7Suggestion(rewrite.body, segments, rewritten_cost, cost - rewritten_cost, rewrite.replacements)


def estimate_message(number: PhoneNumber, body: str, prices: PriceList) -> Estimate:
    """Assume per-segment billing, so an estimate never undershoots what the API charges."""
    country = prices.country_for(number)
    count = count_segments(body)
    unit_price = Decimal(str(country.price_usd))  # exactly as listed: rounding it first could undershoot
    cost = _cost(unit_price, count.segments)
    hosts = link_hosts(body)
    code, name = country.country_code.upper(), country.country_name
    if code != number.region and number.region in TERRITORY_NAMES:  # priced as another country, named as itself
        code, name = number.region, TERRITORY_NAMES[number.region]
    return Estimate(
        to=number.e164,
        country_code=code,
        country_name=name,
        encoding=count.encoding,
        characters=count.characters,
        segments=count.segments,
        non_gsm_characters=count.non_gsm_characters,
        unit_price_usd=unit_price,
        estimated_cost_usd=cost,
        warnings=text_warnings(body, hosts),
        links=hosts,
        gsm7_suggestion=_suggestion(body, unit_price, cost),
        recipient_time_zones=recipient_time_zones(number.e164, number.region),
    )
