"""The first tool call of a process is cheap: the argument validators are built in the background once
`tools/list` is answered, not on the call path."""

from __future__ import annotations

import time

import anyio
import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.server.arguments import ArgumentCheck
from tests.conftest import ERAS, posts

pytestmark = pytest.mark.anyio


def _argument_check(server: object) -> ArgumentCheck:
    return next(m for m in getattr(server, "middleware") if isinstance(m, ArgumentCheck))  # noqa: B009


async def _until_ready(check: ArgumentCheck, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check.ready and time.monotonic() < deadline:  # noqa: ASYNC110 - the server offers no event
        await anyio.sleep(0.01)


@pytest.mark.parametrize("era", ERAS)
async def test_validators_are_built_in_the_background_after_tools_list(era: str, settings: Settings) -> None:
    server = build_server(settings)
    check = _argument_check(server)
    async with Client(server, mode=era) as client:
        assert not check.ready  # nothing built at start
        await client.list_tools()
        await _until_ready(check)
        assert check.ready  # built with no tool call made
        result = await client.call_tool("check_balance", {})
        assert not result.is_error


@pytest.mark.parametrize("era", ERAS)
async def test_a_call_right_after_tools_list_is_still_checked(era: str, settings: Settings, sandbox: Sandbox) -> None:
    async with Client(build_server(settings), mode=era) as client:
        await client.list_tools()
        result = await client.call_tool("send_sms", {"to": "+12025551234\n", "body": "Hello"})
    assert result.is_error
    assert "Nothing was sent" in result.content[0].text  # type: ignore[union-attr]
    assert "`to`" in result.content[0].text  # type: ignore[union-attr]
    assert posts(sandbox) == 0
