"""The icons hosts show beside the server and each tool: small SVGs as data URIs, so showing one fetches nothing."""

from __future__ import annotations

import base64

from mcp.types import Icon

__all__ = ["SERVER_ICONS", "tool_icons"]

_FRAME = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48">'
    '<rect width="48" height="48" rx="12" fill="{background}"/>'
    '<g fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round">{drawing}</g>'
    "</svg>"
)

# One colour per kind of tool: the send is the one that costs money, so it alone is orange.
_SERVER = (
    "#2563eb",
    '<path d="M11 14h26a3 3 0 0 1 3 3v13a3 3 0 0 1-3 3H21l-8 6v-6h-2a3 3 0 0 1-3-3V17a3 3 0 0 1 3-3z"/>'
    '<path d="M17 23.5h.01M24 23.5h.01M31 23.5h.01" stroke-width="4"/>',
)
_DRAWINGS = {
    "send_sms": ("#ea580c", '<path d="M38 10 20 28M38 10 27 38l-7-10-10-7z"/>'),
    "send_sms_batch": ("#ea580c", '<path d="M34 8 18 24M34 8l-9 24-6-8-8-6z"/><path d="M40 22 32 42l-4-5"/>'),
    "estimate_sms": (
        "#0d9488",
        '<rect x="13" y="9" width="22" height="30" rx="3"/><path d="M18 16h12M18 24h.01M24 24h.01'
        'M30 24h.01M18 31h.01M24 31h.01M30 31h.01" stroke-width="3.5"/>',
    ),
    "check_balance": ("#0d9488", '<rect x="9" y="14" width="30" height="22" rx="3"/><path d="M9 20h30M30 29h3"/>'),
    "list_countries": (
        "#0d9488",
        '<circle cx="24" cy="24" r="14"/><path d="M10 24h28M24 10c-5 5-5 23 0 28M24 10c5 5 5 23 0 28"/>',
    ),
    "get_message": ("#0d9488", '<rect x="9" y="13" width="30" height="22" rx="3"/><path d="m10 15 14 11 14-11"/>'),
    "list_messages": ("#0d9488", '<path d="M17 15h20M17 24h20M17 33h20M11 15h.01M11 24h.01M11 33h.01"/>'),
}


def _icon(background: str, drawing: str) -> list[Icon]:
    svg = _FRAME.format(background=background, drawing=drawing)
    src = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
    return [Icon(src=src, mime_type="image/svg+xml", sizes=["any"])]


SERVER_ICONS = _icon(*_SERVER)


def tool_icons(name: str) -> list[Icon]:
    """The icon of a tool by its name; a tool without a drawing of its own (one added later) shows the server's."""
    drawing = _DRAWINGS.get(name)
    return _icon(*drawing) if drawing is not None else list(SERVER_ICONS)
