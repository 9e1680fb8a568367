"""The send guard under concurrency, across processes and across a crash: the ledger never overshoots and
one message is never posted twice. Real MCP clients in both eras; the sandbox served over loopback HTTP."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from tests.conftest import ERAS, SEND_PATH, posts, text_of
from tests.guard_helpers import (
    CA,
    US,
    Person,
    answer,
    asked,
    balance,
    charged_by_sandbox,
    confirmation_token,
    connect,
    ledger,
    send,
    sent,
    structured,
    upstream_env,
    usd,
)
from tests.processes import SERVER, server_env

pytestmark = pytest.mark.anyio


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def all_at_once(calls: list[Callable[[], Awaitable[CallToolResult]]]) -> list[CallToolResult]:
    """Start every call together and wait for all of them."""
    results: list[CallToolResult | None] = [None] * len(calls)

    async def run(index: int) -> None:
        results[index] = await calls[index]()

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(run, index)
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def split(results: list[CallToolResult]) -> tuple[list[CallToolResult], list[CallToolResult]]:
    """The calls that sent, and the rest."""
    went = [r for r in results if not r.is_error and (r.structured_content or {}).get("status") == "sent"]
    return went, [r for r in results if r not in went]


def assert_refusals(results: list[CallToolResult], says: str) -> None:
    for result in results:
        text = text_of(result)
        assert result.is_error, text
        assert text.startswith("Nothing was sent."), text
        assert says in text, text


async def until(condition: Callable[[], bool]) -> None:
    """Wait (up to 10 s) for something another task or process does."""
    with anyio.fail_after(10):
        while not condition():  # noqa: ASYNC110 - polling state another process writes
            await anyio.sleep(0.02)


# 5. Many sends at once in one process


async def test_fifty_concurrent_sends_never_overshoot_the_daily_budget(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"daily_budget_usd": Decimal("0.10")})  # ten US messages at 0.01
    async with connect(settings, era) as client:
        results = await all_at_once(
            [lambda n=n: send(client, body=f"concurrent message {n}") for n in range(50)]  # type: ignore[misc]
        )
        spent = await balance(client)
    went, refused = split(results)
    assert len(went) == 10
    assert len(refused) == 40
    assert_refusals(refused, "daily budget")
    assert posts(sandbox) == 10
    assert spent["spent_today_usd"] == 0.10
    assert spent["daily_budget_remaining_usd"] == 0
    assert charged_by_sandbox(sandbox) == Decimal("0.10")


async def test_concurrent_identical_sends_post_once(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings, era) as client:
        results = await all_at_once([lambda: send(client, body="the same words")] * 10)
    went, others = split(results)
    assert len(went) == 1
    for result in others:  # the earlier one, or "it may have gone out just now": never a second send
        if result.is_error:
            text = text_of(result)
            assert "must not be retried" in text, text
        else:
            assert structured(result)["status"] == "duplicate"
    assert posts(sandbox) == 1


async def test_concurrent_sends_under_one_idempotency_key_post_once(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"duplicate_window_seconds": 0})  # only the key can stop them
    async with connect(settings, era) as client:
        results = await all_at_once([lambda: send(client, body="order 42 shipped", idempotency_key="order-42")] * 10)
    went, others = split(results)
    assert posts(sandbox) == 1
    assert len({r.structured_content["message"]["id"] for r in went if r.structured_content}) == 1
    for result in others:
        text = text_of(result)
        assert result.is_error, text
        assert "must not be retried" in text, text


async def test_concurrent_sends_to_one_number_stop_at_the_hourly_limit(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings.model_copy(update={"max_per_recipient_per_hour": 2}), era) as client:
        results = await all_at_once(
            [lambda n=n: send(client, body=f"loop {n}") for n in range(10)]  # type: ignore[misc]
        )
    went, refused = split(results)
    assert len(went) == 2
    assert_refusals(refused, "SMSAI_MAX_PER_RECIPIENT_PER_HOUR")
    assert posts(sandbox) == 2


async def test_concurrent_replays_of_one_token_send_once(settings: Settings, sandbox: Sandbox, era: str) -> None:
    settings = settings.model_copy(update={"confirm": "token", "duplicate_window_seconds": 0})
    async with connect(settings, era) as client:
        token = confirmation_token(await send(client, body="approve the invoice"))
        results = await all_at_once([lambda: send(client, body="approve the invoice", confirmation_token=token)] * 8)
    went, refused = split(results)
    assert len(went) == 1
    assert_refusals(refused, "already used")
    assert posts(sandbox) == 1


async def test_concurrent_replays_of_one_2026_retry_send_once(settings: Settings, sandbox: Sandbox) -> None:
    settings = settings.model_copy(update={"confirm": "auto", "duplicate_window_seconds": 0})
    arguments = {"to": US, "body": "approve the invoice"}
    async with connect(settings, "auto", Person()) as client:
        first = await asked(client, arguments)
        outcomes: list[CallToolResult | InputRequiredResult] = []

        async def retry() -> None:
            outcomes.append(await answer(client, arguments, first))

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(retry)
    results = [outcome for outcome in outcomes if isinstance(outcome, CallToolResult)]
    assert len(outcomes) == 8
    went, refused = split(results)
    assert len(went) == 1
    # The others are refused as a spent confirmation, or (once the first has moved the budget) asked afresh.
    assert refused, "no retry raced the first one"
    assert_refusals(refused, "already used")
    assert posts(sandbox) == 1


# 6. Two processes sharing one state directory


@pytest.mark.slow
async def test_two_processes_sharing_state_never_overshoot_the_budget(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    state_dir = tmp_path / "shared-state"
    env = server_env(upstream_env(sandbox_url, state_dir, SMSAI_DAILY_BUDGET_USD="0.10"))
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    results: list[CallToolResult] = []
    ready: list[str] = []

    async def serve_and_send(name: str) -> None:
        with (tmp_path / f"{name}.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode=era) as client:
                await client.list_tools()
                ready.append(name)
                await until(lambda: len(ready) == 2)  # both processes up, then both fire at once
                results.extend(
                    await all_at_once(
                        [lambda n=n: send(client, body=f"{name} message {n}") for n in range(15)]  # type: ignore[misc]
                    )
                )

    async with anyio.create_task_group() as group:
        group.start_soon(serve_and_send, "first")
        group.start_soon(serve_and_send, "second")
    went, refused = split(results)
    assert len(went) == 10
    assert len(refused) == 20
    assert_refusals(refused, "daily budget")
    assert posts(sandbox) == 10
    assert charged_by_sandbox(sandbox) == Decimal("0.10")
    settings = Settings.from_env(env)
    async with connect(settings, era) as client:
        assert (await balance(client))["spent_today_usd"] == 0.10


# 8. kill -9 between reserve and settle, then a restart


@pytest.mark.slow
@pytest.mark.parametrize("went_out", [True, False], ids=["message-went-out", "message-never-went-out"])
async def test_kill_9_between_reserve_and_settle_is_reconciled_on_restart(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str, went_out: bool
) -> None:
    state_dir = tmp_path / "state"
    env = server_env(upstream_env(sandbox_url, state_dir))
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    # The POST hangs; with process=True the upstream has taken (and charged) the message before it hangs.
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=30, process=went_out))
    lost: list[BaseException] = []
    with (tmp_path / "killed.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=era) as client:

            async def send_and_lose_the_answer() -> None:
                try:
                    await send(client, body="sent just before the crash")
                except MCPError as exc:  # the server died mid-call
                    lost.append(exc)

            async with anyio.create_task_group() as group:
                group.start_soon(send_and_lose_the_answer)
                # The POST is counted as it arrives, and taken (process=True) a moment later, on the sandbox's thread.
                await until(lambda: posts(sandbox) == 1 and len(sandbox.state.messages) == int(went_out))
                [attempt] = ledger(state_dir)
                assert (attempt["status"], attempt["reserved_micro"]) == ("pending", 10_000)
                pid = int(attempt["owner"].split(":")[1])
                assert pid != os.getpid()
                os.kill(pid, signal.SIGKILL)  # the server process this test started, by its id
    assert len(lost) == 1
    # After the crash the reservation is still on the books.
    [attempt] = ledger(state_dir)
    assert attempt["status"] == "pending"
    assert (len(sandbox.state.messages) == 1) is went_out

    # A new server on the same state reconciles in the background as it starts.
    settings = Settings.from_env(env)
    async with connect(settings, era) as client:
        await until(lambda: ledger(state_dir)[0]["status"] == ("sent" if went_out else "unknown"))
        spent = usd((await balance(client))["spent_today_usd"])
        [attempt] = ledger(state_dir)
        if went_out:
            [message] = sandbox.state.messages
            assert (attempt["status"], attempt["message_id"]) == ("sent", message.id)
            assert spent == charged_by_sandbox(sandbox) == Decimal("0.01")
        else:
            # Not listed yet proves nothing (the API may still be at work): it stays reserved and refused.
            assert spent == Decimal("0.01")
            result = await send(client, body="sent just before the crash")
            assert result.is_error
            assert "must not be retried" in text_of(result)
    if not went_out:
        # A full lookup 15 minutes on finds nothing: it never went out, so it may be sent now, once.
        async with connect(settings, era, clock=lambda: time.time() + 960) as client:
            await until(lambda: ledger(state_dir)[0]["status"] == "released")
            assert sent(await send(client, body="sent just before the crash"))["message"]["to"] == US
    assert posts(sandbox) == (1 if went_out else 2)


async def test_other_numbers_still_send_while_a_reservation_is_open(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    """A hanging send holds its reservation, not the whole ledger: a send to another number is not blocked."""
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.6))
    async with connect(settings, era) as client:
        results: list[CallToolResult] = []

        async def slow() -> None:
            results.append(await send(client, to=US, body="slow"))

        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            await until(lambda: posts(sandbox) == 1)
            with anyio.fail_after(0.5):
                fast = sent(await send(client, to=CA, body="fast"))
        assert fast["message"]["to"] == CA
        assert sent(results[0])["message"]["to"] == US
    assert posts(sandbox) == 2
