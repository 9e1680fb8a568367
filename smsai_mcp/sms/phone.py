"""Parse and mask international (E.164) phone numbers."""

from __future__ import annotations

from dataclasses import dataclass

EXAMPLE = "+14155550123"
SEPARATORS = frozenset(" -.()")
ASCII_DIGITS = frozenset("0123456789")
MIN_DIGITS = 8  # shortest international number we accept after the +
MAX_DIGITS = 15  # E.164 maximum
NON_GEOGRAPHIC_REGION = "001"  # phonenumbers' region for +800, +882 and the like: no country to price or police


class InvalidPhoneNumber(ValueError):
    """Raised with a plain sentence that says what is wrong and what a valid number looks like."""


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    region: str
    number_type: str
    international: str

    @property
    def is_premium_or_shared_cost(self) -> bool:
        return self.number_type in ("PREMIUM_RATE", "SHARED_COST")


def parse_e164(raw: str) -> PhoneNumber:
    text = raw.strip()
    if not text.startswith("+"):
        raise InvalidPhoneNumber(
            "The phone number must be in international E.164 form, starting with + and the country code, "
            f"e.g. {EXAMPLE}."
        )
    rest = text[1:]
    for char in rest:
        if char not in ASCII_DIGITS and char not in SEPARATORS:
            raise InvalidPhoneNumber(
                f"The phone number contains {char!r}; use only digits after the +, optionally grouped with "
                f"spaces, dashes, dots or parentheses, e.g. {EXAMPLE}."
            )
    if rest[:1] not in ASCII_DIGITS or rest[-1:] not in ASCII_DIGITS:
        raise InvalidPhoneNumber(
            f"The phone number must have the country code straight after the + and end with a digit, e.g. {EXAMPLE}."
        )
    digits = "".join(c for c in rest if c in ASCII_DIGITS)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise InvalidPhoneNumber(
            f"The phone number has {len(digits)} digits after the +; an international number has "
            f"{MIN_DIGITS} to {MAX_DIGITS}, counting the country code, e.g. {EXAMPLE}."
        )
    candidate = "+" + digits
    not_valid = InvalidPhoneNumber(
        f"{candidate} is not a valid phone number for any country; check the country code and the number of "
        f"digits, e.g. {EXAMPLE}."
    )
    import phonenumbers  # loaded on the first number, not at server start (its metadata is large)

    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        raise not_valid from None
    region = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number(number) or region is None or region == NON_GEOGRAPHIC_REGION:
        raise not_valid
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=region,
        number_type=phonenumbers.PhoneNumberType.to_string(phonenumbers.number_type(number)),
        international=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    )


def same_number(listed: str, e164: str) -> bool:
    """Whether a number as the API lists it (with or without the +, spaced, dashed) is this E.164 number."""
    return "".join(char for char in listed if char in ASCII_DIGITS) == e164.removeprefix("+")


def mask_number(e164: str) -> str:
    """Keep the first 4 and last 2 characters; if that would hide fewer than 4, keep only a leading +."""
    if len(e164) >= 10:
        return e164[:4] + "*" * (len(e164) - 6) + e164[-2:]
    plus = "+" if e164.startswith("+") else ""
    return plus + "*" * (len(e164) - len(plus))
