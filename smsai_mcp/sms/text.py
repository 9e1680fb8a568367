"""Text as the upstream keeps it. The API is a Laravel application whose TrimStrings middleware trims every
input string, so "identical" (duplicates, idempotency keys, lookups, the sandbox) compares trimmed text."""

from __future__ import annotations

__all__ = ["TRIMMED", "as_the_api_keeps_it"]

# What PCRE's \s matches under PHP's /u (Unicode properties on): \p{Z}, \h and \v.
_PCRE_UNICODE_SPACE = frozenset(
    "\t\n\x0b\x0c\r\x20\x85\xa0\u1680\u180e"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# Laravel's Str::INVISIBLE_CHARACTERS: format characters, fillers and blanks that render as nothing.
_LARAVEL_INVISIBLE = frozenset(
    "\t\x20\xa0\xad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u200c\u200d\u200e\u200f"
    "\u202f\u205f\u2060\u2061\u2062\u2063\u2064\u2065\u206a\u206b\u206c\u206d\u206e\u206f"
    "\u3000\u2800\u3164\ufeff\uffa0"
    "\U0001d159\U0001d173\U0001d174\U0001d175\U0001d176\U0001d177\U0001d178\U0001d179\U0001d17a\U000e0020"
)
# Mirrors Laravel 11+ Str::trim() as TrimStrings calls it: \s, INVISIBLE_CHARACTERS and " \n\r\t\v\0", at either end.
TRIMMED = _PCRE_UNICODE_SPACE | _LARAVEL_INVISIBLE | frozenset(" \n\r\t\x0b\x00")


def as_the_api_keeps_it(text: str) -> str:
    """`text` without the leading and trailing characters the API trims; what is inside is kept as it is."""
    start, end = 0, len(text)
    while start < end and text[start] in TRIMMED:
        start += 1
    while end > start and text[end - 1] in TRIMMED:
        end -= 1
    return text[start:end]
