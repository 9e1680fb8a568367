"""Only a confirmation that led to a message counts as used (CONTRACT section 4, "Confirmation"): after the upstream
refused a confirmed send before it could process it (402, 403, 422, 429), the person may confirm it again and it goes
out once; a confirmation whose POST may have gone out stays used. Both eras, the sandbox over loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import CallToolResult

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from tests.conftest import ERAS, SEND_PATH, posts
from tests.guard_helpers import (
    US,
    Person,
    answer,
    asked,
    assert_nothing_sent,
    assert_outcome_unknown,
    confirmation_token,
    connect,
    send,
    sent,
)

pytestmark = pytest.mark.anyio

UPSTREAM_REFUSALS = [
    pytest.param(402, {"message": "Insufficient credits."}, id="402"),
    pytest.param(403, {"message": "Spending limit reached."}, id="403"),
    pytest.param(422, {"message": "invalid", "errors": {"to": ["The to field is invalid."]}}, id="422"),
    pytest.param(429, {"message": "Too Many Attempts."}, id="429"),
]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def refuse_once(sandbox: Sandbox, status: int, body: dict[str, Any]) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=status, body=body))


def confirming(settings: Settings, mode: str, **update: Any) -> Settings:
    return settings.model_copy(update={"confirm": mode, **update})


@pytest.mark.parametrize(("status", "body"), UPSTREAM_REFUSALS)
async def test_confirm_again_after_upstream_refusal_sends_once(
    settings: Settings, sandbox: Sandbox, era: str, status: int, body: dict[str, Any]
) -> None:
    refuse_once(sandbox, status, body)
    person = Person()
    async with connect(confirming(settings, "auto"), era, person) as client:
        assert_nothing_sent(await send(client, body="Top-up done, try me again"), sandbox, posts_so_far=1)
        # The person tops up (or waits), then confirms the very same message again.
        sent(await send(client, body="Top-up done, try me again"))
    assert len(person.questions) == 2
    assert len(sandbox.state.messages) == 1
    assert posts(sandbox) == 2


@pytest.mark.parametrize(("status", "body"), UPSTREAM_REFUSALS)
async def test_same_token_confirms_again_after_upstream_refusal_sends_once(
    settings: Settings, sandbox: Sandbox, era: str, status: int, body: dict[str, Any]
) -> None:
    async with connect(confirming(settings, "token", duplicate_window_seconds=0), era) as client:
        token = confirmation_token(await send(client, body="Invoice 7 approved"))
        refuse_once(sandbox, status, body)
        assert_nothing_sent(
            await send(client, body="Invoice 7 approved", confirmation_token=token), sandbox, posts_so_far=1
        )
        sent(await send(client, body="Invoice 7 approved", confirmation_token=token))
        # Now it led to a message: used up.
        again = await send(client, body="Invoice 7 approved", confirmation_token=token)
        assert_nothing_sent(again, sandbox, posts_so_far=2, says="already used")
    assert len(sandbox.state.messages) == 1


async def test_replayed_2026_retry_after_upstream_refusal_sends_once(settings: Settings, sandbox: Sandbox) -> None:
    arguments = {"to": US, "body": "Meet at noon"}
    async with connect(confirming(settings, "auto", duplicate_window_seconds=0), "auto", Person()) as client:
        first = await asked(client, arguments)
        refuse_once(sandbox, 402, {"message": "Insufficient credits."})
        refused = await answer(client, arguments, first)
        assert isinstance(refused, CallToolResult)
        assert_nothing_sent(refused, sandbox, posts_so_far=1)
        went = await answer(client, arguments, first)  # the person's same answer, sent again
        assert isinstance(went, CallToolResult)
        sent(went)
        replay = await answer(client, arguments, first)  # now it led to a message: used up
    if isinstance(replay, CallToolResult):
        assert_nothing_sent(replay, sandbox, posts_so_far=2, says="already used")
    else:  # the spend moved today's budget, so the recorded answer no longer fits: asked afresh
        assert replay.request_state != first.request_state
    assert len(sandbox.state.messages) == 1
    assert posts(sandbox) == 2


async def test_token_that_led_to_an_unknown_outcome_stays_used(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(confirming(settings, "token", duplicate_window_seconds=0, timeout_seconds=0.5), era) as client:
        token = confirmation_token(await send(client, body="Gate code 4821"))
        sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=500))
        assert_outcome_unknown(await send(client, body="Gate code 4821", confirmation_token=token))
        again = await send(client, body="Gate code 4821", confirmation_token=token)
        # The message itself is still unknown, which refuses it before its confirmation is even looked at.
        assert "must not be retried" in assert_outcome_unknown(again)
        assert posts(sandbox) == 1


async def test_2026_confirmation_that_led_to_an_unknown_outcome_is_not_reused(
    settings: Settings, sandbox: Sandbox
) -> None:
    arguments = {"to": US, "body": "Gate code 4821"}
    async with connect(confirming(settings, "auto", duplicate_window_seconds=0), "auto", Person()) as client:
        first = await asked(client, arguments)
        sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="drop"))
        lost = await answer(client, arguments, first)
        assert isinstance(lost, CallToolResult)
        assert_outcome_unknown(lost)
        again = await answer(client, arguments, first)
    if isinstance(again, CallToolResult):  # refused as unknown: the message, not only its confirmation, is held
        assert "must not be retried" in assert_outcome_unknown(again)
    else:  # the reservation kept moved today's budget, so the recorded answer no longer fits: asked afresh
        assert again.request_state != first.request_state
    assert posts(sandbox) == 1
