"""Segment counting: every expected number below is worked out by hand in the case's comment."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsai_mcp.sms.segments import GSM7_BASIC, GSM7_EXTENSION, SegmentCount, count_segments, split_segments

EURO = "€"
SNOWMAN = "☃"  # U+2603: in the BMP, not in GSM, one UTF-16 unit
GRIN = "😀"  # U+1F600: outside the BMP, a surrogate pair, two UTF-16 units


def gsm(characters: int, units: int, segments: int) -> SegmentCount:
    return SegmentCount("GSM-7", characters, units, segments, ())


def ucs2(characters: int, units: int, segments: int, non_gsm: tuple[str, ...]) -> SegmentCount:
    return SegmentCount("UCS-2", characters, units, segments, non_gsm)


CASES = [
    pytest.param("", gsm(0, 0, 1), id="empty_text_is_one_part"),
    pytest.param("a", gsm(1, 1, 1), id="one_char"),
    pytest.param("a" * 160, gsm(160, 160, 1), id="160_septets_fit_one_part"),
    pytest.param("a" * 161, gsm(161, 161, 2), id="161_septets_need_two_parts"),
    pytest.param("a" * 306, gsm(306, 306, 2), id="306_septets_fill_two_parts_of_153"),
    pytest.param("a" * 307, gsm(307, 307, 3), id="307_septets_need_a_third_part"),
    # 80 x 2 septets = 160: one part.
    pytest.param(EURO * 80, gsm(80, 160, 1), id="80_euros_are_160_septets_one_part"),
    # 81 x 2 = 162 septets; a part holds 76 euros (152; a 77th would be 154 > 153): 76 + 5 = two parts.
    pytest.param(EURO * 81, gsm(81, 162, 2), id="81_euros_are_two_parts"),
    # 152 + 2 + 152 = 306 septets, which dividing calls 2 parts; but the euro cannot start at septet 153,
    # so part 1 = 152, part 2 = euro + 151 a = 153, part 3 = the last a.
    pytest.param("a" * 152 + EURO + "a" * 152, gsm(305, 306, 3), id="euro_straddling_153_moves_to_next_part"),
    # Same 306 septets, euro at 152-153: part 1 = 151 + 2 = 153, part 2 = 153.
    pytest.param("a" * 151 + EURO + "a" * 153, gsm(305, 306, 2), id="euro_ending_exactly_at_153_stays"),
    # 159 + 2 = 161 septets > 160: multipart.
    pytest.param("a" * 159 + EURO, gsm(160, 161, 2), id="euro_pushing_past_160_makes_two_parts"),
    pytest.param("\f", gsm(1, 2, 1), id="form_feed_is_an_extension_char_two_septets"),
    pytest.param("^{}\\[~]|", gsm(8, 16, 1), id="every_ascii_extension_char_costs_two"),
    pytest.param("éñü", gsm(3, 3, 1), id="accented_gsm_letters_stay_gsm7"),
    pytest.param("Ç", gsm(1, 1, 1), id="capital_c_cedilla_is_gsm"),
    pytest.param("ç", ucs2(1, 1, 1, ("ç",)), id="lowercase_c_cedilla_is_not_gsm"),
    pytest.param("Δ", gsm(1, 1, 1), id="greek_capital_delta_is_gsm"),
    pytest.param("δ", ucs2(1, 1, 1, ("δ",)), id="greek_small_delta_is_not_gsm"),
    pytest.param("`", ucs2(1, 1, 1, ("`",)), id="backtick_is_not_gsm"),
    pytest.param("\x1b", ucs2(1, 1, 1, ("\x1b",)), id="raw_escape_is_not_a_character_of_the_table"),
    pytest.param(SNOWMAN * 70, ucs2(70, 70, 1, (SNOWMAN,)), id="70_ucs2_units_fit_one_part"),
    pytest.param(SNOWMAN * 71, ucs2(71, 71, 2, (SNOWMAN,)), id="71_ucs2_units_need_two_parts"),
    pytest.param(SNOWMAN * 134, ucs2(134, 134, 2, (SNOWMAN,)), id="134_ucs2_units_fill_two_parts_of_67"),
    pytest.param(SNOWMAN * 135, ucs2(135, 135, 3, (SNOWMAN,)), id="135_ucs2_units_need_a_third_part"),
    pytest.param(GRIN, ucs2(1, 2, 1, (GRIN,)), id="emoji_outside_bmp_is_two_units"),
    # 35 x 2 = 70 units: one part.
    pytest.param(GRIN * 35, ucs2(35, 70, 1, (GRIN,)), id="35_emoji_are_70_units_one_part"),
    # 36 x 2 = 72 units; a part holds 33 emoji (66; a 34th would be 68 > 67): 33 + 3 = two parts.
    pytest.param(GRIN * 36, ucs2(36, 72, 2, (GRIN,)), id="36_emoji_are_two_parts"),
    # 66 + 2 + 66 = 134 units, which dividing calls 2 parts; but the pair cannot start at unit 67,
    # so part 1 = 66, part 2 = emoji + 65 = 67, part 3 = the last snowman.
    pytest.param(
        SNOWMAN * 66 + GRIN + SNOWMAN * 66,
        ucs2(133, 134, 3, (SNOWMAN, GRIN)),
        id="surrogate_pair_straddling_67_moves_to_next_part",
    ),
    # Same 134 units, pair at 66-67: part 1 = 65 + 2 = 67, part 2 = 67.
    pytest.param(
        SNOWMAN * 65 + GRIN + SNOWMAN * 67,
        ucs2(133, 134, 2, (SNOWMAN, GRIN)),
        id="surrogate_pair_ending_exactly_at_67_stays",
    ),
    # h é l l o _ ☃ _ ☃ _ ✓ = 11 characters, all in the BMP; é is GSM so it is not named.
    pytest.param("héllo ☃ ☃ ✓", ucs2(11, 11, 1, (SNOWMAN, "✓")), id="non_gsm_chars_are_distinct_and_in_order"),
    # One non-GSM char makes the whole text UCS-2: 159 a + ☃ = 160 units > 70; 67 + 67 + 26 = three parts.
    pytest.param("a" * 159 + SNOWMAN, ucs2(160, 160, 3, (SNOWMAN,)), id="one_snowman_turns_160_chars_into_3_parts"),
    # In UCS-2 the euro is one unit, not two.
    pytest.param(EURO + SNOWMAN, ucs2(2, 2, 1, (SNOWMAN,)), id="euro_is_one_unit_in_ucs2"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_segment_count(text: str, expected: SegmentCount) -> None:
    assert count_segments(text) == expected


def test_tables_have_the_gsm_0338_sizes() -> None:
    # 128 code points in the default alphabet, minus ESC; ten characters in the extension table.
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC


def test_extension_table_is_exactly_the_documented_characters() -> None:
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION


# --- properties ------------------------------------------------------------------------------------------

GSM_ALPHABET = "".join(sorted(GSM7_BASIC | GSM7_EXTENSION))
gsm_texts = st.text(alphabet=GSM_ALPHABET, max_size=600)
# Lone surrogates are excluded: they cannot be encoded, so no real message contains them.
any_chars = st.characters(exclude_categories=["Cs"])
any_texts = st.text(alphabet=any_chars, max_size=400)
non_gsm_chars = any_chars.filter(lambda c: c not in GSM7_BASIC and c not in GSM7_EXTENSION)


def limits(result: SegmentCount) -> tuple[int, int]:
    return (160, 153) if result.encoding == "GSM-7" else (70, 67)


@given(st.one_of(gsm_texts, any_texts))
def test_never_fewer_parts_than_the_units_require(text: str) -> None:
    result = count_segments(text)
    single, multi = limits(result)
    assert (result.segments == 1) == (result.units <= single)
    if result.units > single:
        assert result.segments >= math.ceil(result.units / multi)
        # A part wastes at most one unit to keep a pair whole.
        assert result.segments <= math.ceil(result.units / (multi - 1))


@given(gsm_texts)
def test_gsm_alphabet_text_stays_gsm7(text: str) -> None:
    result = count_segments(text)
    assert result.encoding == "GSM-7"
    assert result.non_gsm_characters == ()
    assert result.characters == len(text)
    assert result.units == len(text) + sum(text.count(c) for c in "\f^{}\\[~]|€")


@given(gsm_texts, non_gsm_chars, st.integers(min_value=0))
def test_one_non_gsm_char_switches_to_ucs2_and_is_named(text: str, char: str, position: int) -> None:
    at = position % (len(text) + 1)
    result = count_segments(text[:at] + char + text[at:])
    assert result.encoding == "UCS-2"
    assert result.non_gsm_characters == (char,)


@given(any_texts)
def test_ucs2_units_are_utf16_code_units(text: str) -> None:
    result = count_segments(text)
    if result.encoding == "UCS-2":
        assert result.units == len(text.encode("utf-16-le")) // 2


@given(any_texts)
def test_non_gsm_characters_are_distinct_and_in_first_appearance_order(text: str) -> None:
    named = count_segments(text).non_gsm_characters
    assert len(set(named)) == len(named)
    assert all(c not in GSM7_BASIC and c not in GSM7_EXTENSION for c in named)
    assert sorted(named, key=text.index) == list(named)
    assert set(named) == {c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION}


@given(st.one_of(gsm_texts, any_texts), st.one_of(st.sampled_from(GSM_ALPHABET), any_chars))
def test_appending_a_character_never_lowers_the_part_count(text: str, char: str) -> None:
    assert count_segments(text + char).segments >= count_segments(text).segments


@given(st.one_of(gsm_texts, any_texts))
def test_split_parts_rebuild_the_text_and_match_the_count(text: str) -> None:
    """The boundaries the preview app draws: as many parts as billed, each within a part's units, no pair cut."""
    parts = split_segments(text)
    result = count_segments(text)
    assert "".join(parts) == text
    assert len(parts) == result.segments
    single, multi = limits(result)
    for part in parts:
        units = (
            len(part.encode("utf-16-le")) // 2
            if result.encoding == "UCS-2"
            else len(part) + sum(part.count(c) for c in GSM7_EXTENSION)
        )
        assert units <= (single if len(parts) == 1 else multi)
