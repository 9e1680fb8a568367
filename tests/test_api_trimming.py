"""Identical means identical as the API keeps it: Laravel trims every input string (TrimStrings, Unicode
spaces and invisible characters included), so duplicates, idempotency and lookups compare trimmed text.

Through a real MCP client in both protocol eras, counting the POSTs that reached the sandbox over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from tests.conftest import ERAS, SEND_PATH, posts
from tests.guard_helpers import connect, ledger, send, sent, structured

pytestmark = pytest.mark.anyio

NBSP, IDEOGRAPHIC_SPACE, ZERO_WIDTH_SPACE, BOM = "\u00a0", "\u3000", "\u200b", "\ufeff"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(f"Running late{NBSP}", id="trailing-no-break-space"),
        pytest.param(f"{IDEOGRAPHIC_SPACE}Running late", id="leading-ideographic-space"),
        pytest.param(f"Running late{ZERO_WIDTH_SPACE}", id="trailing-zero-width-space"),
        pytest.param(f"{BOM}Running late", id="leading-bom"),
    ],
)
async def test_unicode_space_the_api_trims_does_not_slip_past_the_duplicate_window(
    settings: Settings, sandbox: Sandbox, era: str, variant: str
) -> None:
    async with connect(settings, era) as client:
        first = sent(await send(client, body="Running late"))
        duplicate = structured(await send(client, body=variant))
    assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", first["message"]["id"])
    assert [message.body for message in sandbox.state.messages] == ["Running late"]
    assert posts(sandbox) == 1


async def test_sender_id_the_api_trims_does_not_slip_past_the_duplicate_window(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        first = sent(await send(client, body="Running late", sender_id="Acme"))
        duplicate = structured(await send(client, body="Running late", sender_id=" Acme "))
    assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", first["message"]["id"])
    assert [message.sender_id for message in sandbox.state.messages] == ["Acme"]
    assert posts(sandbox) == 1


async def test_an_idempotency_key_retry_with_text_the_api_trims_gets_the_first_answer(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings.model_copy(update={"duplicate_window_seconds": 0}), era) as client:
        first = sent(await send(client, body="Order 42 shipped", idempotency_key="order-42"))
        again = sent(await send(client, body=f"Order 42 shipped{IDEOGRAPHIC_SPACE}", idempotency_key="order-42"))
    assert again["message"]["id"] == first["message"]["id"]
    assert posts(sandbox) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"Gate code 4821{NBSP}", id="trailing-no-break-space"),
        pytest.param(f"{IDEOGRAPHIC_SPACE}Gate code 4821", id="leading-ideographic-space"),
    ],
)
async def test_lost_answer_for_a_text_the_api_trimmed_differently_is_found_not_left_unknown(
    settings: Settings, sandbox: Sandbox, era: str, body: str
) -> None:
    """The lookup after a lost answer compares the text as the API stored it, so it finds the message."""
    fault: dict[str, Any] = {"response": "drop", "process": True}
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, **fault))
    async with connect(settings, era) as client:
        result = sent(await send(client, body=body))
    [message] = sandbox.state.messages
    assert message.body == "Gate code 4821"
    assert result["message"]["id"] == message.id
    assert settings.state_dir is not None
    [attempt] = ledger(settings.state_dir)
    assert (attempt["status"], attempt["message_id"]) == ("sent", message.id)
    assert posts(sandbox) == 1
