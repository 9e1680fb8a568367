"""Work that must not happen per call: a steady-state send is one upstream request besides the balance each
confirmation question reads, a read tool one at most."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server

pytestmark = pytest.mark.anyio


async def accept(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


@pytest.mark.parametrize("era", ["legacy", "auto"])
@pytest.mark.parametrize("confirm", ["off", "auto"])
async def test_steady_state_send_is_one_post_and_a_balance_read_per_question(
    settings: Settings, sandbox: Sandbox, era: str, confirm: str
) -> None:
    server = build_server(settings.model_copy(update={"confirm": confirm}))
    async with Client(server, mode=era, elicitation_callback=accept) as client:
        for n in range(3):  # the first send warms the price list and the balance
            before = len(sandbox.state.requests)
            result = await client.call_tool("send_sms", {"to": "+12025551234", "body": f"steady {n}"})
            assert not result.is_error
            made = [(r.method, r.path) for r in sandbox.state.requests[before:]]
            # CONTRACT section 4 wants the question's balance read for it, not from a cache: one read each time the
            # question is rendered (once in 2025-11-25; on both rounds in 2026-07-28, where the SDK renders it
            # again to match the answer to it). Nothing else but the POST.
            questions = 0 if confirm == "off" else 1 if era == "legacy" else 2
            if n > 0:
                assert made == [("GET", "/api/v1/balance")] * questions + [("POST", "/api/v1/sms/send")]


async def test_estimates_and_country_lists_reuse_the_price_list(settings: Settings, sandbox: Sandbox) -> None:
    async with Client(build_server(settings), mode="auto") as client:
        for n in range(5):
            await client.call_tool("estimate_sms", {"to": "+14165550123", "body": f"estimate {n}"})
            await client.call_tool("list_countries", {})
    assert sandbox.state.count("GET", "/api/v1/countries") == 1
    assert len(sandbox.state.requests) == 1
