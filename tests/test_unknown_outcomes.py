"""An unknown outcome stays unknown until there is evidence (CONTRACT section 4, "Unknown outcome").

A send whose answer was lost keeps its reservation, and the same message or key is refused as unknown, until a
lookup finds the message, a full lookup 15 minutes on shows it never went out, or a person settles it. One test
per hazard, through a real MCP client in both protocol eras, counting the POSTs that reached the sandbox.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.guard.reconcile import body_sha256
from smsai_mcp.guard.stages import fingerprint
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.server import build_server
from smsai_mcp.state.sqlite import SqliteStore
from smsai_mcp.state.store import Attempt, BeginRequest, Begun
from smsai_mcp.tenants import Tenant
from tests.conftest import ERAS, SEND_PATH, posts
from tests.guard_helpers import (
    CA,
    US,
    assert_outcome_unknown,
    balance,
    connect,
    ledger,
    send,
    sent,
    structured,
    until,
    upstream_env,
)
from tests.processes import SERVER, server_env

pytestmark = pytest.mark.anyio

BODY = "Gate code 4821"
LIST_PATH = "/api/v1/sms"
FIFTEEN_MINUTES = 900
NO_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Clock:
    """The server's clock, moved on by a test: time.time() plus an offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def state_dir_of(settings: Settings) -> Path:
    assert settings.state_dir is not None
    return settings.state_dir


def status_of_the_attempt(state_dir: Path) -> str:
    [attempt] = ledger(state_dir)
    return str(attempt["status"])


def another_apps_message(sandbox: Sandbox, to: str, body: str) -> Any:
    """A message someone else sent from the same account, straight into the upstream."""
    return sandbox.state.send(sandbox.state.accounts[SANDBOX_TOKEN], to, body, None, Decimal("0.0100"), 1)


def refused_as_unknown(result: Any) -> str:
    text = assert_outcome_unknown(result)
    assert "nothing more was sent" in text, text
    assert "smsai-mcp attempts resolve" in text, text
    return text


# 1. Retries of an unknown send


@pytest.mark.parametrize("retry", [{}, {"idempotency_key": "a-fresh-key"}], ids=["same-message", "under-a-new-key"])
async def test_retry_of_an_unknown_send_is_refused_whatever_the_duplicate_window(
    settings: Settings, sandbox: Sandbox, era: str, retry: dict[str, str]
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=500))  # the gateway may have taken it
    async with connect(settings.model_copy(update={"duplicate_window_seconds": 0}), era) as client:
        first = assert_outcome_unknown(await send(client, body=BODY))
        assert "smsai-mcp attempts resolve" in first
        refused_as_unknown(await send(client, body=BODY, **retry))
        assert (await balance(client))["spent_today_usd"] == 0.01  # its reservation still counts
    assert posts(sandbox) == 1


# 2. A restart while the API was still processing


def server_process_env(sandbox_url: str, tmp_path: Path, **variables: str) -> tuple[dict[str, str], Path]:
    state_dir = tmp_path / "state"
    return server_env(upstream_env(sandbox_url, state_dir, **variables)), state_dir


