"""Amounts of money as the upstream states them, checked before anything counts on them.

A price, a charge or a balance is used only when it is a finite number of dollars, at least zero. JSON lets a broken
or hostile upstream say `NaN`, `Infinity`, `-1`, `1e999` (read as infinity), `"abc"`, `null` or `true` instead; none
of those is an amount. Decimal text such as `"0.0100"` is one: it is how Laravel's decimal casts serialise.
"""

from __future__ import annotations

import logging
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["LARGEST_USD", "AmountOrNone", "UsableAmount", "bookable_charge", "upstream_usd"]

logger = logging.getLogger(__name__)

# The ledger counts micro-dollars in 64-bit integers (about 9.2e12 dollars), so no amount above this is kept.
LARGEST_USD = Decimal(10**12)
_DECIMAL_TEXT = re.compile(r"\s*[0-9]+(\.[0-9]+)?\s*")


def upstream_usd(value: object) -> Decimal | None:
    """The amount, when the upstream's value is a finite number of dollars at least zero; None when it is not."""
    if isinstance(value, bool):
        return None  # JSON true and false are not numbers, though Python counts them as ints
    try:
        if isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, float):
            amount = Decimal(repr(value))
        elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
            amount = Decimal(value.strip())
        else:
            return None
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or math.isinf(float(amount)):
        return None
    return amount


def _usable(value: object) -> float:
    amount = upstream_usd(value)
    if amount is None or amount > LARGEST_USD:
        raise ValueError("not a finite amount of dollars, at least zero")  # pydantic keeps the text out of sight
    return float(amount)


def _amount_or_none(value: object) -> float | None:
    if value is None:
        return None
    amount = upstream_usd(value)
    if amount is None:
        logger.warning("the SMS for AI API stated an amount that is not one; it is taken as not stated")
        return None
    return float(amount)


# A price or a balance: a row or an answer that does not hold one is not used at all.
UsableAmount = Annotated[float, BeforeValidator(_usable)]
# What a message cost (or a user's credits in /me): a value that is not an amount is taken as not stated, since the
# record it belongs to exists all the same.
AmountOrNone = Annotated[float | None, BeforeValidator(_amount_or_none)]


def bookable_charge(price_usd: float | None) -> Decimal | None:
    """What to book for a stated charge. One above what the ledger can hold is booked as the most it can: it
    exhausts any budget (at most 1,000,000 USD) all the same, so sending stops until someone looks."""
    if price_usd is None:
        return None
    return min(Decimal(repr(price_usd)), LARGEST_USD)
