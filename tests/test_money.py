"""Honest money (CONTRACT section 4, Ledger): prices, charges and balances from the upstream are used only when they
are finite amounts of at least zero, an overcharge refreshes the price list, and no list is older than ten minutes.

The sandbox's `rewrite` fault puts what a broken or hostile upstream could answer (NaN, 1e999, "abc", a missing
field) into its real answers over loopback HTTP; every send test counts the POSTs that reached it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from smsai_mcp.client.api import HttpPool, SmsApi
from smsai_mcp.config import Settings
from smsai_mcp.runtime import SharedPriceList
from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.sms.money import micro
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.sqlite import SqliteStore
from smsai_mcp.state.store import StateStore
from tests.conftest import ERAS, SEND_PATH, assert_matches_output_schema, posts, text_of
from tests.guard_helpers import (
    CA,
    GB,
    US,
    Person,
    assert_nothing_sent,
    balance,
    connect,
    ledger,
    send,
    sent,
    structured,
)

pytestmark = pytest.mark.anyio

COUNTRIES_PATH = "/api/v1/countries"
BALANCE_PATH = "/api/v1/balance"
US_ESTIMATE_MICRO = 10_000  # one GSM-7 segment at 0.0100

# What a broken or hostile upstream can put where an amount belongs, as raw JSON text; None leaves the field out.
NOT_AMOUNTS = {
    "nan": "NaN",
    "infinity": "Infinity",
    "minus_infinity": "-Infinity",
    "negative": "-1",
    "overflowing": "1e999",  # read as infinity
    "text": '"abc"',
    "negative_text": '"-0.5"',
    "null": "null",
    "missing": None,
    "boolean": "true",
    "object": '{"amount": 0.01}',
}
# Finite and at least zero, but beyond any real price or balance (the ledger could not even hold it).
HUGE = "1e300"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def rewrite(
    path: str, field: str, raw: str | None, *, method: str | None = None, times: int | None = None, **where: Any
) -> Fault:
    """A fault putting `raw` in place of `field` in the answers (or rows matching `where`), forever by default."""
    return Fault(method=method, path=path, response="rewrite", rewrite={field: raw}, where=where or None, times=times)


def assert_plain_sentence(result: CallToolResult) -> str:
    """A tool error a person can read: never pydantic's own text, never a number that is not one."""
    text = text_of(result)
    assert result.is_error, text
    for raw in ("validation error", "pydantic", "nan", "inf", "Error executing tool"):
        assert raw not in text.lower().replace("information", ""), text
    return text


