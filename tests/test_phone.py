"""Phone number parsing and masking: facts checked by hand against phonenumbers 9.0."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsai_mcp.sms.phone import InvalidPhoneNumber, PhoneNumber, mask_number, parse_e164

FACTS = [
    pytest.param(
        "+12025551234",
        PhoneNumber("+12025551234", "US", "FIXED_LINE_OR_MOBILE", "+1 202-555-1234"),
        id="washington_number_is_us",
    ),
    pytest.param(
        "+14165550123",
        PhoneNumber("+14165550123", "CA", "FIXED_LINE_OR_MOBILE", "+1 416-555-0123"),
        id="toronto_number_is_canada_not_us",
    ),
    pytest.param(
        "+18765550123",
        PhoneNumber("+18765550123", "JM", "MOBILE", "+1 876-555-0123"),
        id="kingston_number_is_jamaica_not_us",
    ),
    pytest.param(
        "+19005551234",
        PhoneNumber("+19005551234", "US", "PREMIUM_RATE", "+1 900-555-1234"),
        id="us_900_number_parses_as_premium_rate",
    ),
    pytest.param(
        "+447400123456",
        PhoneNumber("+447400123456", "GB", "MOBILE", "+44 7400 123456"),
        id="uk_mobile_is_gb",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), FACTS)
def test_region_and_type_come_from_the_number_not_the_dial_code(raw: str, expected: PhoneNumber) -> None:
    assert parse_e164(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("  +14165550123\n", id="surrounding_whitespace"),
        pytest.param("+1 416 555 0123", id="spaces"),
        pytest.param("+1-416-555-0123", id="dashes"),
        pytest.param("+1.416.555.0123", id="dots"),
        pytest.param("+1 (416) 555-0123", id="parentheses"),
    ],
)
def test_human_formatting_normalises_to_the_same_number(raw: str) -> None:
    assert parse_e164(raw).e164 == "+14165550123"


def test_national_trunk_zero_after_country_code_is_dropped() -> None:
    # People write UK numbers as +44 (0)7400 ...; phonenumbers drops the trunk 0 and so must the E.164 form.
    assert parse_e164("+44 (0) 7400 123456").e164 == "+447400123456"


def test_number_without_plus_is_refused_with_an_example() -> None:
    # Without a country code, 4165550123 could be Toronto or anywhere; guessing would text a stranger.
    with pytest.raises(InvalidPhoneNumber, match=r"international E\.164 form.*\+ and the country code.*\+14155550123"):
        parse_e164("4165550123")


def test_double_zero_international_prefix_is_refused() -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"starting with \+"):
        parse_e164("0014165550123")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("+1800FLOWERS", id="vanity_letters"),
        pytest.param("+14165550123 ext. 12", id="extension"),
        pytest.param("+1416555012\uff13", id="fullwidth_digit"),
        pytest.param("+1416555012\u0663", id="arabic_indic_digit"),
        pytest.param("+1/416/555/0123", id="slashes"),
        pytest.param("+1\u00a0416\u00a0555\u00a00123", id="no_break_spaces"),
        pytest.param("+14165550123;+12025551234", id="two_numbers"),
    ],
)
def test_characters_other_than_digits_and_separators_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="contains"):
        parse_e164(raw)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("+", id="plus_alone"),
        pytest.param("+ 14165550123", id="space_after_plus"),
        pytest.param("+(1) 416 555 0123", id="parenthesis_after_plus"),
        pytest.param("+14165550123-", id="trailing_dash"),
    ],
)
def test_separators_only_between_digits(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"\+14155550123"):
        parse_e164(raw)


def test_too_short_is_refused() -> None:
    # 7 digits: shorter than any international number we accept.
    with pytest.raises(InvalidPhoneNumber, match=r"has 7 digits.*8 to 15"):
        parse_e164("+1416555")


def test_too_long_is_refused() -> None:
    # 16 digits: over the E.164 maximum of 15.
    with pytest.raises(InvalidPhoneNumber, match=r"has 16 digits.*8 to 15"):
        parse_e164("+1416555012345678")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("+447700900123", id="uk_drama_range_is_invalid"),
        pytest.param("+15555550100", id="us_555_area_code_is_invalid"),
        pytest.param("+99912345678", id="unassigned_country_code"),
        pytest.param("+80012345678", id="international_freephone_has_no_country"),
    ],
)
def test_number_valid_for_no_country_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=rf"^\{raw} is not a valid phone number for any country"):
        parse_e164(raw)


def test_invalid_phone_number_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        parse_e164("hello")


def test_premium_rate_is_parsed_but_flagged_for_the_policy_layer() -> None:
    assert parse_e164("+19005551234").is_premium_or_shared_cost


@pytest.mark.parametrize(
    "number_type",
    ["PREMIUM_RATE", "SHARED_COST"],
)
def test_premium_and_shared_cost_types_are_both_flagged(number_type: str) -> None:
    assert PhoneNumber("+10000000000", "US", number_type, "").is_premium_or_shared_cost


@pytest.mark.parametrize("raw", ["+12025551234", "+14165550123", "+18765550123", "+447400123456"])
def test_ordinary_numbers_are_not_flagged_premium(raw: str) -> None:
    assert not parse_e164(raw).is_premium_or_shared_cost


# --- masking ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        pytest.param("+14165550123", "+141******23", id="north_american"),
        pytest.param("+447400123456", "+447*******56", id="uk_mobile"),
        pytest.param("+123456789", "+123****89", id="ten_characters_hides_four"),
        pytest.param("+12345678", "+********", id="too_short_to_hide_four_reveals_nothing"),
        pytest.param("", "", id="empty"),
    ],
)
def test_mask_keeps_only_the_first_four_and_last_two(e164: str, masked: str) -> None:
    assert mask_number(e164) == masked


@given(st.text(max_size=40))
def test_mask_never_leaks_more_than_first_four_and_last_two(e164: str) -> None:
    masked = mask_number(e164)
    assert len(masked) == len(e164)
    hidden = masked[4:-2] if len(e164) >= 10 else masked.removeprefix("+")
    assert set(hidden) <= {"*"}
    assert len(masked) - masked.count("*") <= 6


@given(st.from_regex(r"\+[1-9][0-9]{9,14}", fullmatch=True))
def test_mask_hides_the_middle_digits_of_any_number(e164: str) -> None:
    masked = mask_number(e164)
    assert masked[:4] == e164[:4]
    assert masked[-2:] == e164[-2:]
    assert masked[4:-2] == "*" * (len(e164) - 6)
