"""Failures before the POST (CONTRACT section 4, "Refusals"): a ledger that is locked or out of reach, and a client
whose elicitation fails, are tool errors that say nothing was sent, audited with the refusing step; never a
protocol error. Real MCP clients in both eras, the sandbox over loopback HTTP, POSTs counted."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, types
from mcp.types import CallToolResult, ElicitResult, ErrorData
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.server import build_server
from tests.conftest import ERAS, SEND_PATH, posts, text_of
from tests.guard_helpers import (
    US,
    US_MASKED,
    Person,
    asked,
    assert_nothing_sent,
    balance,
    connect,
    ledger,
    send,
    sent,
    upstream_env,
)
from tests.processes import free_port, http_server

pytestmark = pytest.mark.anyio

# A person waiting on a locked or unreachable ledger hears back within this many seconds.
PATIENCE_SECONDS = 12


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def audit_entries(settings: Settings) -> list[dict[str, Any]]:
    assert settings.state_dir is not None
    raw = (settings.state_dir / "audit.jsonl").read_text()
    return [json.loads(line) for line in raw.splitlines()]


def refusals(settings: Settings) -> list[tuple[str, str]]:
    return [(entry["to"], entry["reason"]) for entry in audit_entries(settings) if entry["outcome"] == "refused"]


@pytest.mark.slow  # waits out the 5 s lock wait
async def test_locked_ledger_refuses_saying_nothing_was_sent(settings: Settings, sandbox: Sandbox, era: str) -> None:
    assert settings.state_dir is not None
    async with connect(settings, era) as client:
        await balance(client)  # the server is up and its ledger made
        other_process = sqlite3.connect(settings.state_dir / "state.db", isolation_level=None)
        other_process.execute("BEGIN IMMEDIATE")  # holds the write lock and never commits
        try:
            started = time.monotonic()
            result = await send(client, body="Locked out")
            waited = time.monotonic() - started
        finally:
            other_process.execute("ROLLBACK")
            other_process.close()
        text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="locked")
        assert "try again" in text, text
        assert waited < PATIENCE_SECONDS
        # Once the lock is gone, the same message goes out, once.
        sent(await send(client, body="Locked out"))
    assert posts(sandbox) == 1
    assert refusals(settings) == [(US_MASKED, "ledger_locked")]


@pytest.mark.slow  # holds the lock past the 5 s wait
async def test_ledger_locked_while_the_post_is_in_flight_still_records_the_send(
    settings: Settings, sandbox: Sandbox
) -> None:
    """The short wait is for a person before the POST; once the message may be out, its outcome is recorded."""
    assert settings.state_dir is not None
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.5))
    async with connect(settings, "legacy") as client:
        results: list[CallToolResult] = []

        async def send_slowly() -> None:
            results.append(await send(client, body="Held up on the way back"))

        async with anyio.create_task_group() as group:
            group.start_soon(send_slowly)
            with anyio.fail_after(10):
                while posts(sandbox) == 0:  # noqa: ASYNC110 - waiting for the sandbox's thread
                    await anyio.sleep(0.01)
            other_process = sqlite3.connect(settings.state_dir / "state.db", isolation_level=None)
            other_process.execute("BEGIN IMMEDIATE")
            await anyio.sleep(6)  # longer than a send waits before its POST
            other_process.execute("ROLLBACK")
            other_process.close()
    [result] = results
    message = sent(result)["message"]
    [attempt] = ledger(settings.state_dir)
    assert (attempt["status"], attempt["message_id"]) == ("sent", message["id"])
    assert posts(sandbox) == 1


async def test_unreachable_ledger_refuses_saying_nothing_was_sent(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = settings.model_copy(update={"state_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")})
    async with connect(settings, era) as client:
        started = time.monotonic()
        result = await send(client, body="Nobody home")
        waited = time.monotonic() - started
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="out of reach")
    assert "try again" in text, text
    assert "redis://" not in text  # the URL may carry a password
    assert waited < PATIENCE_SECONDS
    assert refusals(settings) == [(US_MASKED, "ledger_unreachable")]


async def _handler_that_raises(context: Any, params: Any) -> ElicitResult:
    raise RuntimeError("the host's dialog crashed")


async def _handler_that_answers_an_error(context: Any, params: Any) -> ErrorData:
    return ErrorData(code=-32603, message="the host's dialog crashed")


@pytest.mark.parametrize("handler", [_handler_that_raises, _handler_that_answers_an_error], ids=["raises", "error"])
async def test_failing_elicitation_handler_is_a_tool_error_not_32603(
    settings: Settings, sandbox: Sandbox, handler: Any
) -> None:
    """2025-11-25: the server's elicitation/create comes back as a JSON-RPC error (in 2026-07-28 a failing handler
    stops the client itself, and what it may send instead is covered below)."""
    settings = settings.model_copy(update={"confirm": "auto"})
    async with Client(build_server(settings), mode="legacy", elicitation_callback=handler) as client:
        result = await send(client, body="Please confirm")  # a tool result: a protocol error would raise here
        text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="confirm")
        assert "dialog crashed" not in text  # the client's own words are logged, not handed to the model
        # The next call, with a working client, asks and sends.
    async with connect(settings, "legacy", Person()) as client:
        sent(await send(client, body="Please confirm"))
    assert posts(sandbox) == 1
    assert refusals(settings) == [(US_MASKED, "elicitation_failed")]


@pytest.mark.slow  # starts the HTTP service
async def test_failing_elicitation_handler_over_http_is_a_tool_error_not_32603(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """Over Streamable HTTP the SDK would answer the failure with JSON-RPC -32603: the real process, as hosts run it."""
    state_dir = tmp_path / "state"
    env = upstream_env(sandbox_url, state_dir, SMSAI_CONFIRM="auto")
    with http_server([], env, tmp_path / "server.log") as url:
        async with Client(url, mode="legacy", elicitation_callback=_handler_that_raises) as client:
            result = await send(client, body="Please confirm")
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="confirm")
    lines = [json.loads(line) for line in (state_dir / "audit.jsonl").read_text().splitlines()]
    assert [(line["outcome"], line["reason"]) for line in lines] == [("refused", "elicitation_failed")]


UNREADABLE_ANSWERS = [
    pytest.param({"code": -32603, "message": "the host's dialog crashed"}, id="error-instead-of-answer"),
    pytest.param("garbage", id="text"),
    pytest.param(None, id="null"),
    pytest.param({"action": "explode"}, id="unknown-action"),
    pytest.param({"roots": []}, id="answer-of-another-kind"),
    pytest.param({"action": "accept", "content": {"confirm": "maybe"}}, id="box-not-a-boolean"),
    pytest.param({"action": "accept"}, id="accept-without-content"),
]


@pytest.mark.parametrize("answer", UNREADABLE_ANSWERS)
async def test_unreadable_2026_answer_is_a_tool_error_not_32602(
    settings: Settings, sandbox: Sandbox, answer: Any
) -> None:
    """2026-07-28: a client whose handler failed may send back anything in place of the person's answer."""
    arguments = {"to": US, "body": "Please confirm"}
    async with connect(settings.model_copy(update={"confirm": "auto"}), "auto", Person()) as client:
        first = await asked(client, arguments)
        assert first.input_requests is not None
        [key] = first.input_requests
        retry = types.Request[Any, Any](
            method="tools/call",
            params={
                "name": "send_sms",
                "arguments": arguments,
                "inputResponses": {key: answer},
                "requestState": first.request_state,
            },
        )
        result = await client.session.send_request(retry, CallToolResult)  # raises on a protocol error
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="confirm")
    assert "Resolver" not in text  # the SDK's internals are not the model's business
    assert refusals(settings) == [(US_MASKED, "elicitation_failed")]


async def test_an_elicitation_that_fails_after_a_slow_person_still_sends_nothing(
    settings: Settings, sandbox: Sandbox
) -> None:
    """The failure arrives while other calls go on: only the asking call is refused, and it is refused once."""
    settings = settings.model_copy(update={"confirm": "auto"})

    async def slow_then_broken(context: Any, params: Any) -> ElicitResult:
        await anyio.sleep(0.2)
        raise RuntimeError("the host's dialog crashed")

    async with Client(build_server(settings), mode="legacy", elicitation_callback=slow_then_broken) as client:
        results: list[CallToolResult] = []

        async def ask() -> None:
            results.append(await send(client, body="Please confirm"))

        async with anyio.create_task_group() as group:
            group.start_soon(ask)
            assert (await balance(client))["spent_today_usd"] == 0  # another call, answered meanwhile
    [result] = results
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="confirm")
    assert text_of(result).count("Nothing was sent") == 1
    assert refusals(settings) == [(US_MASKED, "elicitation_failed")]
