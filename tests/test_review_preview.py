"""Adversarial review of the preview app (CONTRACT section 8): a body or a hostile tool result full of markup,
entities, direction overrides and wrong types must be shown as text, never run or loaded, and never stop the page.
Drives headless Chromium as tests/test_preview_browser.py does (its fixtures fail a test on any console error,
page error or network request)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import CallToolResult, TextContent

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from tests.conftest import posts
from tests.guard_helpers import GB, US, connect
from tests.test_preview_browser import MISSING, Browser, browser, launched, segment_texts

__all__ = ["browser", "launched"]  # the browser fixtures, shared with the app's own browser tests

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

MARKUP = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>&lt;b&gt;&amp;\u202eevil'


def estimate(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "to": US,
        "country_code": "US",
        "country_name": "United States",
        "encoding": "GSM-7",
        "characters": 5,
        "segments": 1,
        "non_gsm_characters": [],
        "unit_price_usd": 0.01,
        "estimated_cost_usd": 0.01,
        "warnings": [],
        "links": [],
        "gsm7_suggestion": None,
        "recipient_time_zones": ["America/New_York"],
        "quiet_until": None,
        "blocked_by": None,
        "blocked_reason": None,
    }
    return base | fields


async def nothing_ran(frame: Any) -> None:
    """No element came from a text, and no script of one ran."""
    assert await frame.locator("main img, main script, main b").count() == 0
    assert await frame.locator("body").evaluate("() => window.pwned === undefined")


async def test_a_body_of_markup_and_entities_is_shown_as_its_characters_and_never_run(browser: Browser) -> None:
    body = MARKUP + " 😀 " + "x" * 1500
    result = CallToolResult(content=[], structured_content=estimate(encoding="UCS-2", segments=24))
    frame = await browser.show("review-markup-body", result, {"to": US, "body": body})
    await nothing_ran(frame)
    shown = "".join(await frame.locator("[data-segment]").all_inner_texts())  # the parts, without their cut marks
    assert '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>&lt;b&gt;&amp;' in shown
    assert "⟨U+202E⟩" in shown  # the direction override is named, not obeyed


async def test_a_hostile_estimate_with_markup_in_every_string_is_shown_as_text(browser: Browser) -> None:
    hostile = estimate(
        country_name=MARKUP,
        country_code=MARKUP,
        warnings=[MARKUP],
        links=[MARKUP],
        blocked_by=MARKUP,
        blocked_reason=MARKUP,
        non_gsm_characters=[MARKUP],
    )
    result = CallToolResult(content=[], structured_content=hostile)
    frame = await browser.show("review-markup-estimate", result, {"to": US, "body": "Hello", "sender_id": MARKUP})
    await nothing_ran(frame)
    assert "<script>" in await frame.locator("main").inner_text()


async def test_an_error_result_of_markup_is_shown_as_text(browser: Browser) -> None:
    result = CallToolResult(content=[TextContent(type="text", text="Nothing was sent. " + MARKUP)], is_error=True)
    frame = await browser.show("review-markup-error", result, {"to": US, "body": "Hello"})
    await nothing_ran(frame)
    assert MARKUP.replace("\u202e", "") in (await frame.locator("[data-error]").inner_text()).replace("\u202e", "")


async def test_a_hostile_batch_result_with_wrong_types_and_thousands_of_rows_still_renders_as_text(
    browser: Browser,
) -> None:
    rows: list[Any] = [
        {"to": MARKUP, "status": MARKUP, "reason": MARKUP, "estimate": estimate(country_name=MARKUP)},
        {"to": 12, "status": None, "estimate": {"estimated_cost_usd": "1e9", "country_name": 7}},
        {"to": GB, "status": "sent", "message": {"id": MARKUP, "price_usd": "NaN"}},
        None,
        "a string where a row should be",
        *({"to": f"+1202555{i:04d}", "status": "refused", "reason": "x"} for i in range(3000)),
    ]
    batch = {
        "status": "done",
        "estimate_total_usd": "lots",
        "results": rows,
        "sent_count": MARKUP,
        "refused_count": -1,
    }
    result = CallToolResult(content=[], structured_content=batch)
    frame = await browser.show("review-hostile-batch", result, {"recipients": [US], "body": MARKUP})
    await nothing_ran(frame)
    assert await frame.locator("[data-recipient]").count() == len(rows) - 2  # what is no row is left out
    assert await frame.locator("[data-stat='total estimate']").inner_text() == "—"


async def test_a_hostile_send_result_with_wrong_types_still_renders(browser: Browser) -> None:
    hostile = {
        "status": 7,
        "estimate": estimate(non_gsm_characters="ab", warnings="not a list", segments="two", gsm7_suggestion={}),
        "message": {"id": MARKUP, "status": MARKUP, "price_usd": MARKUP},
    }
    result = CallToolResult(content=[], structured_content=hostile)
    frame = await browser.show("review-hostile-send", result, {"to": US, "body": "Hello"})
    await nothing_ran(frame)
    assert await frame.locator(".bubble").inner_text() == "Hello"


async def test_a_result_of_a_shape_no_tool_gives_leaves_a_page_that_says_so(browser: Browser) -> None:
    hostile = {"status": "sent", "estimate": estimate(gsm7_suggestion={"replacements": [None], "segments": 1})}
    result = CallToolResult(content=[], structured_content=hostile)
    frame = await browser.show("review-unreadable", result, {"to": US, "body": "Hello"})
    await nothing_ran(frame)
    assert await frame.locator("body").get_attribute("data-kind") == "unreadable"
    assert "cannot show" in await frame.locator("[data-unreadable]").inner_text()


async def test_the_page_shows_and_cuts_the_text_the_api_will_send_not_the_white_space_it_trims(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    """A text of 160 GSM-7 characters plus trailing space and a zero-width space: the API trims them, so the phone
    gets one GSM-7 part, as the server's estimate says; the page must not show three UCS-2 parts."""
    body = "\u00a0 " + "a" * 160 + " \u200b\n"
    async with connect(settings, "auto") as client:
        result = await client.call_tool("estimate_sms", {"to": US, "body": body})
    estimate_ = result.structured_content
    assert estimate_ is not None
    assert (estimate_["segments"], estimate_["encoding"]) == (1, "GSM-7")
    frame = await browser.show("review-trimmed", result, {"to": US, "body": body})
    assert await segment_texts(frame) == ["a" * 160]
    assert await frame.locator(".bubble").get_attribute("data-encoding") == "GSM-7"
    assert await frame.locator(".invisible").count() == 0
    assert posts(sandbox) == 0
