"""A bounded soak: every tool, mixed, against a sandbox that misbehaves at random (slow answers, 5xx, lost
responses, 429, HTML pages). At the end no message went out twice, the ledger equals what the upstream
charged once every open reservation is reconciled, and the token appears in no output or log.

CI runs it for a few seconds; `SMSAI_SOAK_SECONDS=300 pytest tests/test_soak.py` is the long soak.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from smsai_mcp.client.api import SmsApi, create_http_client
from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.guard.confirm import ConfirmationTokens
from smsai_mcp.guard.pipeline import SendGuard, micro, utc_day
from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.sqlite import SqliteStore
from tests.conftest import SEND_PATH, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SECONDS = float(os.environ.get("SMSAI_SOAK_SECONDS", "8"))
WORKERS = 6
SEND_FAULTS = [
    Fault(method="POST", path=SEND_PATH, status=500),  # refused before the gateway: nothing went out
    Fault(method="POST", path=SEND_PATH, status=502, process=True),  # went out, then the proxy failed
    Fault(method="POST", path=SEND_PATH, response="drop", process=True),  # went out, the answer was lost
    Fault(method="POST", path=SEND_PATH, response="drop"),  # the connection broke before anything happened
    Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.2),  # slow but fine
    Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=1.5),  # past the timeout, then sent
    Fault(method="POST", path=SEND_PATH, status=429, headers={"Retry-After": "1"}),
]
READ_FAULTS = [
    Fault(path="/api/v1/balance", status=429, headers={"Retry-After": "0"}),
    Fault(path="/api/v1/sms", status=503),
    Fault(path="/api/v1/sms", response="html", status=502),
    Fault(path="/api/v1/balance", response="malformed"),
    Fault(path="/api/v1/countries", response="normal", delay_seconds=0.3),
]


@pytest.fixture
def unthrottled(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The soak makes more calls a minute than the sandbox's rate limit; 429s come from injected faults instead."""
    limit = sandbox.config.rate_limit_per_minute
    sandbox.config.rate_limit_per_minute = 10**9
    sandbox.state.reset()
    yield sandbox
    sandbox.config.rate_limit_per_minute = limit
    sandbox.state.reset()


async def test_soak_mixed_tools_with_faults_keeps_every_promise(
    settings: Settings, unthrottled: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = unthrottled
    caplog.set_level(logging.DEBUG)
    soak = settings.model_copy(
        update={"timeout_seconds": 1.0, "daily_budget_usd": Decimal("1000"), "duplicate_window_seconds": 0}
    )
    rng = random.Random(20261125)
    outputs: list[str] = []
    outcomes: Counter[str] = Counter()
    counter = iter(range(10**9))

    async def worker(client: Client) -> None:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            roll = rng.random()
            if roll < 0.15:
                sandbox.state.add_fault(rng.choice(SEND_FAULTS))
            elif roll < 0.25:
                sandbox.state.add_fault(rng.choice(READ_FAULTS))
            tool, arguments = rng.choice(
                [
                    ("send_sms", {"to": "+12025551234", "body": f"soak message {next(counter)}"}),
                    ("send_sms", {"to": "+14165550123", "body": f"soak message {next(counter)}"}),
                    ("estimate_sms", {"to": "+447400123456", "body": "soak ☕"}),
                    ("check_balance", {}),
                    ("list_countries", {"query": "a"}),
                    ("list_messages", {"page": 1}),
                    ("get_message", {"id": rng.randint(1, 50)}),
                ]
            )
            result = await client.call_tool(tool, arguments)
            text = text_of(result)
            outputs.append(text)
            assert "Error executing tool" not in text
            if tool == "send_sms":
                outcomes["sent" if not result.is_error else text[:60]] += 1

    async with Client(build_server(soak), mode="auto") as client, anyio.create_task_group() as group:
        for _ in range(WORKERS):
            group.start_soon(worker, client)
    sandbox.state.clear_faults()
    await anyio.sleep(1.6)  # let the slow sends that outlived their timeout land

    bodies = Counter(message.body for message in sandbox.state.messages)
    assert bodies, outcomes
    assert max(bodies.values()) == 1, "a message went out twice"
    assert sandbox.state.count("POST", SEND_PATH) >= len(bodies)

    # Reconcile every open reservation as a later start would, an hour on.
    assert soak.state_dir is not None
    store = SqliteStore(soak.state_dir / "state.db")
    async with create_http_client(timeout_seconds=5) as http:
        api = SmsApi(http, token=SecretStr(SANDBOX_TOKEN), base_url=soak.base_url)
        guard = SendGuard(
            settings=soak,
            api=api,
            prices=PriceCache(api.countries),
            store=store,
            audit=AuditLog(soak.state_dir / "audit.jsonl"),
            tokens=ConfirmationTokens(b"soak"),
            clock=lambda: time.time() + 3600,
        )
        await guard.reconcile()
    assert await store.unresolved() == []
    charged = sum((Decimal(str(m.price_usd)) for m in sandbox.state.messages), Decimal(0))
    assert await store.spent_micro(utc_day(time.time())) == micro(charged)
    await store.close()

    everything = "\n".join(outputs) + caplog.text + (soak.state_dir / "audit.jsonl").read_text()
    assert SANDBOX_TOKEN not in everything
    print(f"soak: {len(outputs)} calls, {len(bodies)} messages sent, send outcomes {dict(outcomes)}")


def test_soak_faults_cover_every_kind() -> None:
    kinds: set[Any] = {(fault.response, fault.process) for fault in SEND_FAULTS + READ_FAULTS}
    assert {"status", "html", "malformed", "drop", "normal"} <= {kind for kind, _ in kinds}
