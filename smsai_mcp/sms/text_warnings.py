"""What a person should know about a text before it goes out: links, markdown a phone shows raw, unseen characters."""

from __future__ import annotations

import re

from smsai_mcp.sms.characters import invisible_characters, visible_name

__all__ = ["text_warnings"]

# Markdown that chat hosts render but a phone shows as typed: **bold**, __bold__, [text](url), # heading, `code`.
_MARKDOWN = re.compile(
    r"\*\*[^*\n]+\*\*|__[^_\n]+__|\[[^\]\n]+\]\([^)\s]+\)|^[ \t]{0,3}#{1,6}[ \t]+\S|`[^`\n]+`",
    re.MULTILINE,
)


def text_warnings(text: str, hosts: tuple[str, ...]) -> tuple[str, ...]:
    """Short sentences, one per concern, in a fixed order; empty when there is nothing to say."""
    warnings: list[str] = []
    if hosts:
        warnings.append(
            f"The text links to {', '.join(hosts)}: the person should know where it leads, and carriers may filter "
            "messages with links."
        )
    if _MARKDOWN.search(text):
        warnings.append(
            "The text uses markdown (such as **bold**, [text](link), # heading or `code`), which a phone shows as "
            "typed, symbols included."
        )
    unseen = invisible_characters(text)
    if unseen:
        names = " ".join(visible_name(character) for character in unseen)
        warnings.append(f"The text has invisible characters ({names}) that the recipient will not see.")
    return tuple(warnings)
