"""A bounded soak: every tool, mixed, against a sandbox that misbehaves at random (slow answers, 5xx, lost
responses, 429, HTML pages). At the end no message went out twice, the ledger equals what the upstream
charged once every open reservation is reconciled, and the token appears in no output or log. A second soak
kills the server process (SIGKILL) while sends are in flight, restarts it on the same state and retries what
was cut off, round after round.

CI runs it for a few seconds; `SMSAI_SOAK_SECONDS=300 pytest tests/test_soak.py` is the long soak.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import SecretStr

from smsai_mcp.client.api import SmsApi, create_http_client
from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.guard.pipeline import SendGuard
from smsai_mcp.guard.tokens import ConfirmationTokens
from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.sms.money import micro, utc_day
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.sqlite import SqliteStore
from tests.conftest import ERAS, SEND_PATH, posts, text_of
from tests.guard_helpers import ledger, send, until, upstream_env
from tests.processes import SERVER, server_env

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
            calls: list[tuple[str, dict[str, Any]]] = [
                ("send_sms", {"to": "+12025551234", "body": f"soak message {next(counter)}"}),
                ("send_sms", {"to": "+14165550123", "body": f"soak message {next(counter)}"}),
                ("estimate_sms", {"to": "+447400123456", "body": "soak ☕"}),
                ("check_balance", {}),
                ("list_countries", {"query": "a"}),
                ("list_messages", {"page": 1}),
                ("get_message", {"id": rng.randint(1, 50)}),
            ]
            tool, arguments = rng.choice(calls)
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
            prices=PriceCache(api.price_list),
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


# Faults of the kill rounds: each lets the API take the message (so every POST is a message it charged), but
# the answer comes late, after the timeout, or never, so that sends are in flight when the process dies.
KILL_FAULTS = [
    Fault(method="POST", path=SEND_PATH, response="normal"),
    Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.4, process_after_delay=True),
    Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=2.0, process_after_delay=True),
    Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=4.0, process_after_delay=True),
    Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=30, process=True),
    Fault(method="POST", path=SEND_PATH, response="drop", process=True),
    Fault(method="POST", path=SEND_PATH, status=502, process=True),
]
KILL_ROUNDS = max(3, int(SECONDS // 3))
LATEST_LANDING_SECONDS = 4.5  # the longest process_after_delay above, and a margin


async def test_soak_kill_and_restart_while_sends_are_in_flight_sends_nothing_twice(
    unthrottled: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    sandbox = unthrottled
    state_dir = tmp_path / "state"
    env = server_env(upstream_env(sandbox_url, state_dir, SMSAI_TIMEOUT_SECONDS="1", SMSAI_DAILY_BUDGET_USD="1000"))
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    rng = random.Random(20261129)
    cut_off: list[tuple[str, str]] = []  # the messages whose call died with its server: the agent tries them again
    outcomes: Counter[str] = Counter()

    async def send_one(client: Client, to: str, body: str, *, retry: bool) -> None:
        try:
            result = await send(client, to=to, body=body)
        except Exception:  # the server died under the call
            cut_off.append((to, body))
            outcomes["cut off"] += 1
            return
        status = (result.structured_content or {}).get("status") if not result.is_error else text_of(result)[:40]
        outcomes[f"{'retry' if retry else 'send'}: {status}"] += 1

    for number in range(KILL_ROUNDS + 1):
        killing = number < KILL_ROUNDS  # the last round only retries what the last kill cut off
        with (tmp_path / f"server-{number}.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode=ERAS[number % 2]) as client:
                retries, cut_off[:] = list(cut_off), []
                # The agent retries once the new server has looked at what the killed one left pending.
                await until(lambda: all(attempt["status"] != "pending" for attempt in ledger(state_dir)))
                for to, body in retries:  # refused as unknown, or a duplicate; sent only if it never was
                    await send_one(client, to, body, retry=True)
                if not killing:
                    break
                this_round = [
                    (rng.choice(["+12025551234", "+14165550123"]), f"kill round {number} message {index}")
                    for index in range(WORKERS)
                ]
                posted = posts(sandbox)
                async with anyio.create_task_group() as group:
                    for to, body in this_round:
                        sandbox.state.add_fault(rng.choice(KILL_FAULTS))
                        group.start_soon(functools.partial(send_one, client, to, body, retry=False))
                    await until(lambda: posts(sandbox) > posted)  # noqa: B023 - awaited within this round
                    await anyio.sleep(rng.uniform(0.0, 0.5))
                    os.kill(_server_pid(state_dir), signal.SIGKILL)  # the process this test started, by its id
    sandbox.state.clear_faults()
    # The API finishes what it was still working on: every POST of these rounds becomes a message it charged
    # (asserted below), the last of them at most LATEST_LANDING_SECONDS after it arrived.
    await until(lambda: len(sandbox.state.messages) == posts(sandbox), LATEST_LANDING_SECONDS + 10)

    # Reconcile what is still open as a later start would, an hour on: every lookup is full by then.
    settings = Settings.from_env(env)
    store = SqliteStore(state_dir / "state.db")
    async with create_http_client(timeout_seconds=5) as http:
        api = SmsApi(http, token=SecretStr(SANDBOX_TOKEN), base_url=settings.base_url)
        guard = SendGuard(
            settings=settings,
            api=api,
            prices=PriceCache(api.price_list),
            store=store,
            audit=AuditLog(state_dir / "audit.jsonl"),
            tokens=ConfirmationTokens(b"soak"),
            clock=lambda: time.time() + 3600,
        )
        await guard.reconcile()
    assert await store.unresolved() == []
    await store.close()

    messages = sandbox.state.messages
    bodies = Counter(message.body for message in messages)
    assert max(bodies.values()) == 1, "a message text was posted twice"
    assert posts(sandbox) == len(messages)  # every POST of these rounds is a message the API took
    attempts = ledger(state_dir)
    went_out = [attempt for attempt in attempts if attempt["status"] == "sent"]
    assert sorted(attempt["message_id"] for attempt in went_out) == sorted(message.id for message in messages)
    charged = sum((message.price_usd for message in messages), Decimal(0))
    assert sum(attempt["charged_micro"] for attempt in went_out) == micro(charged)
    assert {attempt["status"] for attempt in attempts} <= {"sent", "released"}
    assert SANDBOX_TOKEN not in _everything_written(tmp_path)
    assert outcomes["cut off"] >= 1, outcomes
    print(f"kill soak: {KILL_ROUNDS} kills, {len(messages)} messages, outcomes {dict(outcomes)}")


def _server_pid(state_dir: Path) -> int:
    """The server process that made the newest attempt: the one this round started."""
    newest = ledger(state_dir)[-1]
    pid = int(str(newest["owner"]).split(":")[1])
    assert pid != os.getpid()
    return pid


def _everything_written(folder: Path) -> str:
    """Every server log and audit line under `folder`."""
    paths = [*folder.glob("server-*.log"), folder / "state" / "audit.jsonl"]
    return "".join(path.read_text() for path in paths)
