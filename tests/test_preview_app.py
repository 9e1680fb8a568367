"""The preview app (CONTRACT section 8) as MCP clients see it: the ui:// resource, the tools that point to it, the
icons, and the 2026-07-28 cache hints. The page itself is driven in a real browser in test_preview_browser.py."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.server import build_server
from smsai_mcp.server.app import PREVIEW_URI, preview_html
from tests.conftest import ERAS

pytestmark = pytest.mark.anyio

APP_MIME_TYPE = "text/html;profile=mcp-app"
PREVIEWED_TOOLS = ["estimate_sms", "send_sms"]  # and send_sms_batch, whenever the server offers it


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state")


def connect(settings: Settings, era: str) -> Client:
    return Client(build_server(settings), mode=era)


@pytest.mark.parametrize("era", ERAS)
async def test_resources_list_shows_the_preview_page_as_an_mcp_app(plain_settings: Settings, era: str) -> None:
    async with connect(plain_settings, era) as client:
        resources = {resource.uri: resource for resource in (await client.list_resources()).resources}
        read = await client.read_resource(PREVIEW_URI)
    preview = resources[PREVIEW_URI]
    assert preview.mime_type == APP_MIME_TYPE
    [content] = read.contents
    assert content.mime_type == APP_MIME_TYPE
    text = getattr(content, "text", "")
    assert text == preview_html()
    assert text.lstrip().lower().startswith("<!doctype html>")


async def test_the_preview_resource_asks_the_host_for_no_network_domain(plain_settings: Settings) -> None:
    async with connect(plain_settings, "auto") as client:
        [preview] = [r for r in (await client.list_resources()).resources if r.uri == PREVIEW_URI]
    assert preview.meta is not None
    csp: dict[str, Any] = preview.meta["ui"]["csp"]
    assert all(domains == [] for domains in csp.values()), csp


def test_the_preview_page_loads_nothing_from_any_network() -> None:
    html = preview_html()
    assert not re.search(r"(?i)\b(?:https?|wss?|ftp):", html), "no absolute URL of any kind"
    assert not re.search(r"(?i)//[a-z0-9.-]+\.[a-z]{2,}", html), "no protocol-relative URL"
    assert not re.search(r"(?i)\b(?:src|href|action|srcset|poster)\s*=", html), "no attribute that loads or links"
    assert not re.search(r"(?i)url\(|@import|<link\b|<iframe\b|<img\b|<object\b|<embed\b", html)
    assert not re.search(r"\b(?:fetch|XMLHttpRequest|WebSocket|EventSource|importScripts|sendBeacon)\b", html)


def test_the_preview_page_confirms_nothing() -> None:
    """A click in a page cannot stand for a person: the only tool the page may call is check_balance."""
    html = preview_html()
    called = re.findall(r'"tools/call",\s*\{\s*name:\s*"([a-z_]+)"', html)
    assert called == ["check_balance"]
    assert not re.search(r"(?i)<(?:button|form|input)\b", html)
    assert "confirmation_token" not in re.sub(r"result\.status|data-status", "", html).replace(
        '"confirmation_required"', ""
    )


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_and_send_point_to_the_preview(plain_settings: Settings, era: str) -> None:
    async with connect(plain_settings, era) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    previewed = [*PREVIEWED_TOOLS, *(["send_sms_batch"] if "send_sms_batch" in tools else [])]
    for name in previewed:
        assert tools[name].meta == {"ui": {"resourceUri": PREVIEW_URI}}, name
    for name in set(tools) - set(previewed):
        assert not (tools[name].meta or {}).get("ui"), f"{name} shows no preview"


@pytest.mark.parametrize("era", ERAS)
async def test_every_tool_and_the_server_carry_an_svg_icon_that_fetches_nothing(
    plain_settings: Settings, era: str
) -> None:
    async with connect(plain_settings, era) as client:
        tools = (await client.list_tools()).tools
        server_icons = client.server_info.icons if client.server_info else None
    assert server_icons
    icons = {tool.name: tool.icons for tool in tools} | {"(server)": server_icons}
    for owner, owned in icons.items():
        assert owned, f"{owner} has no icon"
        for icon in owned:
            assert icon.mime_type == "image/svg+xml"
            assert icon.src.startswith("data:image/svg+xml;base64,"), owner
            svg = base64.b64decode(icon.src.split(",", 1)[1]).decode()
            assert svg.startswith("<svg")
            assert svg.endswith("</svg>")
            assert "<script" not in svg, "an icon runs nothing"
            assert "href" not in svg, "an icon loads nothing"
    assert icons["send_sms"] != icons["estimate_sms"], "the tool that costs money looks different"


async def test_listings_carry_cache_hints_in_2026_07_28(plain_settings: Settings) -> None:
    async with connect(plain_settings, "auto") as client:
        tools = await client.list_tools()
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
    for listing in (tools, resources, templates):
        assert listing.ttl_ms == 3_600_000
        assert listing.cache_scope == "private"


async def test_the_client_is_told_the_server_serves_mcp_apps(plain_settings: Settings) -> None:
    # Capabilities have an `extensions` member from 2026-07-28; the SDK leaves it out of the older handshake.
    async with connect(plain_settings, "auto") as client:
        capabilities = client.server_capabilities
    assert capabilities is not None
    assert capabilities.extensions is not None
    assert "io.modelcontextprotocol/ui" in capabilities.extensions


def test_readme_shows_a_small_screenshot_of_the_preview() -> None:
    root = Path(__file__).resolve().parent.parent
    png = root / "docs" / "preview.png"
    assert "](docs/preview.png)" in (root / "README.md").read_text(encoding="utf-8")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert png.stat().st_size < 150_000
