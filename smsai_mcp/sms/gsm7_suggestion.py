"""A GSM-7 rewrite of a text: typographic characters that force UCS-2, swapped for their usual GSM-7 equivalents.

Models write curly quotes, dashes and ellipses that silently switch a message to UCS-2 and double or triple its
cost. The rewrite is only ever offered (the server never applies it), and only when it makes the whole text GSM-7.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from smsai_mcp.sms.segments import count_segments

__all__ = ["GSM7_EQUIVALENTS", "Gsm7Rewrite", "Gsm7Suggestion", "Replacement", "gsm7_rewrite"]

_SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"

# Each typographic character and the GSM-7 text a person would type for it on a phone keyboard.
GSM7_EQUIVALENTS: dict[str, str] = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc", "'"),  # curly, low, reversed quotes; prime
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),  # curly, low and reversed double quotes, double prime
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),  # hyphens, figure/en/em dash, bar, minus
    "\u2026": "...",  # horizontal ellipsis
    **dict.fromkeys(_SPACES, " "),  # non-breaking, fixed-width, narrow and ideographic spaces
    "\u2022": "*",  # bullet, as a list marker
    "\u2039": "<",  # single left-pointing angle quote
    "\u203a": ">",  # single right-pointing angle quote
    "\u02c6": "^",  # modifier circumflex
    "\u02dc": "~",  # small tilde
    "\u2044": "/",  # fraction slash
    "\uff01": "!",  # fullwidth exclamation mark
    "\uff1f": "?",  # fullwidth question mark
}


@dataclass(frozen=True, slots=True)
class Replacement:
    from_: str
    to: str
    count: int


@dataclass(frozen=True, slots=True)
class Gsm7Rewrite:
    body: str
    replacements: tuple[Replacement, ...]  # each distinct character replaced, in order of first appearance


@dataclass(frozen=True, slots=True)
class Gsm7Suggestion:
    body: str
    segments: int
    estimated_cost_usd: Decimal
    saving_usd: Decimal
    replacements: tuple[Replacement, ...]


def gsm7_rewrite(text: str) -> Gsm7Rewrite | None:
    """The rewrite, when `text` is UCS-2 and swapping its typographic characters makes all of it GSM-7; else None."""
    non_gsm = count_segments(text).non_gsm_characters
    if not non_gsm or any(character not in GSM7_EQUIVALENTS for character in non_gsm):
        return None  # already GSM-7, or something without an equivalent (an emoji, Cyrillic) keeps it UCS-2
    counts = Counter(character for character in text if character in GSM7_EQUIVALENTS)
    replaced = "".join(GSM7_EQUIVALENTS.get(character, character) for character in text)
    if count_segments(replaced).encoding != "GSM-7":
        return None
    replacements = tuple(
        Replacement(character, GSM7_EQUIVALENTS[character], counts[character])
        for character in dict.fromkeys(text)
        if character in counts
    )
    return Gsm7Rewrite(replaced, replacements)
