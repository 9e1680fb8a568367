"""What the per-call shortcuts of an HTTP tool call keep: the server's identity on every 2026-07-28 answer, fresh each
time; and a balance read straight from the answer's bytes exactly as from its parsed JSON."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from smsai_mcp.client.models import Balance
from smsai_mcp.config import Settings
from smsai_mcp.server import build_server

pytestmark = pytest.mark.anyio

SERVER_INFO = "io.modelcontextprotocol/serverInfo"


async def test_every_2026_answer_carries_a_fresh_copy_of_the_server_identity(settings: Settings) -> None:
    server = build_server(settings)
    identity = server._lowlevel_server.server_info.model_dump(by_alias=True, mode="json", exclude_none=True)
    async with Client(server, mode="auto") as client:
        first = await client.call_tool("check_balance", {})
        assert first.meta is not None
        stamped = first.meta[SERVER_INFO]
        assert stamped == identity
        assert stamped["icons"][0]["src"].startswith("data:image/svg+xml;base64,")
        second = await client.call_tool("check_balance", {})
    assert second.meta is not None
    assert second.meta[SERVER_INFO] == identity


def test_a_stamp_shares_nothing_with_the_next(settings: Settings) -> None:
    server = build_server(settings)._lowlevel_server
    identity = server.server_info.model_dump(by_alias=True, mode="json", exclude_none=True)
    first = server.server_info_stamp
    assert type(first) is dict
    first["icons"][0]["sizes"].append("changed by a caller")  # a caller owns what it was given
    first["icons"].append({"src": "changed"})
    first["name"] = "changed"
    assert server.server_info_stamp == identity


async def test_legacy_answers_carry_no_server_identity(settings: Settings) -> None:
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.call_tool("check_balance", {})
    assert SERVER_INFO not in (result.meta or {})


@pytest.mark.parametrize(
    "raw", ["1000000.0", "0", "5", "12.5", '"12.500000"', '" 3.25 "', "1e12", "0.1", "123456.789012", "1e-7"]
)
def test_a_balance_read_from_bytes_is_the_one_read_from_parsed_json(raw: str) -> None:
    body = f'{{"credits_usd": {raw}, "currency": "USD"}}'.encode()
    assert Balance.model_validate_json(body) == Balance.model_validate(json.loads(body))
