"""The six tools through a real MCP client, in memory, in both protocol eras, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server
from tests.conftest import ERAS, assert_matches_output_schema, posts, text_of

pytestmark = pytest.mark.anyio

READ_TOOLS = {"estimate_sms", "check_balance", "list_countries", "get_message", "list_messages", "list_opt_outs"}
OPT_OUT_WRITERS = {"add_opt_out", "remove_opt_out"}  # offered when read-only too: they send nothing


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(settings: Settings, era: str) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=era) as connected:
        yield connected


async def tools_by_name(client: Client) -> dict[str, Tool]:
    return {tool.name: tool for tool in (await client.list_tools()).tools}


async def call_ok(client: Client, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(name, arguments or {})
    return assert_matches_output_schema((await tools_by_name(client))[name], result)


async def test_lists_the_contract_tools_with_schemas_and_annotations(client: Client) -> None:
    tools = await tools_by_name(client)
    assert set(tools) == READ_TOOLS | OPT_OUT_WRITERS | {"send_sms", "send_sms_batch"}
    for name, tool in tools.items():
        assert tool.description, name
        assert tool.output_schema is not None, name
        assert tool.annotations is not None, name
        for argument, schema in tool.input_schema.get("properties", {}).items():
            assert schema.get("description"), f"{name}.{argument} has no description"
    for name in READ_TOOLS:
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
    for sending in ("send_sms", "send_sms_batch"):
        send = tools[sending].annotations
        assert send is not None
        assert (send.read_only_hint, send.destructive_hint, send.idempotent_hint, send.open_world_hint) == (
            False,
            True,
            False,
            True,
        )
    assert set(tools["send_sms"].input_schema["properties"]) == {
        "to",
        "body",
        "sender_id",
        "idempotency_key",
        "confirmation_token",
    }
    assert tools["send_sms"].input_schema["required"] == ["to", "body"]


async def test_send_sms_sends_once_and_returns_the_message(client: Client, sandbox: Sandbox) -> None:
    result = await call_ok(
        client, "send_sms", {"to": "+14165550123", "body": "Hello from the tests", "sender_id": "Acme"}
    )
    assert result["status"] == "sent"
    assert result["estimate"]["country_code"] == "CA"
    assert result["message"]["to"] == "+14165550123"
    assert result["message"]["status"] == "sent"
    assert "confirmation_token" not in result
    assert posts(sandbox) == 1


async def test_send_sms_normalises_a_formatted_number(client: Client, sandbox: Sandbox) -> None:
    result = await call_ok(client, "send_sms", {"to": "+1 (416) 555-0123", "body": "hi"})
    assert result["estimate"]["to"] == "+14165550123"
    assert sandbox.state.messages[-1].to == "+14165550123"
    assert posts(sandbox) == 1


async def test_estimate_counts_segments_and_prices_per_segment(client: Client, sandbox: Sandbox) -> None:
    estimate = await call_ok(client, "estimate_sms", {"to": "+12025551234", "body": "a" * 161})
    assert estimate["encoding"] == "GSM-7"
    assert estimate["segments"] == 2
    assert estimate["characters"] == 161
    assert estimate["non_gsm_characters"] == []
    assert Decimal(str(estimate["estimated_cost_usd"])) == Decimal(str(estimate["unit_price_usd"])) * 2
    assert posts(sandbox) == 0


async def test_estimate_names_the_characters_that_force_ucs2(client: Client) -> None:
    estimate = await call_ok(client, "estimate_sms", {"to": "+447400123456", "body": "Café ☕ at 5?"})
    assert estimate["encoding"] == "UCS-2"
    assert estimate["non_gsm_characters"] == ["☕"]
    assert estimate["country_code"] == "GB"


async def test_kingston_number_is_priced_as_jamaica_not_us(client: Client) -> None:
    jamaica = await call_ok(client, "estimate_sms", {"to": "+18765550123", "body": "hi"})
    us = await call_ok(client, "estimate_sms", {"to": "+12025551234", "body": "hi"})
    assert jamaica["country_code"] == "JM"
    assert us["country_code"] == "US"


async def test_check_balance_reports_credits_and_budget(client: Client, settings: Settings) -> None:
    balance = await call_ok(client, "check_balance")
    assert balance["credits_usd"] > 0
    assert balance["daily_budget_usd"] == float(settings.daily_budget_usd)
    assert balance["max_cost_per_message_usd"] == float(settings.max_cost_per_message_usd)
    assert balance["daily_budget_remaining_usd"] == balance["daily_budget_usd"] - balance["spent_today_usd"]


async def test_check_balance_falls_after_a_send(client: Client) -> None:
    before = await call_ok(client, "check_balance")
    sent = await call_ok(client, "send_sms", {"to": "+12025551234", "body": "hi"})
    after = await call_ok(client, "check_balance")
    assert after["credits_usd"] == pytest.approx(before["credits_usd"] - sent["message"]["price_usd"])


async def test_list_countries_filters_by_code_name_and_dial_code(client: Client) -> None:
    everything = (await call_ok(client, "list_countries"))["countries"]
    assert len(everything) > 10
    assert {c["country_code"] for c in (await call_ok(client, "list_countries", {"query": "ca"}))["countries"]} >= {
        "CA"
    }
    jamaica = (await call_ok(client, "list_countries", {"query": "jamai"}))["countries"]
    assert [c["country_code"] for c in jamaica] == ["JM"]
    uk = (await call_ok(client, "list_countries", {"query": "+44"}))["countries"]
    assert "GB" in {c["country_code"] for c in uk}


async def test_get_message_and_list_messages_show_sent_messages(client: Client) -> None:
    sent = await call_ok(client, "send_sms", {"to": "+12025551234", "body": "first"})
    message_id = sent["message"]["id"]
    fetched = await call_ok(client, "get_message", {"id": message_id})
    assert fetched["id"] == message_id
    assert fetched["to"] == "+12025551234"
    listed = await call_ok(client, "list_messages")
    assert listed["total"] == 1
    assert listed["messages"][0]["id"] == message_id
    assert listed["has_more"] is False
    assert (await call_ok(client, "list_messages", {"status": "failed"}))["total"] == 0


async def test_list_messages_pages(client: Client, sandbox: Sandbox) -> None:
    for n in range(17):
        await call_ok(client, "send_sms", {"to": "+12025551234", "body": f"message {n}"})
    first = await call_ok(client, "list_messages", {"page": 1})
    second = await call_ok(client, "list_messages", {"page": 2})
    assert (first["total"], first["last_page"], first["has_more"]) == (17, 2, True)
    assert len(first["messages"]) == first["per_page"]
    assert second["has_more"] is False
    assert len(first["messages"]) + len(second["messages"]) == 17
    assert posts(sandbox) == 17


async def test_get_message_unknown_id_says_how_to_find_one(client: Client) -> None:
    result = await client.call_tool("get_message", {"id": 999_999})
    assert result.is_error
    assert "list_messages" in text_of(result)


INVALID_SENDS = [
    pytest.param({"to": "12025551234", "body": "hi"}, "to", id="missing-plus"),
    pytest.param({"to": "+1202", "body": "hi"}, "to", id="too-short"),
    pytest.param({"to": "+15555550100", "body": "hi"}, "not a valid", id="invalid-for-every-region"),
    pytest.param({"to": "+8613812345678", "body": "hi"}, "list_countries", id="country-not-listed"),
    pytest.param({"to": "call me", "body": "hi"}, "to", id="letters"),
    pytest.param({"to": 12025551234, "body": "hi"}, "to", id="number-not-string"),
    pytest.param({"to": "+12025551234", "body": ""}, "body", id="empty-body"),
    pytest.param({"to": "+12025551234", "body": "   "}, "blank", id="blank-body"),
    pytest.param({"to": "+12025551234", "body": "x" * 1601}, "body", id="1601-characters"),
    pytest.param({"to": "+12025551234"}, "body", id="body-missing"),
    pytest.param({"to": "+12025551234", "body": "hi", "sender_id": "123"}, "sender_id", id="sender-digits-only"),
    pytest.param({"to": "+12025551234", "body": "hi", "sender_id": "TwelveChars1"}, "sender_id", id="sender-12"),
    pytest.param({"to": "+12025551234", "body": "hi", "sender_id": "Ac-me"}, "sender_id", id="sender-punctuation"),
    pytest.param({"to": "+12025551234", "body": "hi", "sender_id": ""}, "sender_id", id="sender-empty"),
    pytest.param({"to": "+12025551234", "body": "hi", "idempotency_key": ""}, "idempotency_key", id="empty-key"),
    pytest.param({"to": None, "body": "hi"}, "to", id="null-number"),
    pytest.param({"to": "+12025551234", "body": {"text": "hi"}}, "body", id="object-body"),
]


@pytest.mark.parametrize(("arguments", "named"), INVALID_SENDS)
async def test_invalid_send_is_refused_with_zero_posts(
    client: Client, sandbox: Sandbox, arguments: dict[str, Any], named: str
) -> None:
    result = await client.call_tool("send_sms", arguments)
    assert result.is_error
    text = text_of(result)
    assert text.startswith("Nothing was sent."), text
    assert named in text
    assert "Error executing tool" not in text
    assert "validation error" not in text  # pydantic's report is not for the model
    assert posts(sandbox) == 0


INVALID_READS = [
    pytest.param("get_message", {"id": "abc"}, "id", id="id-text"),
    pytest.param("get_message", {"id": 0}, "id", id="id-zero"),
    pytest.param("get_message", {}, "id", id="id-missing"),
    pytest.param("list_messages", {"status": "queued"}, "status", id="unknown-status"),
    pytest.param("list_messages", {"page": 0}, "page", id="page-zero"),
    pytest.param("list_messages", {"page": "two"}, "page", id="page-text"),
    pytest.param("estimate_sms", {"to": "+12025551234", "body": "x" * 1601}, "body", id="estimate-1601"),
    pytest.param("list_countries", {"query": "x" * 65}, "query", id="query-too-long"),
]


@pytest.mark.parametrize(("tool", "arguments", "named"), INVALID_READS)
async def test_invalid_read_arguments_are_refused_in_a_sentence(
    client: Client, sandbox: Sandbox, tool: str, arguments: dict[str, Any], named: str
) -> None:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = text_of(result)
    assert f"`{named}`" in text, text
    assert "Error executing tool" not in text
    assert posts(sandbox) == 0


async def test_read_only_mode_does_not_offer_send_sms(settings: Settings, era: str) -> None:
    async with Client(build_server(settings.model_copy(update={"read_only": True})), mode=era) as client:
        assert set(await tools_by_name(client)) == READ_TOOLS | OPT_OUT_WRITERS


async def test_without_a_token_every_tool_says_how_to_set_one(settings: Settings, era: str, sandbox: Sandbox) -> None:
    async with Client(build_server(settings.model_copy(update={"api_token": None})), mode=era) as client:
        for name, arguments in [("check_balance", {}), ("send_sms", {"to": "+12025551234", "body": "hi"})]:
            result = await client.call_tool(name, arguments)
            assert result.is_error
            assert "SMSAI_API_TOKEN" in text_of(result)
            if name == "send_sms":
                assert text_of(result).startswith("Nothing was sent.")
    assert posts(sandbox) == 0
