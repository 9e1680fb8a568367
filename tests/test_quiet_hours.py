"""Quiet hours through a real MCP client, in both eras, under a fixed clock: nothing is sent while it is night for
the recipient (in any of the number's zones, by the US state rules), the refusal says their time and when sending
opens, and estimate_sms tells the agent so for free (blocked_by, quiet_until). Every refusal makes no POST."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sms.quiet_hours import DEFAULT_QUIET_HOURS, QuietWindow
from tests.clock import FakeClock
from tests.conftest import ERAS, posts
from tests.guard_helpers import GB, assert_nothing_sent, connect, send, sent, structured

pytestmark = pytest.mark.anyio

NEW_YORK = "+12125550123"
FLORIDA = "+13055550123"
TEXAS = "+12145550123"  # Dallas: America/Chicago
CONNECTICUT = "+12035550123"
AUSTRALIAN_MOBILE = "+61412345678"  # eight zones, from Cocos (UTC+6:30) to Lord Howe (UTC+11 in summer)


def at(text: str) -> FakeClock:
    """A clock standing still at a UTC instant."""
    return FakeClock(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def quiet(settings: Settings, window: QuietWindow | None = DEFAULT_QUIET_HOURS) -> Settings:
    return settings.model_copy(update={"quiet_hours": window})


async def estimate(client: Client, to: str) -> dict[str, Any]:
    return structured(await client.call_tool("estimate_sms", {"to": to, "body": "Hello from the quiet hours tests"}))


def audit_reasons(settings: Settings) -> list[str]:
    assert settings.state_dir is not None
    lines = (settings.state_dir / "audit.jsonl").read_text().splitlines()
    return [json.loads(line).get("reason", json.loads(line)["outcome"]) for line in lines]


@pytest.mark.parametrize("era", ERAS)
async def test_a_us_number_at_night_is_refused_with_their_time_and_when_sending_opens(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    clock = at("2026-11-30 03:00")  # Sunday 22:00 in New York
    async with connect(quiet(settings), era, clock=clock) as client:
        result = await send(client, NEW_YORK)
        blocked = await estimate(client, NEW_YORK)
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="It is 22:00 (Sunday) for the recipient")
    assert "(America/New_York)" in text
    assert "SMSAI_QUIET_HOURS (21:00-08:00)" in text
    assert "Sending opens at 08:00 (Monday) their time (2026-11-30 13:00 UTC)" in text
    assert "quiet_until" in text  # what to do: wait, or ask estimate_sms
    assert (blocked["blocked_by"], blocked["quiet_until"]) == ("quiet_hours", "2026-11-30T13:00:00Z")
    assert blocked["blocked_reason"].startswith("It is 22:00 (Sunday)")
    assert audit_reasons(settings) == ["quiet_hours"]  # the send audited once; the estimate not at all
    assert posts(sandbox) == 0


@pytest.mark.parametrize("era", ERAS)
async def test_sending_opens_when_quiet_until_says(sandbox: Sandbox, settings: Settings, era: str) -> None:
    clock = at("2026-11-30 03:00")
    async with connect(quiet(settings), era, clock=clock) as client:
        quiet_until = (await estimate(client, NEW_YORK))["quiet_until"]
        clock.advance(datetime.fromisoformat(quiet_until).timestamp() - clock.now() - 60)
        assert_nothing_sent(await send(client, NEW_YORK), sandbox, posts_so_far=0, says="It is 07:59 (Monday)")
        clock.advance(60)
        opened = await estimate(client, NEW_YORK)
        sent(await send(client, NEW_YORK))
    assert (opened["blocked_by"], opened["quiet_until"]) == (None, None)
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_a_gb_number_in_the_afternoon_is_sent(sandbox: Sandbox, settings: Settings, era: str) -> None:
    async with connect(quiet(settings), era, clock=at("2026-11-29 14:00")) as client:
        allowed = await estimate(client, GB)
        sent(await send(client, GB))
    assert (allowed["blocked_by"], allowed["quiet_until"]) == (None, None)
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_a_number_with_several_zones_is_quiet_while_any_of_them_is(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    """11:00 UTC: 22:00 in Sydney but 17:30 on the Cocos Islands; open only once it is 08:00 on Cocos."""
    async with connect(quiet(settings), era, clock=at("2026-11-29 11:00")) as client:
        result = await send(client, AUSTRALIAN_MOBILE)
        blocked = await estimate(client, AUSTRALIAN_MOBILE)
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="one of its 8 time zones")
    assert "(2026-11-30 01:30 UTC)" in text
    assert blocked["quiet_until"] == "2026-11-30T01:30:00Z"
    assert len(blocked["recipient_time_zones"]) == 8


@pytest.mark.parametrize("era", ERAS)
async def test_a_texas_number_on_a_sunday_morning_waits_until_noon(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    clock = at("2026-11-29 16:00")  # Sunday 10:00 in Dallas, when the plain window has long ended
    async with connect(quiet(settings), era, clock=clock) as client:
        result = await send(client, TEXAS)
        sent(await send(client, NEW_YORK))  # 11:00 on Sunday in New York: not a Texas number
        clock.advance(-24 * 3600)  # Saturday 10:00 in Dallas
        sent(await send(client, TEXAS))
    text = assert_nothing_sent(result, sandbox, posts_so_far=2, says="It is 10:00 (Sunday) for the recipient")
    assert "Texas law" in text
    assert "Sending opens at 12:00 (Sunday) their time (2026-11-29 18:00 UTC)" in text


@pytest.mark.parametrize("era", ERAS)
async def test_a_texas_saturday_night_runs_on_into_sunday_noon(sandbox: Sandbox, settings: Settings, era: str) -> None:
    async with connect(quiet(settings), era, clock=at("2026-11-29 04:00")) as client:  # Saturday 22:00 in Dallas
        blocked = await estimate(client, TEXAS)
        result = await send(client, TEXAS)
    assert blocked["quiet_until"] == "2026-11-29T18:00:00Z"
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="Sending opens at 12:00 (Sunday)")


@pytest.mark.parametrize("era", ERAS)
async def test_a_connecticut_number_at_half_past_eight_waits_until_nine(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    async with connect(quiet(settings), era, clock=at("2026-11-30 13:30")) as client:  # Monday 08:30 in New England
        result = await send(client, CONNECTICUT)
        sent(await send(client, NEW_YORK))
    text = assert_nothing_sent(result, sandbox, posts_so_far=1, says="Connecticut law sets (20:00-09:00)")
    assert "Sending opens at 09:00 (Monday) their time (2026-11-30 14:00 UTC)" in text


@pytest.mark.parametrize("era", ERAS)
async def test_a_florida_number_at_half_past_eight_in_the_evening_is_refused_and_new_york_is_not(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    """The state window applies whatever SMSAI_QUIET_HOURS says: here a narrower 23:00-06:00."""
    narrow = quiet(settings, QuietWindow.parse("23:00-06:00"))
    async with connect(narrow, era, clock=at("2026-11-30 01:30")) as client:  # Sunday 20:30 on the east coast
        result = await send(client, FLORIDA)
        sent(await send(client, NEW_YORK))
    assert_nothing_sent(result, sandbox, posts_so_far=1, says="Florida law sets (20:00-08:00)")


@pytest.mark.parametrize("era", ERAS)
async def test_quiet_hours_off_sends_at_night_even_to_texas(sandbox: Sandbox, settings: Settings, era: str) -> None:
    async with connect(quiet(settings, None), era, clock=at("2026-11-29 08:00")) as client:  # 02:00 in Dallas
        allowed = await estimate(client, TEXAS)
        sent(await send(client, TEXAS))
    assert (allowed["blocked_by"], allowed["quiet_until"]) == (None, None)
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_an_estimate_blocked_by_an_earlier_guard_still_says_when_quiet_hours_end(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    blocked_us = quiet(settings).model_copy(update={"blocked_countries": frozenset({"US"})})
    async with connect(blocked_us, era, clock=at("2026-11-30 03:00")) as client:
        blocked = await estimate(client, NEW_YORK)
    assert (blocked["blocked_by"], blocked["quiet_until"]) == ("blocked_country", "2026-11-30T13:00:00Z")
    assert posts(sandbox) == 0
