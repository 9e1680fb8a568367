"""The sandbox's price list: real countries at realistic per-SMS prices, as `GET /countries` lists them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from smsai_mcp.sms.territories import PRICED_AS


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2, as phonenumbers names regions
    name: str
    dial_code: str
    price_usd: Decimal  # per SMS segment

    def to_json(self) -> dict[str, Any]:
        return {
            "country_code": self.code,
            "country_name": self.name,
            "dial_code": self.dial_code,
            "price_usd": float(self.price_usd),
        }


# Both dial-code styles the upstream uses occur on purpose: "+1" shared by US and CA, "+1876" for JM,
# "+7" shared by RU and KZ. China is left out so that "country not listed" can be exercised.
_COUNTRIES = (
    Country("AE", "United Arab Emirates", "+971", Decimal("0.0452")),
    Country("AT", "Austria", "+43", Decimal("0.11235")),
    Country("AU", "Australia", "+61", Decimal("0.0515")),
    Country("BE", "Belgium", "+32", Decimal("0.0935")),
    Country("BR", "Brazil", "+55", Decimal("0.0275")),
    Country("CA", "Canada", "+1", Decimal("0.0100")),
    Country("CH", "Switzerland", "+41", Decimal("0.0620")),
    Country("DE", "Germany", "+49", Decimal("0.0895")),
    Country("ES", "Spain", "+34", Decimal("0.0780")),
    Country("FR", "France", "+33", Decimal("0.0745")),
    Country("GB", "United Kingdom", "+44", Decimal("0.0410")),
    Country("ID", "Indonesia", "+62", Decimal("0.341526")),
    Country("IE", "Ireland", "+353", Decimal("0.0690")),
    Country("IL", "Israel", "+972", Decimal("0.0925")),
    Country("IN", "India", "+91", Decimal("0.00372")),
    Country("IT", "Italy", "+39", Decimal("0.0812")),
    Country("JM", "Jamaica", "+1876", Decimal("0.1105")),
    Country("JP", "Japan", "+81", Decimal("0.0760")),
    Country("KE", "Kenya", "+254", Decimal("0.0355")),
    Country("KR", "South Korea", "+82", Decimal("0.0298")),
    Country("KZ", "Kazakhstan", "+7", Decimal("0.19875")),
    Country("MX", "Mexico", "+52", Decimal("0.02675")),
    Country("NG", "Nigeria", "+234", Decimal("0.1725")),
    Country("NL", "Netherlands", "+31", Decimal("0.0970")),
    Country("NZ", "New Zealand", "+64", Decimal("0.1125")),
    Country("PH", "Philippines", "+63", Decimal("0.1955")),
    Country("PL", "Poland", "+48", Decimal("0.03845")),
    Country("PT", "Portugal", "+351", Decimal("0.0300")),
    Country("RU", "Russia", "+7", Decimal("0.2455")),
    Country("SE", "Sweden", "+46", Decimal("0.0630")),
    Country("SG", "Singapore", "+65", Decimal("0.0395")),
    Country("US", "United States", "+1", Decimal("0.0100")),
    Country("ZA", "South Africa", "+27", Decimal("0.0246")),
)

PRICE_LIST: tuple[Country, ...] = tuple(sorted(_COUNTRIES, key=lambda country: country.name))
_BY_CODE = {country.code: country for country in PRICE_LIST}


def country_for_region(region: str) -> Country | None:
    """The row that prices a region: its own, or for a territory in another's numbering plan, that country's."""
    return _BY_CODE.get(region) or _BY_CODE.get(PRICED_AS.get(region, ""))
