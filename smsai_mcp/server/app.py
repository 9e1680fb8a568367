"""The preview app (MCP Apps, CONTRACT section 8): one self-contained page that shows what a send or an estimate
will put on a phone. It displays only: a click in a page cannot stand for a person's confirmation, since the
server cannot tell it from a model's call, so confirmation stays with elicitation and tokens."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from mcp.server.apps import Apps, ResourceCsp

from smsai_mcp.sms.text import TRIMMED

__all__ = ["PREVIEW_URI", "preview_app", "preview_html", "preview_meta"]

PREVIEW_URI = "ui://smsai-mcp/message-preview.html"


def preview_meta() -> dict[str, Any]:
    """The `_meta` of a tool whose result the preview shows (estimate_sms, send_sms, send_sms_batch); a fresh
    dict each time, since the SDK keeps the one it is given."""
    return {"ui": {"resourceUri": PREVIEW_URI}}


@cache
def preview_html() -> str:
    page = files("smsai_mcp.server").joinpath("preview", "message-preview.html").read_text(encoding="utf-8")
    return page.replace('"__SMSAI_TRIMMED__"', json.dumps("".join(sorted(TRIMMED))))  # one list of what the API trims


def preview_app() -> Apps:
    """The extension that serves the page; tools point to it with `preview_meta()`."""
    apps = Apps()
    apps.add_html_resource(
        PREVIEW_URI,
        preview_html(),
        name="message-preview",
        title="SMS preview",
        description="How a message will look on a phone: its segments, the characters that force UCS-2, its cost "
        "against today's budget and, for a batch, every recipient's verdict. It displays; it never sends.",
        csp=ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[], base_uri_domains=[]),
        prefers_border=False,
    )
    return apps
