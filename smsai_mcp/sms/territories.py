"""Territories that share another country's numbering plan: their own name to people, the other's price row."""

from __future__ import annotations

__all__ = ["PRICED_AS", "TERRITORY_NAMES", "policy_regions"]

# Guernsey, Jersey and the Isle of Man are in the UK's numbering plan (+44): a price list that has no row of
# their own prices them as GB, as carriers do.
PRICED_AS = {"GG": "GB", "JE": "GB", "IM": "GB"}
TERRITORY_NAMES = {"GG": "Guernsey", "JE": "Jersey", "IM": "Isle of Man"}


def policy_regions(region: str) -> tuple[str, ...]:
    """The codes a destination rule may name to reach this region: its own, and the country it is priced as."""
    parent = PRICED_AS.get(region)
    return (region,) if parent is None else (region, parent)
