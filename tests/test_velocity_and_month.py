"""Recipient velocity and the monthly budget (CONTRACT section 4), through a real MCP client in both eras:
each refuses before any POST, estimate_sms names it in blocked_by, and the store's atomic re-check holds
under 50 concurrent sends on SQLite and on Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant
from tests.conftest import ERAS, posts
from tests.guard_helpers import CA, GB, US, assert_nothing_sent, balance, connect, send, sent, structured
from tests.test_guard_concurrency import all_at_once, assert_refusals, split
from tests.test_state import REDIS_URL, redis_available

pytestmark = pytest.mark.anyio


async def estimate(client: Client, to: str) -> dict[str, object]:
    return structured(await client.call_tool("estimate_sms", {"to": to, "body": "Hello from the guard tests"}))


@pytest.mark.parametrize("era", ERAS)
async def test_a_new_number_past_the_recipients_per_hour_is_refused_with_no_post(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"max_recipients_per_hour": 2})
    async with connect(settings, era) as client:
        sent(await send(client, to=US))
        sent(await send(client, to=CA))
        text = assert_nothing_sent(
            await send(client, to=GB), sandbox, posts_so_far=2, says="SMSAI_MAX_RECIPIENTS_PER_HOUR"
        )
        assert "2 different numbers have been texted in the past hour" in text, text
        blocked = await estimate(client, GB)
        assert (blocked["blocked_by"], blocked["blocked_reason"]) == (
            "recipients_per_hour",
            text.removeprefix("Nothing was sent. "),
        )
        assert (await estimate(client, US))["blocked_by"] is None  # already texted this hour: not one more number
        sent(await send(client, to=US, body="Texted again within the hour"))
    assert posts(sandbox) == 3


@pytest.mark.parametrize("era", ERAS)
async def test_a_third_number_of_one_block_of_100_is_refused_with_no_post(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"max_per_number_block_per_hour": 2})
    async with connect(settings, era) as client:
        sent(await send(client, to="+12025550101"))
        sent(await send(client, to="+12025550177"))
        refused = await send(client, to="+12025550149")
        text = assert_nothing_sent(refused, sandbox, posts_so_far=2, says="SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR")
        assert "+120255501xx" in text, text
        assert "SMS-pumping fraud" in text, text
        assert (await estimate(client, "+12025550149"))["blocked_by"] == "number_block"
        sent(await send(client, to="+12025550201"))  # the next block
    assert posts(sandbox) == 3


@pytest.mark.parametrize("era", ERAS)
async def test_a_send_past_the_monthly_budget_is_refused_with_no_post(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"monthly_budget_usd": Decimal("0.015")})  # one US message at 0.01
    async with connect(settings, era) as client:
        sent(await send(client))
        refused = await send(client, body="One too many this month")
        text = assert_nothing_sent(refused, sandbox, posts_so_far=1, says="SMSAI_MONTHLY_BUDGET_USD")
        assert "$0.0100 is already spent or reserved this UTC month, $0.0050 is left" in text, text
        assert (await estimate(client, US))["blocked_by"] == "monthly_budget"
        shown = await balance(client)
    assert shown["monthly_budget_usd"] == 0.015
    assert shown["spent_this_month_usd"] == 0.01
    assert shown["monthly_budget_remaining_usd"] == 0.005
    assert posts(sandbox) == 1


async def test_check_balance_says_null_for_the_monthly_budget_without_a_cap(settings: Settings) -> None:
    async with connect(settings, "auto") as client:
        sent(await send(client))
        shown = await balance(client)
    assert shown["monthly_budget_usd"] is None
    assert shown["monthly_budget_remaining_usd"] is None
    assert shown["spent_this_month_usd"] == 0.01


@pytest.fixture(params=["sqlite", "redis"])
async def velocity_settings(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[tuple[Settings, str]]:
    """Settings with at most 10 recipients an hour, and the tenant name whose store they use (Redis keys of
    this test's own)."""
    limited = settings.model_copy(update={"max_recipients_per_hour": 10})
    name = f"t{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        yield limited, name
        return
    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    from pydantic import SecretStr

    yield limited.model_copy(update={"state_url": SecretStr(REDIS_URL)}), name
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"smsai:{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_fifty_concurrent_sends_to_fifty_numbers_send_exactly_the_recipients_limit(
    velocity_settings: tuple[Settings, str], sandbox: Sandbox
) -> None:
    limited, name = velocity_settings
    server = build_server(limited, tenants={DEFAULT_TENANT: Tenant(name, (), limited)})
    numbers = [f"+1202555{n:04d}" for n in range(100, 150)]
    async with Client(server, mode="legacy") as client:
        results = await all_at_once([lambda to=to: send(client, to=to) for to in numbers])  # type: ignore[misc]
    went, refused = split(results)
    assert len(went) == 10
    assert len(refused) == 40
    assert_refusals(refused, "SMSAI_MAX_RECIPIENTS_PER_HOUR")
    assert posts(sandbox) == 10
