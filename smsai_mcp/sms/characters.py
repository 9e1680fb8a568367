"""Characters a person cannot see or that change how a text reads: named, so a question can show them."""

from __future__ import annotations

import unicodedata

__all__ = ["BIDI_CONTROLS", "invisible_characters", "is_invisible", "is_tag", "visible_name"]

# Embeddings, overrides and isolates: they make a text read in another order than it is sent (CONTRACT section 4).
BIDI_CONTROLS = frozenset(chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def is_tag(character: str) -> bool:
    """A Unicode tag character (U+E0000-U+E007F): invisible, and able to carry hidden ASCII."""
    return 0xE0000 <= ord(character) <= 0xE007F


def is_invisible(character: str) -> bool:
    """Format characters (zero-width spaces and joiners, BOM, bidi controls, tags) and other unseen code points."""
    if character in "\n\t":
        return False  # shown as what they are
    category = unicodedata.category(character)
    return category in ("Cf", "Cc", "Co", "Cn", "Zl", "Zp") or is_tag(character)


def visible_name(character: str) -> str:
    """How an unseen character is shown to a person: ⟨U+200B⟩."""
    return f"⟨U+{ord(character):04X}⟩"


def invisible_characters(text: str) -> tuple[str, ...]:
    """The distinct unseen characters of `text`, in order of first appearance."""
    return tuple(dict.fromkeys(c for c in text if is_invisible(c)))
