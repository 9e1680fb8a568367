"""An upstream that answers in shapes our sandbox does not use, but a faithful API may: numbers where text is
expected, 201 on send, a send answer that leaves fields out, a list without message texts, an HTML error page."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Fault, Sandbox
from smsai_mcp.server import build_server
from tests.conftest import SEND_PATH, assert_matches_output_schema, posts, text_of

pytestmark = pytest.mark.anyio

LIST_PATH = "/api/v1/sms"


async def call(settings: Settings, tool: str, arguments: dict[str, Any]) -> Any:
    async with Client(build_server(settings), mode="auto") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool(tool, arguments)
        return result, tools[tool]


async def test_send_answer_with_numbers_for_text_and_201_is_read_as_sent(settings: Settings, sandbox: Sandbox) -> None:
    body = {"id": "77", "status": "sent", "price_usd": "0.0100", "nvia_message_id": 987654, "created_at": 1732540000}
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=201, body=body))
    result, tool = await call(settings, "send_sms", {"to": "+12025551234", "body": "hi"})
    sent = assert_matches_output_schema(tool, result)
    assert sent["message"]["id"] == 77
    assert sent["message"]["nvia_message_id"] == "987654"
    assert sent["message"]["price_usd"] == 0.01
    assert posts(sandbox) == 1


async def test_send_answer_with_only_an_id_is_read_as_sent(settings: Settings, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=200, body={"id": 5}))
    result, tool = await call(settings, "send_sms", {"to": "+12025551234", "body": "hi"})
    sent = assert_matches_output_schema(tool, result)
    assert (sent["status"], sent["message"]["id"], sent["message"]["to"]) == ("sent", 5, "+12025551234")


async def test_unknown_outcome_advises_no_retry(settings: Settings, sandbox: Sandbox) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="html", status=502))
    result, _ = await call(settings, "send_sms", {"to": "+12025551234", "body": "hi"})
    text = text_of(result)
    assert result.is_error
    assert "must not be retried" in text
    assert "Try again" not in text
    assert "<" not in text
    assert "502" in text


async def test_lost_send_is_found_even_when_the_list_leaves_texts_out(settings: Settings, sandbox: Sandbox) -> None:
    """GET /sms without bodies: the lookup asks GET /sms/{id} for the text before it decides."""
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="drop", process=True))
    listing = {
        "data": [{"id": 1, "to": "+12025551234", "status": "sent", "price_usd": 0.01}],
        "links": {"next": None},
        "meta": {"current_page": 1, "last_page": 1, "per_page": 15, "total": 1},
    }
    sandbox.state.add_fault(Fault(method="GET", path=LIST_PATH, response="status", status=200, body=listing))
    result, tool = await call(settings, "send_sms", {"to": "+12025551234", "body": "the list has no text"})
    sent = assert_matches_output_schema(tool, result)
    assert sent["message"]["id"] == 1
    assert sandbox.state.count("GET", "/api/v1/sms/1") == 1
    assert posts(sandbox) == 1


async def test_error_page_with_json_but_no_json_label_keeps_its_message(settings: Settings, sandbox: Sandbox) -> None:
    fault = Fault(
        method="POST",
        path=SEND_PATH,
        response="status",
        status=403,
        body={"message": "Spending limit reached for this token."},
        headers={"Content-Type": "text/html"},
    )
    sandbox.state.add_fault(fault)
    result, _ = await call(settings, "send_sms", {"to": "+12025551234", "body": "hi"})
    assert text_of(result).startswith("Nothing was sent.")
    assert "Spending limit reached" in text_of(result)


@pytest.mark.parametrize(
    ("query", "codes"),
    [("+7", {"KZ", "RU"}), ("+1", {"US", "CA", "JM"}), ("+44", {"GB"}), ("ca", {"CA", "JM", "ZA"}), ("US", {"US"})],
)
async def test_list_countries_matches_dial_codes_from_their_start(
    settings: Settings, sandbox: Sandbox, query: str, codes: set[str]
) -> None:
    result, tool = await call(settings, "list_countries", {"query": query})
    found = {c["country_code"] for c in assert_matches_output_schema(tool, result)["countries"]}
    if query.startswith("+"):
        assert found == codes
    else:
        assert codes <= found


@pytest.mark.parametrize("number", ["+19005551234", "+4918012345"])
async def test_estimate_refuses_premium_and_shared_cost_numbers(
    settings: Settings, sandbox: Sandbox, number: str
) -> None:
    result, _ = await call(settings, "estimate_sms", {"to": number, "body": "hi"})
    assert result.is_error
    assert "premium-rate" in text_of(result) or "shared-cost" in text_of(result)


async def test_guernsey_number_is_priced_as_the_uk_when_only_gb_is_listed(settings: Settings, sandbox: Sandbox) -> None:
    result, tool = await call(settings, "estimate_sms", {"to": "+447911123456", "body": "hi"})
    estimate = assert_matches_output_schema(tool, result)
    assert (estimate["country_code"], estimate["country_name"]) == ("GG", "Guernsey")  # shown as itself
    assert estimate["unit_price_usd"] == 0.041  # the sandbox's GB row
