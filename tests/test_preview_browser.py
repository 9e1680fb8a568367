"""The preview app in a real browser: headless Chromium loads the page in a sandboxed frame, and the test plays the
host's side of the MCP Apps protocol by postMessage (ui/initialize, then the tool's input and result), with the
results that real tool calls returned. Any console error or network request fails the test; each render is saved
as a screenshot under .artifacts/preview/ (kept out of the repository).

Needs Debian's `chromium` and the `playwright` package (never `playwright install`); .ci/run installs both."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server.app import preview_html
from smsai_mcp.sms.segments import count_segments, split_segments
from tests.conftest import posts, text_of
from tests.guard_helpers import CA, GB, PREMIUM, US, connect, until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright import async_api as playwright_api
except ImportError:  # pragma: no cover - the dev extra installs it
    playwright_api = None  # type: ignore[assignment]
MISSING = (
    "no chromium on this machine (apt-get install chromium; .ci/run does)"
    if CHROMIUM is None
    else "the playwright package is not installed (pip install -e '.[dev]')"
    if playwright_api is None
    else None
)
if MISSING is not None and os.environ.get("SMSAI_REQUIRE_CHROMIUM") == "1":
    raise RuntimeError(f"SMSAI_REQUIRE_CHROMIUM=1 but {MISSING}")
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
]

SCREENSHOTS = Path(__file__).resolve().parent.parent / ".artifacts" / "preview"
SCREENSHOT_MAX_HEIGHT = 3000  # px

# The host page: a sandboxed frame (an opaque origin, as hosts give apps) and the host's half of the protocol.
HOST_PAGE = """<!doctype html><html><body style="margin:0;background:#e5e7eb">
<iframe id="app" sandbox="allow-scripts" style="border:0;width:720px;height:400px;display:block"></iframe>
<script>
window.hostLog = { toolCalls: [], sizes: [], initialized: false, unknown: [], methods: [] };
window.startHost = (config, html) => {
  const frame = document.getElementById("app");
  const send = (message) => frame.contentWindow.postMessage({ jsonrpc: "2.0", ...message }, "*");
  window.addEventListener("message", (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = event.data;
    window.hostLog.methods.push(m.method);
    if (m.method === "ui/initialize") {
      send({ id: m.id, result: { protocolVersion: m.params.protocolVersion,
        hostInfo: { name: "test-host", version: "1" }, hostCapabilities: config.balance ? { serverTools: {} } : {},
        hostContext: { theme: config.theme } } });
    } else if (m.method === "ui/notifications/initialized") {
      window.hostLog.initialized = true;
      send({ method: "ui/notifications/tool-input", params: { arguments: config.arguments } });
      send({ method: "ui/notifications/tool-result", params: config.result });
    } else if (m.method === "tools/call") {
      window.hostLog.toolCalls.push(m.params.name);
      if (m.params.name === "check_balance" && config.balance)
        send({ id: m.id, result: { content: [], structuredContent: config.balance, isError: false } });
      else send({ id: m.id, error: { code: -32601, message: "not offered" } });
    } else if (m.method === "ui/notifications/size-changed") {
      window.hostLog.sizes.push(m.params);
      frame.style.height = m.params.height + "px";
    } else {
      window.hostLog.unknown.push(m.method);
    }
  });
  frame.srcdoc = html;
};
</script></body></html>"""


@dataclass
class Browser:
    """One Chromium page that fails the test on any console error, page error or network request."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    async def show(self, name: str, result: CallToolResult, arguments: dict[str, Any], **host: Any) -> Any:
        """Loads the app, plays the host with this tool result, waits for the render, saves a screenshot."""
        await self.page.set_content(HOST_PAGE)
        config = {
            "arguments": arguments,
            "result": result.model_dump(mode="json", by_alias=True, exclude_none=True),
            "balance": host.get("balance"),
            "theme": host.get("theme", "light"),
        }
        await self.page.evaluate("([config, html]) => window.startHost(config, html)", [config, preview_html()])
        frame = self.page.frame_locator("#app")
        await frame.locator("body[data-state=rendered]").wait_for(timeout=10_000)
        if config["balance"] is not None:
            await frame.locator("[data-budget]").wait_for(timeout=10_000)
        await self.page.wait_for_function("() => window.hostLog.sizes.length > 0")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # The frame's top, for a person to look at; a frame of thousands of rows is 150,000 px tall, and a picture
        # of all of it took most of its test's time.
        box = await self.page.locator("#app").bounding_box()
        assert box is not None, "the frame is on the page"
        clip = {**box, "height": min(box["height"], SCREENSHOT_MAX_HEIGHT)}
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), clip=clip, full_page=True)
        log = await self.page.evaluate("() => window.hostLog")
        assert log["initialized"], "the app finished the ui/initialize handshake"
        assert log["methods"][:2] == ["ui/initialize", "ui/notifications/initialized"], log["methods"]
        assert set(log["toolCalls"]) <= {"check_balance"}, "the app calls no tool that sends or confirms"
        assert log["unknown"] == [], log["unknown"]
        return frame

    def assert_clean(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.requests == [], f"the page made network requests: {self.requests}"


@pytest.fixture(scope="module")
async def launched() -> AsyncIterator[Any]:
    """One Chromium for the module (starting it takes seconds); each test gets a fresh context of its own."""
    async with playwright_api.async_playwright() as playwright:
        # A sandboxed frame in a process of its own escapes Playwright's request routing; keep it in the page's.
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--disable-features=IsolateSandboxedIframes"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser(launched: Any) -> AsyncIterator[Browser]:
    context = await launched.new_context(viewport={"width": 760, "height": 900}, device_scale_factor=1)
    try:
        page = await context.new_page()
        watched = Browser(page)
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.errors.append(str(e)))

        async def refuse(route: Any) -> None:
            watched.requests.append(route.request.url)
            await route.abort()

        await context.route("**/*", refuse)
        yield watched
        watched.assert_clean()
    finally:
        await context.close()


async def call(settings: Settings, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with connect(settings, "auto") as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result


async def balance(settings: Settings) -> dict[str, Any]:
    content: dict[str, Any] | None = (await call(settings, "check_balance", {})).structured_content
    assert content is not None
    return content


async def segment_texts(frame: Any) -> list[str]:
    """The text of each marked part as sent: an invisible character's chip stands for the character itself."""
    texts: list[str] = await frame.locator("[data-segment]").evaluate_all(
        """segments => segments.map(s => Array.from(s.childNodes).map(
             n => n.nodeType === 3 ? n.textContent : (n.dataset.char ?? n.textContent)).join(''))"""
    )
    return texts


GSM_LONG = (
    "Your order #4411 has shipped! Track it in the app under Orders > Deliveries. "
    "Questions? Reply HELP {any time} or call us; the courier arrives 9-12 [Mon~Fri]. "
    "Thanks for shopping with us, and see you soon at the store. Cost: 12€ | paid."
)
UCS2_QUOTES = "“Hi Sam” — your table for 4 is booked at 7 pm tonight. We\u2019ll hold it 15 minutes… see you!"


async def test_estimate_in_gsm7_marks_each_part_where_the_server_cuts_it(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    result = await call(settings, "estimate_sms", {"to": US, "body": GSM_LONG})
    estimate = result.structured_content
    assert estimate is not None
    assert estimate["encoding"] == "GSM-7"
    assert estimate["segments"] == 2
    frame = await browser.show("estimate-gsm7", result, {"to": US, "body": GSM_LONG}, balance=await balance(settings))
    assert await frame.locator("body").get_attribute("data-kind") == "estimate"
    assert await segment_texts(frame) == split_segments(GSM_LONG)
    assert await frame.locator("[data-cut]").count() == 1
    assert await frame.locator(".ucs2").count() == 0
    assert await frame.locator("[data-stat=encoding]").inner_text() == "GSM-7"
    assert await frame.locator("[data-stat=parts]").inner_text() == "2"
    assert await frame.locator("[data-budget-cost]").inner_text() == "$0.02"
    assert await frame.locator("[data-budget-left]").inner_text() == "$10.00 of $10.00"
    assert posts(sandbox) == 0


async def test_estimate_in_ucs2_highlights_the_forcing_characters_and_the_gsm7_saving(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    result = await call(settings, "estimate_sms", {"to": GB, "body": UCS2_QUOTES})
    estimate = result.structured_content
    assert estimate is not None
    assert estimate["encoding"] == "UCS-2"
    assert estimate["segments"] == 2
    suggestion = estimate["gsm7_suggestion"]
    assert suggestion["segments"] == 1
    frame = await browser.show(
        "estimate-ucs2", result, {"to": GB, "body": UCS2_QUOTES}, balance=await balance(settings)
    )
    assert await segment_texts(frame) == split_segments(UCS2_QUOTES)
    highlighted = await frame.locator(".bubble .ucs2").evaluate_all("els => els.map(e => e.dataset.char)")
    assert highlighted == [c for c in UCS2_QUOTES if c in estimate["non_gsm_characters"]]
    assert set(highlighted) == set("“”—\u2019…")
    assert await frame.locator("[data-stat=encoding]").inner_text() == "UCS-2"
    assert await frame.locator("[data-saving]").inner_text() == "saves $0.041"
    assert "1 part instead of 2" in await frame.locator("[data-suggestion]").inner_text()
    assert posts(sandbox) == 0


async def test_send_shows_the_message_sent_and_what_it_was_charged(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    arguments = {"to": CA, "body": "Your code is 481 220. It expires in 10 minutes.", "sender_id": "Acme"}
    result = await call(settings, "send_sms", arguments)
    sent = result.structured_content
    assert sent is not None
    assert sent["status"] == "sent"
    assert posts(sandbox) == 1
    frame = await browser.show("send", result, arguments, theme="dark")
    assert await frame.locator("body").get_attribute("data-kind") == "send"
    banner = await frame.locator("[data-status=sent]").inner_text()
    assert f"message #{sent['message']['id']}" in banner
    assert await frame.locator("[data-stat=charged]").inner_text() == "$0.01"
    assert await segment_texts(frame) == [arguments["body"]]
    assert "from Acme" in await frame.locator(".contact").inner_text()
    assert posts(sandbox) == 1, "showing a send sends nothing more"


async def test_send_awaiting_confirmation_says_nothing_was_sent_yet(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    arguments = {"to": US, "body": "Running 10 min late, sorry!"}
    result = await call(settings.model_copy(update={"confirm": "token"}), "send_sms", arguments)
    assert result.structured_content is not None
    assert result.structured_content["status"] == "confirmation_required"
    frame = await browser.show("send-confirmation", result, arguments, balance=await balance(settings))
    assert "nothing sent yet" in await frame.locator("[data-status=confirmation_required]").inner_text()
    assert await frame.locator("button, input, form").count() == 0, "the page offers nothing to click to confirm"
    assert posts(sandbox) == 0


async def test_batch_lists_every_recipient_with_its_verdict_and_the_totals(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    # A send_sms_batch result as CONTRACT section 3 shapes it, made of what the real tools returned.
    body = "Team offsite moved to Friday 10:00, room 4B. Reply STOP to opt out."
    outcomes = [await call(settings, "send_sms", {"to": to, "body": body}) for to in (US, CA)]
    refused = await call(
        settings.model_copy(update={"blocked_countries": frozenset({"GB"})}), "estimate_sms", {"to": GB, "body": body}
    )
    sent = [outcome.structured_content for outcome in outcomes]
    blocked = refused.structured_content
    assert blocked is not None
    assert blocked["blocked_by"] == "blocked_country"
    results: list[dict[str, Any]] = [
        {"to": s["estimate"]["to"], "status": "sent", "estimate": s["estimate"], "message": s["message"]}
        for s in sent
        if s is not None
    ]
    results.append({"to": blocked["to"], "status": "refused", "estimate": blocked, "reason": blocked["blocked_reason"]})
    batch = {
        "status": "done",
        "estimate_total_usd": round(sum(r["estimate"]["estimated_cost_usd"] for r in results[:2]), 4),
        "results": results,
        "sent_count": 2,
        "refused_count": 1,
    }
    result = CallToolResult(content=[], structured_content=batch)
    frame = await browser.show("batch", result, {"recipients": [US, CA, GB], "body": body})
    assert await frame.locator("body").get_attribute("data-kind") == "batch"
    verdicts = await frame.locator("[data-verdict]").evaluate_all("els => els.map(e => e.dataset.verdict)")
    assert verdicts == ["sent", "sent", "refused"]
    rows = await frame.locator("[data-recipient]").evaluate_all("els => els.map(e => e.dataset.recipient)")
    assert rows == [US, CA, GB]
    assert blocked["blocked_reason"] in await frame.locator(f"[data-recipient='{GB}']").inner_text()
    assert await frame.locator("[data-stat='total estimate']").inner_text() == "$0.02"
    assert await frame.locator("[data-stat=sent]").inner_text() == "2"
    assert await frame.locator("[data-stat=refused]").inner_text() == "1"
    assert await segment_texts(frame) == [body]
    assert posts(sandbox) == 2


async def test_a_refusal_shows_its_own_words_that_nothing_was_sent(
    browser: Browser, settings: Settings, sandbox: Sandbox
) -> None:
    arguments = {"to": PREMIUM, "body": "Win a prize, call now"}
    async with connect(settings, "auto") as client:
        result = await client.call_tool("send_sms", arguments)
    assert result.is_error
    frame = await browser.show("refusal", result, arguments)
    assert await frame.locator("body").get_attribute("data-kind") == "error"
    shown = await frame.locator("[data-error]").inner_text()
    assert shown == text_of(result)
    assert shown.startswith("Nothing was sent")
    assert await frame.locator(".badge").inner_text() == "Nothing sent"
    assert await frame.locator(".bubble").count() == 0
    assert posts(sandbox) == 0


async def test_the_harness_notices_a_page_that_loads_from_the_network_or_throws(browser: Browser) -> None:
    """The two checks every render passes are not vacuous: a page that fetches or throws is caught."""
    leaky = preview_html().replace(
        "</body>", '<img src="http://example.invalid/x.png"><script>nosuch()</script></body>'
    )
    await browser.page.set_content(HOST_PAGE)
    result = {"content": [{"type": "text", "text": "Nothing was sent."}], "isError": True}
    await browser.page.evaluate(
        "([config, html]) => window.startHost(config, html)",
        [{"arguments": {}, "result": result, "balance": None, "theme": "light"}, leaky],
    )
    await browser.page.frame_locator("#app").locator("body[data-state=rendered]").wait_for(timeout=10_000)
    await until(lambda: bool(browser.requests and browser.errors))
    assert browser.requests == ["http://example.invalid/x.png"]
    assert any("nosuch" in error for error in browser.errors), browser.errors
    browser.requests.clear()
    browser.errors.clear()


TRICKY_TEXTS = [
    "a" * 160,
    "a" * 161,
    "a" * 152 + "€" + "b" * 10,  # the two septets of € do not fit the first part's last one
    "{" * 80 + "}",
    "x" * 69 + "é" + "ж",  # é is GSM-7, ж is not
    "ж" * 70,
    "ж" * 66 + "😀" + "ж" * 5,  # the pair would straddle the 67-unit boundary: it moves whole to part two
    "👨‍👩‍👧‍👦" * 12,  # joiner sequences: cut by UTF-16 units, as carriers cut them
    "line one\r\nline two\n" * 12 + "\u200b",
    "",
]


async def test_the_page_cuts_tricky_texts_exactly_where_the_server_counts(browser: Browser) -> None:
    await browser.page.set_content("<!doctype html><title>split</title>")
    await browser.page.evaluate("html => { document.open(); document.write(html); document.close(); }", preview_html())
    await browser.page.wait_for_function("() => window.smsaiPreview !== undefined")
    for text in TRICKY_TEXTS:
        split = await browser.page.evaluate("t => window.smsaiPreview.splitSegments(t)", text)
        expected = count_segments(text)
        assert [part["text"] for part in split["parts"]] == split_segments(text), json.dumps(text)
        assert split["encoding"] == expected.encoding
        assert len(split["parts"]) == expected.segments
