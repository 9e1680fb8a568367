"""The GSM 03.38 tables and the GSM-7 suggestion, checked against an independent codec (the gsm0338 package)."""
# ruff: noqa: RUF001  (typographic characters are what these tests are about)

from __future__ import annotations

from decimal import Decimal

import gsm0338  # type: ignore[import-untyped]  # noqa: F401  (registers the "gsm03.38" codec)
from hypothesis import given, settings
from hypothesis import strategies as st

from smsai_mcp.client.models import Country
from smsai_mcp.sms.estimate import PriceList, estimate_message
from smsai_mcp.sms.gsm7_suggestion import GSM7_EQUIVALENTS, Replacement, gsm7_rewrite
from smsai_mcp.sms.phone import parse_e164
from smsai_mcp.sms.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments

CODEC = "gsm03.38"
PRICES = PriceList.of([Country(country_code="US", country_name="United States", dial_code="+1", price_usd=0.01)])
US = parse_e164("+12025551234")

GSM_CHARACTERS = sorted(GSM7_BASIC | GSM7_EXTENSION)
TYPOGRAPHIC = sorted(GSM7_EQUIVALENTS)
WITHOUT_EQUIVALENT = ["☕", "😀", "Ж", "中", "ç", "\u200b", "©"]  # none has a usual GSM-7 equivalent


def septets(text: str) -> int | None:
    """What the independent codec encodes `text` in, or None when it cannot encode it faithfully."""
    try:
        encoded = text.encode(CODEC)
    except UnicodeEncodeError:
        return None
    return len(encoded) if encoded.decode(CODEC) == text else None  # a lossy mapping (ç as Ç) is not GSM-7


def test_every_bmp_character_is_gsm7_here_exactly_when_the_codec_encodes_it() -> None:
    for code_point in range(0x10000):
        if 0xD800 <= code_point <= 0xDFFF:
            continue
        character = chr(code_point)
        count = count_segments(character)
        expected = septets(character)
        if expected is None:
            assert count.encoding == "UCS-2", f"U+{code_point:04X} counted as GSM-7 but gsm0338 cannot encode it"
        else:
            assert count.encoding == "GSM-7", f"U+{code_point:04X} is GSM 03.38 but counted as UCS-2"
            assert count.units == expected, f"U+{code_point:04X}: {count.units} septets here, {expected} in gsm0338"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM_CHARACTERS), min_size=1, max_size=400))
def test_a_text_the_codec_encodes_in_n_septets_counts_n_septets(text: str) -> None:
    count = count_segments(text)
    assert count.encoding == "GSM-7"
    assert count.units == septets(text)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(GSM_CHARACTERS), max_size=200),
    st.lists(st.sampled_from(TYPOGRAPHIC), min_size=1, max_size=10),
)
def test_typographic_characters_alone_always_get_a_suggestion_that_gsm0338_encodes(
    text: str, typographic: list[str]
) -> None:
    mixed = text + "".join(typographic)
    rewrite = gsm7_rewrite(mixed)
    assert rewrite is not None
    assert septets(rewrite.body) == count_segments(rewrite.body).units
    assert {r.from_ for r in rewrite.replacements} == set(typographic)
    assert sum(r.count for r in rewrite.replacements) == len(typographic)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(GSM_CHARACTERS + TYPOGRAPHIC), max_size=200),
    st.sampled_from(WITHOUT_EQUIVALENT),
)
def test_no_suggestion_when_a_character_without_an_equivalent_stays(text: str, other: str) -> None:
    assert gsm7_rewrite(text + other) is None


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(GSM_CHARACTERS + TYPOGRAPHIC + WITHOUT_EQUIVALENT), max_size=200))
def test_suggestion_is_offered_exactly_when_the_rewrite_encodes_with_gsm0338(text: str) -> None:
    rewritten = "".join(GSM7_EQUIVALENTS.get(c, c) for c in text)
    makes_it_gsm7 = septets(text) is None and septets(rewritten) is not None
    rewrite = gsm7_rewrite(text)
    assert (rewrite is not None) == makes_it_gsm7
    if rewrite is not None:
        assert rewrite.body == rewritten


def test_smart_quotes_suggestion_gives_body_segments_cost_saving_and_each_replacement() -> None:
    body = "It’s ready — “table 4” at 8pm… see you there! " * 3  # 3 UCS-2 parts; 1 GSM-7 part once rewritten
    estimate = estimate_message(US, body, PRICES)
    assert (estimate.encoding, estimate.segments, estimate.estimated_cost_usd) == ("UCS-2", 3, Decimal("0.03"))
    suggestion = estimate.gsm7_suggestion
    assert suggestion is not None
    assert suggestion.body == body.replace("’", "'").replace("—", "-").replace("“", '"').replace("”", '"').replace(
        "…", "..."
    )
    assert (suggestion.segments, suggestion.estimated_cost_usd, suggestion.saving_usd) == (
        1,
        Decimal("0.01"),
        Decimal("0.02"),
    )
    assert suggestion.replacements == (
        Replacement("’", "'", 3),
        Replacement("—", "-", 3),
        Replacement("“", '"', 3),
        Replacement("”", '"', 3),
        Replacement("…", "...", 3),
    )


def test_gsm7_text_and_emoji_text_get_no_suggestion() -> None:
    assert estimate_message(US, "Plain text, 100% GSM-7 {ok}", PRICES).gsm7_suggestion is None
    assert estimate_message(US, "It’s ready ☕", PRICES).gsm7_suggestion is None
