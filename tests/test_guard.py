"""The send guard (CONTRACT section 4), one test per hazard, through a real MCP client in both protocol eras.

Every send test counts the `POST /api/v1/sms/send` requests that reached the sandbox over HTTP.
"""

from __future__ import annotations

import base64
import json
import os
import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult

from smsai_mcp.config import Settings
from smsai_mcp.guard.stages import fingerprint
from smsai_mcp.guard.tokens import TOKEN_LIFETIME_SECONDS, ConfirmationTokens
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.server import build_server
from tests.clock import FakeClock
from tests.conftest import ERAS, SEND_PATH, posts
from tests.guard_helpers import (
    CA,
    GB,
    JM,
    PREMIUM,
    US,
    US_FORMATTED,
    US_MASKED,
    Person,
    answer,
    asked,
    assert_nothing_sent,
    assert_outcome_unknown,
    balance,
    confirmation_token,
    connect,
    credits,
    ledger,
    send,
    sent,
    structured,
    usd,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def confirming(settings: Settings, mode: str, **update: Any) -> Settings:
    return settings.model_copy(update={"confirm": mode, **update})


# 1. Confirmation through elicitation


@pytest.mark.parametrize("mode", ["auto", "elicit"])
async def test_a_client_that_can_ask_sends_only_after_the_person_checks_the_box(
    settings: Settings, sandbox: Sandbox, era: str, mode: str
) -> None:
    person = Person()
    async with connect(confirming(settings, mode), era, person) as client:
        result = await send(client, body="Dinner at 8?")
    assert len(person.questions) == 1
    assert sent(result)["message"]["to"] == US
    assert posts(sandbox) == 1


ANSWERS_THAT_DO_NOT_CONFIRM = [
    pytest.param("decline", None, "declined", id="decline"),
    pytest.param("cancel", None, "cancelled", id="cancel"),
    pytest.param("accept", {"confirm": False}, "did not check the box", id="accept-unchecked"),
    pytest.param("accept", {}, "did not check the box", id="accept-box-left-at-default"),
]


@pytest.mark.parametrize(("action", "content", "says"), ANSWERS_THAT_DO_NOT_CONFIRM)
async def test_anything_but_a_checked_accept_sends_nothing(
    settings: Settings,
    sandbox: Sandbox,
    era: str,
    action: Literal["accept", "decline", "cancel"],
    content: dict[str, Any] | None,
    says: str,
) -> None:
    person = Person(action=action, content=content)
    async with connect(confirming(settings, "auto"), era, person) as client:
        result = await send(client, body="Dinner at 8?")
        assert len(person.questions) == 1
        assert_nothing_sent(result, sandbox, posts_so_far=0, says=says)
        spent = (await balance(client))["spent_today_usd"]
    assert spent == 0
    assert sandbox.state.messages == []


MALFORMED_ACCEPTS = [
    pytest.param({"confirm": "maybe"}, id="box-not-a-boolean"),
    pytest.param(None, id="accept-without-content"),
]


@pytest.mark.parametrize("content", MALFORMED_ACCEPTS)
async def test_a_malformed_accept_is_refused_as_nothing_sent(
    settings: Settings, sandbox: Sandbox, era: str, content: dict[str, Any] | None
) -> None:
    person = Person(action="accept", content=content)
    async with connect(confirming(settings, "auto"), era, person) as client:
        result = await send(client, body="Dinner at 8?")
    assert_nothing_sent(result, sandbox, posts_so_far=0)


async def test_the_question_shows_everything_the_person_needs_to_decide(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    body = " ".join(["Café ☕ at 5?"] * 8)  # 103 characters, one of them outside GSM-7: 2 UCS-2 segments
    before = credits(sandbox)
    person = Person()
    async with connect(confirming(settings, "auto"), era, person) as client:
        estimate = structured(await client.call_tool("estimate_sms", {"to": GB, "body": body}))
        result = await send(client, to=GB, body=body, sender_id="Acme")
    assert (estimate["encoding"], estimate["segments"]) == ("UCS-2", 2)
    cost = usd(estimate["estimated_cost_usd"])
    assert cost == Decimal("0.0820")
    [question] = person.questions
    lines = question.splitlines()
    assert "To: +44 7400 123456 (United Kingdom)" in lines
    assert "From: Acme" in lines
    assert f"«{body}»" in lines
    assert "Segments: 2 (UCS-2, 103 characters)" in lines
    assert "Estimated cost: $0.0820" in lines
    assert f"Balance after: ${before - cost:.4f}" in lines
    assert sent(result)["message"]["price_usd"] == float(cost)
    assert posts(sandbox) == 1


async def test_the_question_shows_the_whole_of_a_long_text(settings: Settings, sandbox: Sandbox, era: str) -> None:
    body = "Start of a long note. " + "x" * 400 + " THE END"
    person = Person()
    async with connect(confirming(settings, "auto"), era, person) as client:
        sent(await send(client, body=body))
    [question] = person.questions
    assert f"«{body}»" in question.splitlines()  # it showed the first 160 characters only, and hid the rest
    assert f"To: {US_FORMATTED} (United States)" in question
    assert "From: the account default sender" in question
    assert posts(sandbox) == 1


async def test_a_refused_send_never_asks_the_person(settings: Settings, sandbox: Sandbox, era: str) -> None:
    person = Person()
    settings = confirming(settings, "auto", max_cost_per_message_usd=Decimal("0.05"))
    async with connect(settings, era, person) as client:
        result = await send(client, body="☕" * 400)  # 6 UCS-2 segments: $0.06
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="SMSAI_MAX_COST_PER_MESSAGE_USD")
    assert person.questions == []


# 2. A client that cannot ask the person, under each SMSAI_CONFIRM


@pytest.mark.parametrize("mode", ["auto", "token"])
async def test_blind_send_without_confirmation_gets_a_token_not_a_send(
    settings: Settings, sandbox: Sandbox, era: str, mode: str
) -> None:
    async with connect(confirming(settings, mode), era) as client:
        first = await send(client, body="Your code is 1234")
        token = confirmation_token(first)
        content = structured(first)
        assert content["estimate"]["to"] == US
        expires = datetime.fromisoformat(content["expires_at"].replace("Z", "+00:00"))
        assert abs(expires.timestamp() - (time.time() + TOKEN_LIFETIME_SECONDS)) < 30
        assert posts(sandbox) == 0
        assert sent(await send(client, body="Your code is 1234", confirmation_token=token))["message"]["to"] == US
    assert posts(sandbox) == 1


async def test_token_mode_never_asks_even_a_client_that_can(settings: Settings, sandbox: Sandbox, era: str) -> None:
    person = Person()
    async with connect(confirming(settings, "token"), era, person) as client:
        confirmation_token(await send(client))
    assert person.questions == []
    assert posts(sandbox) == 0


async def test_elicit_mode_refuses_a_client_that_cannot_ask(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(confirming(settings, "elicit"), era) as client:
        result = await send(client)  # a tool result: a protocol error would raise here
        assert_nothing_sent(result, sandbox, posts_so_far=0, says="SMSAI_CONFIRM=elicit")
        assert (await balance(client))["spent_today_usd"] == 0


async def test_off_mode_sends_without_asking(settings: Settings, sandbox: Sandbox, era: str) -> None:
    person = Person()
    async with connect(confirming(settings, "off"), era, person) as client:
        sent(await send(client))
    assert person.questions == []
    assert posts(sandbox) == 1


# 3. The token flow


async def test_token_replay_inside_the_duplicate_window_sends_nothing_more(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(confirming(settings, "token"), era) as client:
        token = confirmation_token(await send(client))
        first = sent(await send(client, confirmation_token=token))
        again = structured(await send(client, confirmation_token=token))
    assert again["status"] == "duplicate"
    assert again["message"]["id"] == first["message"]["id"]
    assert posts(sandbox) == 1


async def test_token_replay_outside_the_duplicate_window_is_refused(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(confirming(settings, "token", duplicate_window_seconds=0), era) as client:
        token = confirmation_token(await send(client))
        sent(await send(client, confirmation_token=token))
        assert_nothing_sent(await send(client, confirmation_token=token), sandbox, posts_so_far=1, says="already used")


async def test_token_replay_under_a_new_idempotency_key_is_refused(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(confirming(settings, "token"), era) as client:
        token = confirmation_token(await send(client, idempotency_key="first-key"))
        first = sent(await send(client, idempotency_key="first-key", confirmation_token=token))
        # The same key: the earlier result, whatever the token.
        same_key = sent(await send(client, idempotency_key="first-key", confirmation_token=token))
        assert same_key["message"]["id"] == first["message"]["id"]
        # A new key skips the key and the duplicate window: the spent token alone must stop it.
        replay = await send(client, idempotency_key="second-key", confirmation_token=token)
        assert_nothing_sent(replay, sandbox, posts_so_far=1, says="already used")


def _tampered_claims(token: str) -> str:
    prefix, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    decoded["exp"] += 10**6
    forged = base64.urlsafe_b64encode(json.dumps(decoded, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{prefix}.{forged}.{signature}"


def _tampered_signature(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _other_install(token: str) -> str:
    return ConfirmationTokens(os.urandom(32)).issue(fingerprint(US, "Transfer approved", None), now=time.time())[0]


FORGERIES = [
    pytest.param(_tampered_signature, id="tampered-signature"),
    pytest.param(_tampered_claims, id="tampered-claims"),
    pytest.param(_other_install, id="signed-by-another-install"),
    pytest.param(lambda _: "not-a-token", id="garbage"),
    pytest.param(lambda _: "smsc1.e30.AAAA", id="right-prefix-garbage"),
    pytest.param(lambda _: "smsc1..", id="empty-parts"),
]


@pytest.mark.parametrize("forge", FORGERIES)
async def test_forged_token_sends_nothing(settings: Settings, sandbox: Sandbox, era: str, forge: Any) -> None:
    async with connect(confirming(settings, "token"), era) as client:
        token = confirmation_token(await send(client, body="Transfer approved"))
        forged = forge(token)
        assert forged != token
        result = await send(client, body="Transfer approved", confirmation_token=forged)
        assert_nothing_sent(result, sandbox, posts_so_far=0, says="not one this server issued")


async def test_forged_token_with_non_ascii_characters_sends_nothing(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(confirming(settings, "token"), era) as client:
        token = confirmation_token(await send(client, body="Transfer approved"))
        forged = token[:-1] + "é"
        result = await send(client, body="Transfer approved", confirmation_token=forged)
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="not one this server issued")


ANOTHER_MESSAGE = [
    pytest.param({"body": "Transfer approved!"}, id="other-body"),
    pytest.param({"to": CA}, id="other-recipient"),
    pytest.param({"sender_id": "Bank"}, id="other-sender"),
    pytest.param({"sender_id": None}, id="sender-left-out"),
]


@pytest.mark.parametrize("change", ANOTHER_MESSAGE)
async def test_token_for_another_message_sends_nothing(
    settings: Settings, sandbox: Sandbox, era: str, change: dict[str, Any]
) -> None:
    original = {"to": US, "body": "Transfer approved", "sender_id": "Acme"}
    other = {key: value for key, value in {**original, **change}.items() if value is not None}
    async with connect(confirming(settings, "token"), era) as client:
        token = confirmation_token(await client.call_tool("send_sms", original))
        result = await client.call_tool("send_sms", {**other, "confirmation_token": token})
        assert_nothing_sent(result, sandbox, posts_so_far=0, says="different message")
        # The refusal did not use the token up: the message it was issued for still goes out, once.
        sent(await client.call_tool("send_sms", {**original, "confirmation_token": token}))
    assert posts(sandbox) == 1
    assert sandbox.state.messages[0].body == "Transfer approved"


async def test_expired_token_sends_nothing(settings: Settings, sandbox: Sandbox, era: str) -> None:
    body = "Transfer approved"
    async with connect(confirming(settings, "token"), era) as client:
        confirmation_token(await send(client, body=body))  # the server is up and its secret written
        assert settings.state_dir is not None
        tokens = ConfirmationTokens((settings.state_dir / "secret").read_bytes())
        issued_at = time.time() - TOKEN_LIFETIME_SECONDS - 5
        expired, _ = tokens.issue(fingerprint(US, body, None), now=issued_at)
        refused = await send(client, body=body, confirmation_token=expired)
        assert_nothing_sent(refused, sandbox, posts_so_far=0, says="expired")
        # The same construction, dated now, is accepted: the refusal above was for the age alone.
        fresh, _ = tokens.issue(fingerprint(US, body, None), now=time.time())
        sent(await send(client, body=body, confirmation_token=fresh))
    assert posts(sandbox) == 1


async def test_a_confirmed_token_does_not_bypass_the_budget_spent_since(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = confirming(settings, "token", daily_budget_usd=Decimal("0.01"))
    async with connect(settings, era) as client:
        first = confirmation_token(await send(client, body="one"))
        second = confirmation_token(await send(client, body="two"))  # both fit the budget when issued
        sent(await send(client, body="one", confirmation_token=first))
        assert_nothing_sent(
            await send(client, body="two", confirmation_token=second), sandbox, posts_so_far=1, says="daily budget"
        )


# 4. A replayed 2026-07-28 retry


@pytest.mark.parametrize("window", [600, 0])
async def test_replayed_2026_retry_sends_nothing_more(settings: Settings, sandbox: Sandbox, window: int) -> None:
    arguments = {"to": US, "body": "Meet at noon"}
    settings = confirming(settings, "auto", duplicate_window_seconds=window)
    async with connect(settings, "auto", Person()) as client:
        first = await asked(client, arguments)
        assert posts(sandbox) == 0
        final = await answer(client, arguments, first)
        assert isinstance(final, CallToolResult)
        message_id = sent(final)["message"]["id"]
        assert posts(sandbox) == 1
        replay = await answer(client, arguments, first)  # the very same retry, once more
    assert posts(sandbox) == 1
    if window:
        assert isinstance(replay, CallToolResult)
        duplicate = structured(replay)
        assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", message_id)
    elif isinstance(replay, InputRequiredResult):
        # The recorded answer no longer counts: the person is asked afresh (budget and balance have moved).
        assert replay.request_state != first.request_state
    else:
        assert_nothing_sent(replay, sandbox, posts_so_far=1, says="already used")


async def test_a_2026_answer_for_one_message_does_not_confirm_another(settings: Settings, sandbox: Sandbox) -> None:
    async with connect(confirming(settings, "auto"), "auto", Person()) as client:
        first = await asked(client, {"to": US, "body": "Pay Alice $5"})
        # The sealed request state is bound to its request: the SDK refuses it for other arguments, and the
        # refusal reaches the agent as a tool error that says nothing was sent.
        other = await answer(client, {"to": US, "body": "Pay Mallory $500"}, first)
    assert isinstance(other, CallToolResult)
    assert_nothing_sent(other, sandbox, posts_so_far=0, says="confirms nothing")


async def test_an_answer_that_arrives_after_the_budget_is_spent_sends_nothing(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    settings = confirming(settings, "auto", daily_budget_usd=Decimal("0.01"))
    async with connect(settings.model_copy(update={"confirm": "off"}), era) as other_agent:

        async def slow_person(context: Any, params: Any) -> ElicitResult:
            # While the person reads the question, another agent on the same ledger spends the budget.
            sent(await send(other_agent, to=CA, body="spent meanwhile"))
            return ElicitResult(action="accept", content={"confirm": True})

        async with Client(build_server(settings), mode=era, elicitation_callback=slow_person) as client:
            late = await send(client, body="asked first")
    assert_nothing_sent(late, sandbox, posts_so_far=1, says="daily budget")
    assert [message.body for message in sandbox.state.messages] == ["spent meanwhile"]


# 7. A restart keeps the day's spend


async def test_restart_keeps_the_days_spend(settings: Settings, sandbox: Sandbox, era: str) -> None:
    settings = settings.model_copy(update={"daily_budget_usd": Decimal("0.01")})
    async with connect(settings, era) as client:
        price = sent(await send(client, body="before the restart"))["message"]["price_usd"]
    async with connect(settings, era) as client:
        after = await balance(client)
        assert after["spent_today_usd"] == price == 0.01
        assert after["daily_budget_remaining_usd"] == 0
        result = await send(client, body="after the restart")
        assert_nothing_sent(result, sandbox, posts_so_far=1, says="daily budget")


async def test_restart_settles_an_unknown_outcome_once_the_message_shows_up(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    body = "answer lost on the way back"
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=500))
    async with connect(settings, era) as client:
        assert_outcome_unknown(await send(client, body=body))
        assert (await balance(client))["spent_today_usd"] == 0.01  # the reservation is kept
    # The upstream turns out to have taken it after all (as a late-processed request would show).
    account = sandbox.state.accounts[SANDBOX_TOKEN]
    late = sandbox.state.send(account, US, body, None, Decimal("0.0100"), 1)
    assert settings.state_dir is not None
    async with connect(settings, era) as client:
        state_dir = settings.state_dir
        await _until(lambda: ledger(state_dir)[0]["status"] == "sent")
        assert (await balance(client))["spent_today_usd"] == 0.01
    [attempt] = ledger(settings.state_dir)
    assert attempt["message_id"] == late.id
    assert posts(sandbox) == 1


async def _until(condition: Any) -> None:
    """Wait (up to 10 s) for a background effect, such as the reconciliation a server runs at start."""
    with anyio.fail_after(10):
        while not condition():  # noqa: ASYNC110 - polling a file another task writes
            await anyio.sleep(0.05)


# 9. Duplicates


async def test_identical_send_inside_the_window_returns_the_earlier_message(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        first = sent(await send(client, body="Running late", sender_id="Acme"))
        again = structured(await send(client, body="Running late", sender_id="Acme"))
        written_differently = structured(
            await send(client, to="+1 (202) 555-1234", body="Running late", sender_id="Acme")
        )
        spent = (await balance(client))["spent_today_usd"]
    for duplicate in (again, written_differently):
        assert duplicate["status"] == "duplicate"
        assert duplicate["message"]["id"] == first["message"]["id"]
    assert spent == 0.01
    assert posts(sandbox) == 1


@pytest.mark.parametrize("window", [0, 1])
async def test_identical_send_outside_the_window_sends_again(
    settings: Settings, sandbox: Sandbox, era: str, window: int
) -> None:
    clock = FakeClock()
    async with connect(settings.model_copy(update={"duplicate_window_seconds": window}), era, clock=clock) as client:
        first = sent(await send(client, body="Running late"))
        clock.advance(window + 0.1)
        second = sent(await send(client, body="Running late"))
    assert second["message"]["id"] != first["message"]["id"]
    assert posts(sandbox) == 2


async def test_another_sender_is_not_a_duplicate(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings, era) as client:
        sent(await send(client, body="Running late", sender_id="Acme"))
        sent(await send(client, body="Running late"))
    assert posts(sandbox) == 2


async def test_whitespace_the_api_trims_does_not_slip_past_the_duplicate_window(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    """The API trims every body (Laravel's TrimStrings), so "text" and "text " reach the person identically."""
    async with connect(settings, era) as client:
        first = sent(await send(client, body="Running late"))
        for variant in ("Running late ", "Running late\n", "\tRunning late"):
            duplicate = structured(await send(client, body=variant))
            assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", first["message"]["id"])
    assert [message.body for message in sandbox.state.messages] == ["Running late"]
    assert posts(sandbox) == 1


# 10. Idempotency keys


async def test_same_idempotency_key_returns_the_earlier_result(settings: Settings, sandbox: Sandbox, era: str) -> None:
    settings = settings.model_copy(update={"daily_budget_usd": Decimal("0.01")})
    async with connect(settings, era) as client:
        first = sent(await send(client, idempotency_key="order-42"))
        again = sent(await send(client, idempotency_key="order-42"))  # the budget is spent: still the first answer
    assert again["message"]["id"] == first["message"]["id"]
    assert posts(sandbox) == 1


async def test_same_idempotency_key_for_another_message_is_refused(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        sent(await send(client, body="Order 42 shipped", idempotency_key="order-42"))
        result = await send(client, body="Order 43 shipped", idempotency_key="order-42")
        assert_nothing_sent(result, sandbox, posts_so_far=1, says="idempotency_key")


async def test_a_new_idempotency_key_sends_even_inside_the_duplicate_window(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    async with connect(settings, era) as client:
        first = sent(await send(client, idempotency_key="order-42"))
        second = sent(await send(client, idempotency_key="order-43"))
    assert second["message"]["id"] != first["message"]["id"]
    assert posts(sandbox) == 2


# 11. Lost answers: never resent, looked up before answering


LOST_ANSWERS = [
    pytest.param({"response": "status", "status": 500}, id="500"),
    pytest.param({"response": "status", "status": 503}, id="503"),
    pytest.param({"response": "normal", "delay_seconds": 1.5}, id="timeout"),
    pytest.param({"response": "drop"}, id="connection-reset"),
]


@pytest.mark.parametrize("fault", LOST_ANSWERS)
async def test_lost_answer_for_a_message_that_went_out_is_reported_sent_without_resending(
    settings: Settings, sandbox: Sandbox, era: str, fault: dict[str, Any]
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, process=True, **fault))
    async with connect(settings.model_copy(update={"timeout_seconds": 0.5}), era) as client:
        result = sent(await send(client, body="Gate code 4821"))
        spent = (await balance(client))["spent_today_usd"]
    [message] = sandbox.state.messages
    assert result["message"]["id"] == message.id
    assert spent == float(message.price_usd)
    assert posts(sandbox) == 1


@pytest.mark.parametrize("fault", LOST_ANSWERS)
async def test_lost_answer_for_a_message_not_found_is_unknown_and_stays_reserved(
    settings: Settings, sandbox: Sandbox, era: str, fault: dict[str, Any]
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, process=False, **fault))
    async with connect(settings.model_copy(update={"timeout_seconds": 0.5}), era) as client:
        assert_outcome_unknown(await send(client, body="Gate code 4821"))
        assert (await balance(client))["spent_today_usd"] == 0.01
        # The model retries anyway: nothing more goes out.
        assert_outcome_unknown(await send(client, body="Gate code 4821"))
    assert sandbox.state.messages == []
    assert posts(sandbox) == 1


UPSTREAM_REFUSALS = [
    pytest.param(402, {"message": "Insufficient credits."}, "402", id="402"),
    pytest.param(403, {"message": "Spending limit reached."}, "Spending limit reached.", id="403"),
    pytest.param(422, {"message": "invalid", "errors": {"to": ["The to field is invalid."]}}, "to field", id="422"),
    pytest.param(429, {"message": "Too Many Attempts."}, "429", id="429"),
]


@pytest.mark.parametrize(("status", "body", "says"), UPSTREAM_REFUSALS)
async def test_upstream_refusal_releases_the_reservation_and_is_not_resent(
    settings: Settings, sandbox: Sandbox, era: str, status: int, body: dict[str, Any], says: str
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=status, body=body))
    async with connect(settings, era) as client:
        assert_nothing_sent(await send(client), sandbox, posts_so_far=1, says=says)
        assert (await balance(client))["spent_today_usd"] == 0


# 12. Destination rules, caps and limits


DESTINATION_RULES = [
    pytest.param({"blocked_countries": frozenset({"US"})}, US, "SMSAI_BLOCKED_COUNTRIES", id="blocked-country"),
    pytest.param(
        {"blocked_countries": frozenset({"US"}), "allowed_countries": frozenset({"US", "CA"})},
        US,
        "SMSAI_BLOCKED_COUNTRIES",
        id="blocked-wins-over-allowed",
    ),
    pytest.param({"allowed_countries": frozenset({"CA"})}, US, "SMSAI_ALLOWED_COUNTRIES", id="not-allowed-country"),
    pytest.param({"allowed_countries": frozenset({"US"})}, JM, "SMSAI_ALLOWED_COUNTRIES", id="jamaica-is-not-us"),
    pytest.param({"allowed_recipients": frozenset({CA})}, US, "SMSAI_ALLOWED_RECIPIENTS", id="not-allowed-recipient"),
    pytest.param({}, PREMIUM, "premium-rate", id="premium-rate"),
]


@pytest.mark.parametrize(("policy", "to", "says"), DESTINATION_RULES)
async def test_destination_rules_refuse_before_any_post(
    settings: Settings, sandbox: Sandbox, era: str, policy: dict[str, Any], to: str, says: str
) -> None:
    async with connect(settings.model_copy(update=policy), era) as client:
        assert_nothing_sent(await send(client, to=to), sandbox, posts_so_far=0, says=says)


async def test_premium_rate_is_refused_even_when_allowed_by_name(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    policy = {"allowed_countries": frozenset({"US"}), "allowed_recipients": frozenset({PREMIUM})}
    async with connect(settings.model_copy(update=policy), era) as client:
        assert_nothing_sent(await send(client, to=PREMIUM), sandbox, posts_so_far=0, says="premium-rate")


ALLOWED = [
    pytest.param({"allowed_countries": frozenset({"CA"})}, CA, id="allowed-country"),
    pytest.param({"blocked_countries": frozenset({"US"})}, CA, id="unblocked-country"),
    pytest.param({"allowed_recipients": frozenset({CA})}, "+1 416 555 0123", id="allowed-recipient-written-freely"),
]


@pytest.mark.parametrize(("policy", "to"), ALLOWED)
async def test_an_allowed_destination_still_sends(
    settings: Settings, sandbox: Sandbox, era: str, policy: dict[str, Any], to: str
) -> None:
    async with connect(settings.model_copy(update=policy), era) as client:
        assert sent(await send(client, to=to))["message"]["to"] == CA
    assert posts(sandbox) == 1


async def test_per_recipient_hourly_limit_stops_a_looping_agent(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings.model_copy(update={"max_per_recipient_per_hour": 2}), era) as client:
        sent(await send(client, body="reminder 1"))
        sent(await send(client, body="reminder 2"))
        third = await send(client, body="reminder 3")
        assert_nothing_sent(third, sandbox, posts_so_far=2, says="SMSAI_MAX_PER_RECIPIENT_PER_HOUR")
        sent(await send(client, to=CA, body="reminder 3"))  # another number is not held back
    assert posts(sandbox) == 3


async def test_per_message_cap_refuses_a_long_ucs2_body(settings: Settings, sandbox: Sandbox, era: str) -> None:
    body = "Привет! " * 200  # 1600 characters of Cyrillic: 24 UCS-2 segments, $0.24
    async with connect(settings.model_copy(update={"max_cost_per_message_usd": Decimal("0.10")}), era) as client:
        estimate = structured(await client.call_tool("estimate_sms", {"to": US, "body": body}))
        assert (estimate["encoding"], estimate["segments"]) == ("UCS-2", 24)
        result = await send(client, body=body)
        text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="SMSAI_MAX_COST_PER_MESSAGE_USD")
    assert "UCS-2" in text


async def test_daily_budget_refuses_the_send_that_would_pass_it(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings.model_copy(update={"daily_budget_usd": Decimal("0.02")}), era) as client:
        sent(await send(client, body="one"))
        sent(await send(client, body="two"))
        assert_nothing_sent(await send(client, body="three"), sandbox, posts_so_far=2, says="daily budget")
        assert (await balance(client))["spent_today_usd"] == 0.02


# 13. The audit log


async def test_audit_log_is_one_masked_line_per_event_without_token_or_text(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    bodies = ["The vault code is 918273", "The alarm code is 5566", "The safe code is 7788"]
    async with connect(confirming(settings, "token"), era) as client:
        token = confirmation_token(await send(client, body=bodies[0]))
        message_id = sent(await send(client, body=bodies[0], confirmation_token=token))["message"]["id"]
        sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=500))
        token = confirmation_token(await send(client, body=bodies[1]))
        assert_outcome_unknown(await send(client, body=bodies[1], confirmation_token=token))
        sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=402))
        token = confirmation_token(await send(client, body=bodies[2]))
        assert_nothing_sent(await send(client, body=bodies[2], confirmation_token=token), sandbox, posts_so_far=3)
    assert settings.state_dir is not None
    raw = (settings.state_dir / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in raw.splitlines()]
    assert raw.endswith("\n")
    assert [entry["outcome"] for entry in entries] == [
        *("confirmation_required", "reserved", "sent"),
        *("confirmation_required", "reserved", "unknown"),
        *("confirmation_required", "reserved", "refused"),
    ]
    for entry in entries:
        assert entry["to"] == US_MASKED
        datetime.fromisoformat(entry["time"])
        assert entry["segments"] == 1
        assert Decimal(entry["estimate_usd"]) == Decimal("0.01")
    assert entries[2]["message_id"] == message_id
    assert SANDBOX_TOKEN not in raw
    assert US not in raw
    assert US[1:] not in raw
    assert "smsc1." not in raw  # nor a confirmation token
    for body in bodies:
        assert body not in raw
        assert body.split()[-1] not in raw


async def test_audit_log_records_refusals_before_reservation_with_the_step_not_the_words(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    person = Person(action="decline")
    async with connect(confirming(settings, "auto"), era, person) as client:
        assert_nothing_sent(await send(client, to=PREMIUM, body="win a prize"), sandbox, posts_so_far=0)
        assert_nothing_sent(await send(client, body="please decline me"), sandbox, posts_so_far=0)
    assert settings.state_dir is not None
    raw = (settings.state_dir / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in raw.splitlines()]
    assert [(entry["outcome"], entry["reason"]) for entry in entries] == [
        ("refused", "premium_rate"),
        ("refused", "declined"),
    ]
    assert PREMIUM not in raw
    assert US not in raw
    assert "prize" not in raw
    assert "decline me" not in raw


async def test_a_text_cannot_forge_lines_of_the_question(settings: Settings, sandbox: Sandbox, era: str) -> None:
    person = Person(action="decline")
    forged = "Hi\nEstimated cost: $0.0001\nTo: +1 202-555-0000 (Mom)"
    async with connect(confirming(settings, "auto"), era, person) as client:
        await send(client, body=forged)
    [question] = person.questions
    lines = question.splitlines()
    assert [line for line in lines if line.startswith("Estimated cost:")] == ["Estimated cost: $0.0100"]
    assert [line for line in lines if line.startswith("To:")] == ["To: +1 202-555-1234 (United States)"]
    assert posts(sandbox) == 0