class Clock:
    """Wall time that a test can move forward."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


Replicas = Callable[..., PriceCache]


@pytest.fixture(params=["sqlite", "redis"])
async def replicas(request: pytest.FixtureRequest, sandbox_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    """Makes price caches of processes that share one state store, each with its own store client, over real HTTP."""
    from tests.test_state import REDIS_URL, redis_available

    stores: list[StateStore] = []
    prefix = f"smsai-test:{uuid.uuid4().hex}:"
    if request.param == "redis" and not redis_available():
        if os.environ.get("CI"):
            pytest.fail("CI must have Redis on 127.0.0.1:6379")
        pytest.skip("no Redis on 127.0.0.1:6379")
    pool = HttpPool(timeout_seconds=5)
    api = SmsApi(pool, token=SecretStr(SANDBOX_TOKEN), base_url=sandbox_url)

    def make(**options: Any) -> PriceCache:
        if request.param == "sqlite":
            stores.append(SqliteStore(tmp_path / "state.db"))
        else:
            from smsai_mcp.state.redis import RedisStore

            stores.append(RedisStore.from_url(REDIS_URL, prefix=prefix))
        return PriceCache(api.price_list, shared=SharedPriceList(stores[-1]), **options)

    yield make
    if request.param == "redis":
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    for store in stores:
        await store.close()
    await pool.aclose()


# Prices


@pytest.mark.parametrize("raw", [*NOT_AMOUNTS.values(), HUGE], ids=[*NOT_AMOUNTS, "huge"])
async def test_nan_price_row_makes_only_that_country_unavailable(
    settings: Settings, sandbox: Sandbox, era: str, raw: str | None
) -> None:
    sandbox.state.add_fault(rewrite(COUNTRIES_PATH, "price_usd", raw, country_code="CA"))
    async with connect(settings, era) as client:
        estimate = await client.call_tool("estimate_sms", {"to": CA, "body": "Hello"})
        assert "gives no valid price for Canada (CA) right now" in assert_plain_sentence(estimate)
        refused = await send(client, to=CA)
        assert_nothing_sent(refused, sandbox, posts_so_far=0, says="gives no valid price for Canada (CA)")
        assert_plain_sentence(refused)
        assert sent(await send(client, to=US))["estimate"]["country_code"] == "US"
        assert sent(await send(client, to=GB))["estimate"]["unit_price_usd"] == 0.041
        listed = structured(await client.call_tool("list_countries", {}))["countries"]
    assert posts(sandbox) == 2
    codes = {country["country_code"] for country in listed}
    assert "CA" not in codes
    assert {"US", "GB", "JM"} <= codes
    assert len(codes) == 32


async def test_price_row_without_a_code_is_left_out(settings: Settings, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(rewrite(COUNTRIES_PATH, "country_code", None, country_code="CA"))
    async with connect(settings, "auto") as client:
        refused = await send(client, to=CA)
        assert sent(await send(client, to=US))
    assert "does not deliver to CA" in assert_nothing_sent(refused, sandbox, posts_so_far=1)


async def test_price_as_decimal_text_is_the_price(settings: Settings, sandbox: Sandbox) -> None:
    # Laravel's decimal casts serialise prices as text: "0.0100" is a price, "abc" is not.
    sandbox.state.add_fault(rewrite(COUNTRIES_PATH, "price_usd", '"0.0100"', country_code="CA"))
    async with connect(settings, "auto") as client:
        result = sent(await send(client, to=CA))
    assert result["estimate"]["estimated_cost_usd"] == 0.01
    assert posts(sandbox) == 1


# Charges


@pytest.mark.parametrize("raw", list(NOT_AMOUNTS.values()), ids=list(NOT_AMOUNTS))
async def test_negative_charge_books_the_estimate(
    settings: Settings, sandbox: Sandbox, era: str, raw: str | None
) -> None:
    sandbox.state.add_fault(rewrite(SEND_PATH, "price_usd", raw, method="POST"))
    async with connect(settings, era) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await send(client)
        # The message went out, so it is reported as sent; its price is unknown (null), never NaN or -1.
        content = assert_matches_output_schema(tools["send_sms"], result)
        assert content["status"] == "sent"
        assert content["message"]["price_usd"] is None
        assert (await balance(client))["spent_today_usd"] == 0.01
    assert posts(sandbox) == 1
    assert settings.state_dir is not None
    [attempt] = ledger(settings.state_dir)
    assert (attempt["status"], attempt["charged_micro"]) == ("sent", US_ESTIMATE_MICRO)


async def test_charge_as_decimal_text_is_booked_as_charged(settings: Settings, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(rewrite(SEND_PATH, "price_usd", '"0.0100"', method="POST"))
    async with connect(settings, "auto") as client:
        assert sent(await send(client))["message"]["price_usd"] == 0.01
    assert settings.state_dir is not None
    assert ledger(settings.state_dir)[0]["charged_micro"] == US_ESTIMATE_MICRO


async def test_huge_charge_is_booked_and_stops_further_sends(settings: Settings, sandbox: Sandbox, era: str) -> None:
    sandbox.state.add_fault(rewrite(SEND_PATH, "price_usd", HUGE, method="POST"))
    async with connect(settings, era) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        first = await send(client, body="first")
        assert assert_matches_output_schema(tools["send_sms"], first)["message"]["price_usd"] == 1e300
        shown = await balance(client)
        refused = await send(client, body="second")
    # What the upstream said it charged is beyond any budget: booked as the most the ledger holds, so nothing more
    # goes out today until someone looks.
    assert shown["daily_budget_remaining_usd"] == 0
    assert_nothing_sent(refused, sandbox, posts_so_far=1, says="daily budget")


async def test_overcharge_refreshes_prices_before_next_send(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings, era) as client:
        assert sent(await send(client, body="warm up"))
        assert sandbox.state.count("GET", COUNTRIES_PATH) == 1
        sandbox.state.add_fault(rewrite(SEND_PATH, "price_usd", "0.05", method="POST"))
        assert sent(await send(client, body="overcharged"))["message"]["price_usd"] == 0.05
        sandbox.state.clear_faults()
        assert sandbox.state.count("GET", COUNTRIES_PATH) == 1
        assert sent(await send(client, body="next"))
        assert sandbox.state.count("GET", COUNTRIES_PATH) == 2
        assert sent(await send(client, body="and the one after"))
    assert sandbox.state.count("GET", COUNTRIES_PATH) == 2  # refreshed once, not on every send from then on
    assert posts(sandbox) == 4
    assert settings.state_dir is not None
    assert [row["charged_micro"] for row in ledger(settings.state_dir)] == [10_000, 50_000, 10_000, 10_000]


async def test_overcharge_in_one_process_refreshes_prices_in_another_sharing_the_state(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as first, connect(settings, era) as second:
        assert sent(await send(first, body="one"))
        assert sent(await send(second, body="two"))
        assert sandbox.state.count("GET", COUNTRIES_PATH) == 2  # each process has its own copy
        sandbox.state.add_fault(rewrite(SEND_PATH, "price_usd", "0.05", method="POST", times=1))
        assert sent(await send(first, body="overcharged"))
        sandbox.state.clear_faults()
        assert sent(await send(second, body="after"))
    assert sandbox.state.count("GET", COUNTRIES_PATH) == 3
    assert posts(sandbox) == 4


async def test_price_list_older_than_ten_minutes_is_refetched_before_confirmation(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    clock = Clock()
    person = Person()
    server = build_server(settings.model_copy(update={"confirm": "auto"}), clock=clock)
    async with Client(server, mode=era, elicitation_callback=person) as client:
        first = structured(await client.call_tool("estimate_sms", {"to": US, "body": "Hello"}))
        assert first["estimated_cost_usd"] == 0.01
        sandbox.state.add_fault(rewrite(COUNTRIES_PATH, "price_usd", "0.02", country_code="US"))
        clock.offset = 590
        assert structured(await client.call_tool("estimate_sms", {"to": US, "body": "Hello"}))["unit_price_usd"] == 0.01
        clock.offset = 601
        result = sent(await send(client, body="Hello"))
    assert sandbox.state.count("GET", COUNTRIES_PATH) == 2
    assert result["estimate"]["unit_price_usd"] == 0.02
    assert "Estimated cost: $0.0200" in person.questions[-1]
    assert posts(sandbox) == 1


async def test_overcharge_on_one_replica_refreshes_prices_on_the_others(replicas: Replicas, sandbox: Sandbox) -> None:
    first, second = replicas(), replicas()
    await first.get()
    await second.get()
    fetched = sandbox.state.count("GET", COUNTRIES_PATH)
    assert fetched in (1, 2)  # Redis shares one copy; processes on one SQLite file each fetch their own
    await first.forget()  # what the guard does after a charge above the estimate
    assert (await second.get()).by_code["US"].price_usd == 0.01
    assert sandbox.state.count("GET", COUNTRIES_PATH) == fetched + 1
    await first.get()
    assert sandbox.state.count("GET", COUNTRIES_PATH) == fetched + (1 if fetched == 1 else 2)


async def test_shared_price_list_older_than_ten_minutes_is_not_used(replicas: Replicas, sandbox: Sandbox) -> None:
    # A replica with a longer TTL (an older version, or a clock running behind) left a copy that is 11 minutes old.
    await replicas(ttl_seconds=900, clock=Clock(offset=-660)).get()
    fetched = sandbox.state.count("GET", COUNTRIES_PATH)
    prices = await replicas().get()
    assert sandbox.state.count("GET", COUNTRIES_PATH) == fetched + 1
    assert time.time() - prices.fetched_at < 5


async def test_estimates_go_on_from_a_young_price_list_while_the_state_store_is_out_of_reach(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    store = SqliteStore(tmp_path / "state.db")
    pool = HttpPool(timeout_seconds=5)
    api = SmsApi(pool, token=SecretStr(SANDBOX_TOKEN), base_url=sandbox_url)
    prices = PriceCache(api.price_list, shared=SharedPriceList(store))
    await prices.get()
    await store.close()  # nothing can read whether another process forgot the list now
    try:
        assert (await prices.get()).by_code["US"].price_usd == 0.01
    finally:
        await pool.aclose()
    assert sandbox.state.count("GET", COUNTRIES_PATH) == 1


async def test_listed_message_with_a_nan_price_shows_it_as_null(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings, era) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        message_id = sent(await send(client))["message"]["id"]
        sandbox.state.add_fault(rewrite("/api/v1/sms", "price_usd", "NaN"))
        listed = assert_matches_output_schema(tools["list_messages"], await client.call_tool("list_messages", {}))
        sandbox.state.add_fault(rewrite(f"/api/v1/sms/{message_id}", "price_usd", "-1"))
        one = await client.call_tool("get_message", {"id": message_id})
        assert assert_matches_output_schema(tools["get_message"], one)["price_usd"] is None
    assert [message["price_usd"] for message in listed["messages"]] == [None]
    assert posts(sandbox) == 1


# Balances


@pytest.mark.parametrize("raw", [*NOT_AMOUNTS.values(), HUGE], ids=[*NOT_AMOUNTS, "huge"])
async def test_invalid_balance_is_never_shown_as_a_number(
    settings: Settings, sandbox: Sandbox, raw: str | None
) -> None:
    sandbox.state.add_fault(rewrite(BALANCE_PATH, "credits_usd", raw))
    async with connect(settings, "auto") as client:
        result = await client.call_tool("check_balance", {})
    assert "did not give a valid balance" in assert_plain_sentence(result)


async def test_invalid_balance_is_left_out_of_the_confirmation_question(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    person = Person()
    sandbox.state.add_fault(rewrite(BALANCE_PATH, "credits_usd", "NaN"))
    async with connect(settings.model_copy(update={"confirm": "auto"}), era, person) as client:
        assert sent(await send(client))
    [question] = set(person.questions)
    assert "Estimated cost: $0.0100" in question
    assert "Balance" not in question
    assert "nan" not in question.lower()
    assert posts(sandbox) == 1


async def test_balance_as_decimal_text_is_the_balance(settings: Settings, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(rewrite(BALANCE_PATH, "credits_usd", '"12.500000"'))
    async with connect(settings, "auto") as client:
        assert (await balance(client))["credits_usd"] == 12.5


def test_ledger_micro_dollars_hold_the_largest_booked_charge() -> None:
    from smsai_mcp.client.amounts import LARGEST_USD

    assert micro(LARGEST_USD) < 2**63 - 1
    assert micro(Decimal("0.01")) == US_ESTIMATE_MICRO