async def crash_mid_send(sandbox: Sandbox, env: dict[str, str], tmp_path: Path, era: str, fault: Fault) -> None:
    """A real server process killed (SIGKILL) while its POST is in flight."""
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    sandbox.state.add_fault(fault)
    lost: list[BaseException] = []
    with (tmp_path / "killed.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=era) as client:

            async def send_and_lose_the_answer() -> None:
                try:
                    await send(client, body=BODY)
                except MCPError as exc:  # the server died mid-call
                    lost.append(exc)

            async with anyio.create_task_group() as group:
                group.start_soon(send_and_lose_the_answer)
                await until(lambda: posts(sandbox) == 1)
                pid = int(ledger(Path(env["SMSAI_STATE_DIR"]))[-1]["owner"].split(":")[1])
                assert pid != os.getpid()
                os.kill(pid, signal.SIGKILL)  # the server process this test started, by its id
    assert len(lost) == 1


@pytest.mark.slow  # starts the server as a process and kills it
async def test_restart_while_the_api_is_still_processing_keeps_the_reservation(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    # The API takes the POST and is still working on it when the host (and so the server) goes away.
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=3.0, process_after_delay=True)
    env, state_dir = server_process_env(sandbox_url, tmp_path)
    await crash_mid_send(sandbox, env, tmp_path, era, slow)
    assert sandbox.state.messages == []
    settings = Settings.from_env(env)

    async with connect(settings, era) as client:
        await until(lambda: status_of_the_attempt(state_dir) != "pending")
        assert status_of_the_attempt(state_dir) == "unknown"  # never released on one lookup that found nothing
        refused_as_unknown(await send(client, body=BODY))
        assert (await balance(client))["spent_today_usd"] == 0.01
    assert posts(sandbox) == 1

    await until(lambda: len(sandbox.state.messages) == 1)  # the API is done: it went out
    async with connect(settings, era) as client:
        await until(lambda: status_of_the_attempt(state_dir) == "sent")
        assert structured(await send(client, body=BODY))["status"] == "duplicate"
        spent = (await balance(client))["spent_today_usd"]
    [message] = sandbox.state.messages
    assert ledger(state_dir)[0]["message_id"] == message.id
    assert spent == float(message.price_usd)
    assert posts(sandbox) == 1


@pytest.mark.slow  # starts the server as a process and kills it
async def test_a_retry_through_another_server_the_moment_one_crashes_is_refused_without_a_duplicate_window(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    """Two host sessions share the state; one server dies mid-send and the agent at once asks the other, whose
    reconciling has not run since: the crashed send is unknown all the same."""
    env, state_dir = server_process_env(sandbox_url, tmp_path, SMSAI_DUPLICATE_WINDOW_SECONDS="0")
    settings = Settings.from_env(env)
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=3.0, process_after_delay=True)
    async with connect(settings, era) as other_session:
        await crash_mid_send(sandbox, env, tmp_path, era, slow)
        assert status_of_the_attempt(state_dir) == "pending"  # nobody has looked at it yet
        refused_as_unknown(await send(other_session, body=BODY))
    assert posts(sandbox) == 1
    await until(lambda: len(sandbox.state.messages) == 1)
    async with connect(settings, era):
        await until(lambda: status_of_the_attempt(state_dir) == "sent")
    assert ledger(state_dir)[0]["message_id"] == sandbox.state.messages[0].id
    assert posts(sandbox) == 1


# 3. Lookups read every message since the attempt


@pytest.fixture(params=[False, True], ids=["newest-first", "oldest-first"])
def small_pages(sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Pages of two messages, listed in either order."""
    per_page, oldest_first = sandbox.config.per_page, sandbox.config.oldest_first
    sandbox.config.per_page, sandbox.config.oldest_first = 2, request.param
    yield sandbox
    sandbox.config.per_page, sandbox.config.oldest_first = per_page, oldest_first


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
async def test_a_lookup_reads_every_page_of_newer_messages_however_many(
    settings: Settings, small_pages: Sandbox, era: str
) -> None:
    sandbox = small_pages
    now = sandbox.state.clock
    sandbox.state.clock = lambda: now() - timedelta(hours=1)
    try:
        for n in range(6):  # three pages of older messages, which a lookup may stop at
            another_apps_message(sandbox, US, f"an hour-old message {n}")
    finally:
        sandbox.state.clock = now
    settings = settings.model_copy(update={"timeout_seconds": 0.5})
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=1.0, process_after_delay=True)
    sandbox.state.add_fault(slow)
    async with connect(settings, era) as client:
        assert_outcome_unknown(await send(client, body=BODY))
    await until(lambda: len(sandbox.state.messages) == 7)
    ours = sandbox.state.messages[-1]
    for n in range(13):  # seven pages of two, newer than ours: more than the five pages a lookup used to read
        another_apps_message(sandbox, CA, f"another app's message {n}")
    state_dir = state_dir_of(settings)
    async with connect(settings, era) as client:
        await until(lambda: status_of_the_attempt(state_dir) == "sent")
        assert structured(await send(client, body=BODY))["status"] == "duplicate"
    assert ledger(state_dir)[0]["message_id"] == ours.id
    assert ours.body == BODY
    assert posts(sandbox) == 1


async def test_a_lookup_that_is_never_told_the_text_never_claims_another_apps_message(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=500))
    async with connect(settings, era) as client:
        assert_outcome_unknown(await send(client, body=BODY))
    other = another_apps_message(sandbox, US, "another app's text to the same number")
    sandbox.state.add_fault(Fault(method="GET", times=None, response="normal", omit_fields=["body"]))
    state_dir = state_dir_of(settings)
    clock = Clock()
    for clock.offset in (0, FIFTEEN_MINUTES + 60):  # at once, and when a full lookup could release it
        show_path, shown = f"{LIST_PATH}/{other.id}", sandbox.state.count("GET", f"{LIST_PATH}/{other.id}")
        async with connect(settings, era, clock=clock) as client:
            await until(lambda: sandbox.state.count("GET", show_path) > shown)  # noqa: B023 - awaited at once
            refused_as_unknown(await send(client, body=BODY))
        [attempt] = ledger(state_dir)
        assert (attempt["status"], attempt["message_id"]) == ("unknown", None)
    assert posts(sandbox) == 1


async def test_one_message_never_settles_two_attempts(settings: Settings, sandbox: Sandbox, era: str) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=500, times=2))
    async with connect(settings, era) as client:
        assert_outcome_unknown(await send(client, body=BODY, sender_id="Acme"))
        assert_outcome_unknown(await send(client, body=BODY, sender_id="Bistro"))
    late = sandbox.state.send(sandbox.state.accounts[SANDBOX_TOKEN], US, BODY, "Acme", Decimal("0.0100"), 1)
    state_dir = state_dir_of(settings)
    async with connect(settings, era):
        await until(lambda: "sent" in {attempt["status"] for attempt in ledger(state_dir)})
    outcomes = sorted((attempt["status"], attempt["message_id"]) for attempt in ledger(state_dir))
    assert outcomes == [("sent", late.id), ("unknown", None)]
    assert posts(sandbox) == 2


# 4. Released only by a full lookup made 15 minutes on


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
async def test_an_unknown_attempt_is_released_only_by_a_full_lookup_15_minutes_on(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=500))
    clock = Clock()
    async with connect(settings, era, clock=clock) as client:
        assert_outcome_unknown(await send(client, body=BODY))
    state_dir = state_dir_of(settings)

    async def restart_and_retry(requests_per_lookup: int) -> None:
        listed = sandbox.state.count("GET", LIST_PATH)
        async with connect(settings, era, clock=clock, reconcile_every_seconds=0.1) as client:
            # The second lookup has begun, so the first (at start) has decided whatever it decides.
            await until(lambda: sandbox.state.count("GET", LIST_PATH) > listed + requests_per_lookup)
            refused_as_unknown(await send(client, body=BODY))
        assert status_of_the_attempt(state_dir) == "unknown"

    clock.offset = FIFTEEN_MINUTES - 10  # a full lookup, but too early: the API may still be at work
    await restart_and_retry(requests_per_lookup=1)
    clock.offset = FIFTEEN_MINUTES + 10  # late enough, but the list cannot be read: not a full lookup
    sandbox.state.add_fault(Fault(method="GET", path=LIST_PATH, response="html", status=502, times=None))
    await restart_and_retry(requests_per_lookup=3)  # a read is tried three times
    sandbox.state.clear_faults()
    async with connect(settings, era, clock=clock) as client:
        await until(lambda: status_of_the_attempt(state_dir) == "released")
        assert sent(await send(client, body=BODY))["message"]["to"] == US  # nothing went out: it may go now, once
    assert posts(sandbox) == 2


# 5. A long-running server keeps reconciling


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
async def test_the_background_loop_settles_an_unknown_send_without_a_restart(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"timeout_seconds": 0.5})
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=1.0, process_after_delay=True)
    sandbox.state.add_fault(slow)
    state_dir = state_dir_of(settings)
    async with connect(settings, era, reconcile_every_seconds=0.2) as client:
        assert_outcome_unknown(await send(client, body=BODY))
        await until(lambda: status_of_the_attempt(state_dir) == "sent")
        assert structured(await send(client, body=BODY))["status"] == "duplicate"
        spent = (await balance(client))["spent_today_usd"]
    [message] = sandbox.state.messages
    assert ledger(state_dir)[0]["message_id"] == message.id
    assert spent == float(message.price_usd)
    assert posts(sandbox) == 1


async def test_one_tenants_failing_reconciliation_does_not_stop_another_tenants(
    settings: Settings, sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A service of two tenants: one's state store is out of reach, the other's open send is still settled."""
    reachable = settings.model_copy(update={"state_dir": tmp_path / "acme"})
    unreachable = settings.model_copy(update={"state_dir": tmp_path / "globex", "state_url": SecretStr(NO_REDIS)})
    tenants = {
        "acme": Tenant("acme", (hashlib.sha256(b"acme-key").hexdigest(),), reachable),
        "globex": Tenant("globex", (hashlib.sha256(b"globex-key").hexdigest(),), unreachable),
    }
    store = SqliteStore(tmp_path / "acme" / "state.db")
    attempt = open_attempt(BODY)
    assert isinstance(await store.begin(BeginRequest(attempt, 10**9, 10, 600), now=attempt.created_at), Begun)
    await store.mark_unknown(attempt.id)
    message = another_apps_message(sandbox, US, BODY)  # it went out after all
    try:
        server = build_server(settings, tenants=tenants, reconcile_every_seconds=0.1)
        async with Client(server, mode="auto"):
            await until(lambda: status_of_the_attempt(tmp_path / "acme") == "sent")
            await until(lambda: "could not reconcile open reservations of tenant globex" in caplog.text)
        [settled] = ledger(tmp_path / "acme")
        assert settled["message_id"] == message.id
    finally:
        await store.close()
    assert posts(sandbox) == 0


def open_attempt(body: str) -> Attempt:
    """A send of `body` to US a minute ago by a process gone elsewhere, as its ledger row was written."""
    return Attempt(
        id=uuid.uuid4().hex,
        day=datetime.fromtimestamp(time.time(), UTC).date().isoformat(),
        created_at=time.time() - 60,
        recipient=US,
        fingerprint=fingerprint(US, body, None),
        body_sha256=body_sha256(body),
        idempotency_key=None,
        confirmation_id=None,
        owner="another-host:1:0",
        status="pending",
        reserved_micro=10_000,
    )
