"""Money as the ledger counts it: whole micro-dollars, and the UTC day a spend counts against."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

__all__ = ["MICRO_USD", "micro", "usd", "usd_of_micro", "utc_day", "utc_month"]

MICRO_USD = Decimal("0.000001")


def usd(value: float | Decimal) -> Decimal:
    """An amount in USD to the micro-dollar, read from its decimal text so 0.01 stays 0.01."""
    return Decimal(str(value)).quantize(MICRO_USD)


def micro(amount: Decimal) -> int:
    """An amount in USD as whole micro-dollars, the ledger's unit (integers add up exactly across processes)."""
    return int((amount / MICRO_USD).to_integral_value())


def usd_of_micro(amount: int) -> Decimal:
    return Decimal(amount) * MICRO_USD


def utc_day(now: float) -> str:
    """The UTC day of a unix time, as the ledger names it: "2026-11-25"."""
    return datetime.fromtimestamp(now, UTC).date().isoformat()


def utc_month(now: float) -> str:
    """The UTC month of a unix time, as the ledger names it: "2026-11"."""
    return utc_day(now)[:7]
