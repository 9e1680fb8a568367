"""Count the SMS parts a carrier will send for a text, and the encoding it will use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 (3GPP TS 23.038) default alphabet, in table order 0x00-0x7F, with ESC (0x1B) left out.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# GSM 03.38 (3GPP TS 23.038) default extension table: each is sent as ESC + character, two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_PART_SEPTETS = 160
GSM7_MULTIPART_SEPTETS = 153  # 7 septets of each part go to the concatenation header
UCS2_SINGLE_PART_UNITS = 70
UCS2_MULTIPART_UNITS = 67  # 6 octets of each part go to the concatenation header


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    characters: int  # len(text): Unicode code points
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int  # parts a carrier sends; 1 for empty text
    non_gsm_characters: tuple[str, ...]  # distinct chars that force UCS-2, in order of first appearance


def count_segments(text: str) -> SegmentCount:
    non_gsm = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))
    encoding: Encoding
    if non_gsm:
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi, encoding = UCS2_SINGLE_PART_UNITS, UCS2_MULTIPART_UNITS, "UCS-2"
    else:
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, multi, encoding = GSM7_SINGLE_PART_SEPTETS, GSM7_MULTIPART_SEPTETS, "GSM-7"
    units = sum(costs)
    segments = 1 if units <= single else _pack(costs, multi)
    return SegmentCount(encoding, len(text), units, segments, non_gsm)


def _pack(costs: list[int], capacity: int) -> int:
    """Fill parts greedily; a two-unit character that does not fit whole starts the next part."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts, used = parts + 1, 0
        used += cost
    return parts


def split_segments(text: str) -> list[str]:
    """The text of each part, cut where a carrier cuts it (the preview app draws these boundaries)."""
    counted = count_segments(text)
    if counted.segments == 1:
        return [text]
    ucs2 = counted.encoding == "UCS-2"
    capacity = UCS2_MULTIPART_UNITS if ucs2 else GSM7_MULTIPART_SEPTETS
    parts: list[str] = []
    start, used = 0, 0
    for index, character in enumerate(text):
        cost = (2 if ord(character) > 0xFFFF else 1) if ucs2 else (2 if character in GSM7_EXTENSION else 1)
        if used + cost > capacity:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts
