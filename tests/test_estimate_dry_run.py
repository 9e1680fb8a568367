"""estimate_sms as a dry run of the guard (CONTRACT section 3, revision 2): blocked_by and blocked_reason name the
first guard that would refuse send_sms now, and the estimate carries warnings, links and the recipient's zones.
Driven through a real MCP client in both eras against the sandbox; no estimate ever POSTs or audits a refusal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.guard.pipeline import STEPS
from smsai_mcp.sandbox import Sandbox
from tests.conftest import ERAS, assert_matches_output_schema, posts, text_of
from tests.guard_helpers import CA, GB, US, connect, send, sent

pytestmark = pytest.mark.anyio

SMART = "It’s ready — “table 4” at 8pm… see you there! " * 3  # noqa: RUF001  (3 UCS-2 parts, 1 once rewritten)


async def estimate(client: Client, to: str = US, body: str = "Hello from the dry run") -> dict[str, Any]:
    [tool] = [t for t in (await client.list_tools()).tools if t.name == "estimate_sms"]
    return assert_matches_output_schema(tool, await client.call_tool("estimate_sms", {"to": to, "body": body}))


def refused_lines(settings: Settings) -> list[dict[str, Any]]:
    assert settings.state_dir is not None
    audit = settings.state_dir / "audit.jsonl"
    lines = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    return [line for line in lines if line["outcome"] == "refused"]


BLOCKING: dict[str, tuple[dict[str, Any], str]] = {
    "blocked_country": ({"blocked_countries": frozenset({"US"})}, "SMSAI_BLOCKED_COUNTRIES"),
    "country_not_allowed": ({"allowed_countries": frozenset({"CA"})}, "SMSAI_ALLOWED_COUNTRIES"),
    "recipient_not_allowed": ({"allowed_recipients": frozenset({CA})}, "SMSAI_ALLOWED_RECIPIENTS"),
    "cost_cap": ({"max_cost_per_message_usd": Decimal("0.005")}, "SMSAI_MAX_COST_PER_MESSAGE_USD"),
    "daily_budget": ({"daily_budget_usd": Decimal("0.005")}, "SMSAI_DAILY_BUDGET_USD"),
    "read_only": ({"read_only": True}, "read-only"),
}


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("code", sorted(BLOCKING))
async def test_estimate_names_the_guard_that_would_refuse_without_posting_or_auditing(
    settings: Settings, sandbox: Sandbox, era: str, code: str
) -> None:
    policy, says = BLOCKING[code]
    blocked = settings.model_copy(update=policy)
    async with connect(blocked, era) as client:
        result = await estimate(client)
    assert result["blocked_by"] == code
    assert says in result["blocked_reason"]
    assert not result["blocked_reason"].startswith("Nothing was sent")  # an estimate is not a send
    assert result["estimated_cost_usd"] == 0.01  # the estimate itself is still made
    assert posts(sandbox) == 0
    assert refused_lines(blocked) == []


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_after_the_hourly_limit_is_blocked_by_recipient_hourly_limit(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    limited = settings.model_copy(update={"max_per_recipient_per_hour": 1})
    async with connect(limited, era) as client:
        sent(await send(client))
        result = await estimate(client, body="A different text")
    assert result["blocked_by"] == "recipient_hourly_limit"  # the audit log's hourly_limit, in the contract's words
    assert "SMSAI_MAX_PER_RECIPIENT_PER_HOUR" in result["blocked_reason"]
    assert posts(sandbox) == 1  # the first send only
    assert refused_lines(limited) == []


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_blocked_by_content_when_the_content_step_is_in_the_pipeline(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    if not any(step.__module__.endswith(".content") for step in STEPS):
        pytest.skip("the content-check step (issue 11, items 1 and 2) is not in guard/pipeline.py STEPS yet")
    async with connect(settings, era) as client:
        result = await estimate(client, body="Pay here \u202eexe.gnp\u202c now")
    assert result["blocked_by"] == "content"
    assert posts(sandbox) == 0
    assert refused_lines(settings) == []


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_of_a_sendable_message_is_not_blocked_and_a_duplicate_does_not_block(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        before = await estimate(client)
        sent(await send(client, body="Hello from the dry run"))
        after = await estimate(client)  # would answer `duplicate`, which is no refusal
    for result in (before, after):
        assert (result["blocked_by"], result["blocked_reason"], result["quiet_until"]) == (None, None, None)
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_of_a_number_that_cannot_be_estimated_stays_a_tool_error(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    blocked = settings.model_copy(update={"blocked_countries": frozenset({"US"})})
    async with connect(blocked, era) as client:
        premium = await client.call_tool("estimate_sms", {"to": "+19005551234", "body": "hi"})
        invalid = await client.call_tool("estimate_sms", {"to": "+1202555", "body": "hi"})
    assert premium.is_error
    assert "premium-rate" in text_of(premium)
    assert invalid.is_error
    assert "phone number" in text_of(invalid)
    assert posts(sandbox) == 0


@pytest.mark.parametrize("era", ERAS)
async def test_cost_cap_refusal_mentions_the_gsm7_suggestion_that_fits_under_the_cap(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    capped = settings.model_copy(update={"max_cost_per_message_usd": Decimal("0.02")})
    async with connect(capped, era) as client:
        result = await estimate(client, body=SMART)
        refusal = await send(client, body=SMART)
    assert result["blocked_by"] == "cost_cap"
    assert "gsm7_suggestion" in result["blocked_reason"]
    assert result["gsm7_suggestion"]["estimated_cost_usd"] == 0.01
    assert result["gsm7_suggestion"]["saving_usd"] == 0.02
    assert {"from": "…", "to": "...", "count": 3} in result["gsm7_suggestion"]["replacements"]
    assert refusal.is_error
    assert text_of(refusal).startswith("Nothing was sent.")
    assert "gsm7_suggestion" in text_of(refusal)
    assert "$0.0100" in text_of(refusal)
    assert posts(sandbox) == 0


async def test_cost_cap_refusal_leaves_out_a_suggestion_that_would_still_be_over_the_cap(
    settings: Settings, sandbox: Sandbox
) -> None:
    capped = settings.model_copy(update={"max_cost_per_message_usd": Decimal("0.005")})
    async with connect(capped, "legacy") as client:
        result = await estimate(client, body=SMART)
    assert result["blocked_by"] == "cost_cap"
    assert result["gsm7_suggestion"] is not None
    assert "gsm7_suggestion" not in result["blocked_reason"]


MARKDOWN = ["Your **table** is ready", "See [the menu](https://example.com/menu)", "# Order ready\nCome in", "Use `A1`"]


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_warns_of_links_markdown_and_invisible_characters(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        linked = await estimate(client, body="Track it at https://Track.Example.com/x?id=1 or www.shop.example.org")
        markdown = [await estimate(client, body=body) for body in MARKDOWN]
        hidden = await estimate(client, body="Your table is ready.\u200b\u2060 See you soon!")
        plain = await estimate(client, body="Your table is ready. See you soon!")
    assert linked["links"] == ["track.example.com", "www.shop.example.org"]
    assert any("track.example.com" in warning for warning in linked["warnings"])
    for result in markdown:
        assert any("markdown" in warning for warning in result["warnings"]), result["warnings"]
    assert any("⟨U+200B⟩ ⟨U+2060⟩" in warning for warning in hidden["warnings"])
    assert plain["warnings"] == []
    assert plain["links"] == []
    assert plain["gsm7_suggestion"] is None
    assert posts(sandbox) == 0


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("number", "zones"),
    [
        (US, ["America/New_York"]),
        (CA, ["America/Toronto"]),
        (GB, ["Europe/Guernsey", "Europe/Isle_of_Man", "Europe/Jersey", "Europe/London"]),
        ("+12085551234", ["America/Boise", "America/Los_Angeles"]),  # Idaho: one area code, two zones
        ("+18765550123", ["America/Jamaica"]),  # a +1 number of another country: its own, not all of +1's
    ],
)
async def test_estimate_gives_the_recipient_time_zones(
    settings: Settings, sandbox: Sandbox, era: str, number: str, zones: list[str]
) -> None:
    async with connect(settings, era) as client:
        result = await estimate(client, to=number)
    assert result["recipient_time_zones"] == zones


@pytest.mark.parametrize("era", ERAS)
async def test_send_result_estimate_has_the_same_fields_as_estimate_sms(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        estimated = await estimate(client, body=SMART)
        result = sent(await send(client, body=SMART))
    assert result["estimate"] == estimated
    assert posts(sandbox) == 1
