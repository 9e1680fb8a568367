"""Quiet hours in the installed server as hosts run it (a stdio child process), under a system clock fixed by
libfaketime: the default SMSAI_QUIET_HOURS refuses a New York number before dawn and lets a London one through."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from tests.conftest import ERAS, posts, text_of
from tests.processes import SERVER, server_env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # starts the server as a process

FAKETIME = shutil.which("faketime")
needs_faketime = pytest.mark.skipif(
    FAKETIME is None and not os.environ.get("CI"), reason="no faketime (Debian: apt-get install faketime)"
)


@needs_faketime
@pytest.mark.parametrize("era", ERAS)
async def test_the_default_quiet_hours_hold_in_a_server_process_whose_clock_says_five_in_new_york(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    assert FAKETIME is not None
    env = server_env(
        {
            "SMSAI_API_TOKEN": SANDBOX_TOKEN,
            "SMSAI_BASE_URL": sandbox_url,
            "SMSAI_CONFIRM": "off",
            "SMSAI_STATE_DIR": str(tmp_path / "state"),
            "TZ": "UTC",  # faketime reads the time below in the process's zone
        }
    )
    del env["SMSAI_QUIET_HOURS"]  # the product's default, 21:00-08:00
    # "@" starts the clock there and lets it run: Monday 05:00 in New York, 10:00 in London.
    params = StdioServerParameters(command=FAKETIME, args=["-f", "@2026-11-30 10:00:00", *SERVER], env=env)
    with (tmp_path / "stderr.log").open("w") as stderr:
        async with Client(stdio_client(params, errlog=stderr), mode=era) as client:
            night = await client.call_tool("send_sms", {"to": "+12125550123", "body": "before dawn"})
            estimate = await client.call_tool("estimate_sms", {"to": "+12125550123", "body": "before dawn"})
            day = await client.call_tool("send_sms", {"to": "+447400123456", "body": "mid-morning"})
    assert night.is_error
    assert text_of(night).startswith("Nothing was sent. It is 05:0")
    assert "Sending opens at 08:00 (Monday) their time (2026-11-30 13:00 UTC)" in text_of(night)
    assert estimate.structured_content is not None
    assert estimate.structured_content["blocked_by"] == "quiet_hours"
    assert estimate.structured_content["quiet_until"] == "2026-11-30T13:00:00Z"
    assert not day.is_error, text_of(day)
    assert posts(sandbox) == 1  # London's only
