"""send_sms_batch (CONTRACT sections 3 and 4, "Batches"): every recipient through the guard, one question or one
token for the rest, the whole batch against the budgets before anyone is asked, then each recipient sent once.

Every test counts the `POST /api/v1/sms/send` requests that reached the sandbox over HTTP.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult

from smsai_mcp.config import Settings
from smsai_mcp.guard.batch import SENDS_AT_ONCE
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.server import build_server
from tests.clock import FakeClock
from tests.conftest import ERAS, SEND_PATH, posts
from tests.guard_helpers import (
    GB,
    PREMIUM,
    Person,
    assert_nothing_sent,
    checked,
    connect,
    ledger,
    send,
    structured,
    until,
    upstream_env,
)
from tests.processes import SERVER, server_env

pytestmark = pytest.mark.anyio

BODY = "The school bus is 20 minutes late today."
TWENTY = [f"+1202555{1200 + i}" for i in range(20)]  # United States, 0.0100 per segment in the sandbox
FR = "+33612345678"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def confirming(settings: Settings, mode: str, **update: Any) -> Settings:
    return settings.model_copy(update={"confirm": mode, **update})


async def send_batch(client: Client, recipients: list[str], body: str = BODY, **extra: Any) -> CallToolResult:
    return await client.call_tool("send_sms_batch", {"recipients": recipients, "body": body, **extra})


def statuses(result: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in result["results"]]


def sent_to(sandbox: Sandbox) -> list[str]:
    """The numbers the upstream took a message for, in the order it took them."""
    return [message.to for message in sandbox.state.messages]


# 1. One question, twenty POSTs


async def test_a_batch_to_twenty_numbers_is_one_question_and_twenty_posts_with_results_in_order(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    person = Person()
    async with connect(confirming(settings, "auto"), era, person) as client:
        result = structured(await send_batch(client, TWENTY))
    assert len(person.questions) == 1
    assert posts(sandbox) == 20
    assert sorted(sent_to(sandbox)) == sorted(TWENTY)  # each number once
    assert result["status"] == "done"
    assert [entry["to"] for entry in result["results"]] == TWENTY
    assert statuses(result) == ["sent"] * 20
    assert result["sent_count"] == 20
    assert result["refused_count"] == 0
    assert result["estimate_total_usd"] == pytest.approx(0.20)
    assert {entry["message"]["to"] for entry in result["results"]} == set(TWENTY)
    question = person.questions[0]
    assert "Send this SMS to 20 recipients?" in question
    assert "+1 202-555-1200 (United States)" in question
    assert "+1 202-555-1219 (United States)" in question
    assert f"«{BODY}»" in question
    assert "Total estimated cost: $0.2000 for 20 SMS" in question


async def test_the_batch_question_lists_every_recipient_on_its_own_line_and_the_text_cannot_add_lines(
    settings: Settings, sandbox: Sandbox
) -> None:
    person = Person()
    forged = "Hi\u200b\n2. +1 202-555-9999 (United States) $0.0100"
    async with connect(confirming(settings, "elicit"), "legacy", person) as client:
        structured(await send_batch(client, [TWENTY[0], GB], body=forged))
    [question] = person.questions
    lines = question.splitlines()
    assert lines[1] == "1. +1 202-555-1200 (United States) $0.0100"
    assert lines[2].startswith("2. +44 7400 123456 (United Kingdom) $")
    assert "2. +1 202-555-9999" not in lines  # the text's line break is shown, not obeyed
    assert "«Hi⟨U+200B⟩⏎2. +1 202-555-9999 (United States) $0.0100»" in question
    assert posts(sandbox) == 2


# 2. Each recipient through the guard


async def test_recipients_a_guard_refuses_are_listed_with_their_reason_and_not_sent_while_the_rest_are(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    over_limit = TWENTY[2]
    policy = {"blocked_countries": frozenset({"FR"}), "max_per_recipient_per_hour": 1}
    async with connect(settings.model_copy(update=policy), era) as client:
        structured(await send(client, to=over_limit, body="An earlier message"))
        result = structured(await send_batch(client, [TWENTY[0], FR, PREMIUM, over_limit, TWENTY[1]]))
    assert statuses(result) == ["sent", "refused", "refused", "refused", "sent"]
    reasons = [entry.get("reason", "") for entry in result["results"]]
    assert "SMSAI_BLOCKED_COUNTRIES" in reasons[1]
    assert "premium-rate" in reasons[2]
    assert "SMSAI_MAX_PER_RECIPIENT_PER_HOUR" in reasons[3]
    assert not reasons[3].startswith("Nothing was sent")  # the entry's reason; the status says nothing went
    assert result["sent_count"] == 2
    assert result["refused_count"] == 3
    assert result["estimate_total_usd"] == pytest.approx(0.02)
    assert "message" not in result["results"][1]
    assert result["results"][1]["estimate"]["blocked_by"] == "blocked_country"  # as estimate_sms would say
    assert "estimate" not in result["results"][2]  # a premium-rate number is never priced
    assert posts(sandbox) == 3
    assert sorted(sent_to(sandbox)) == sorted([over_limit, TWENTY[0], TWENTY[1]])


async def test_a_batch_no_recipient_of_which_can_be_sent_to_is_a_tool_error_that_says_each_reason(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    person = Person()
    update = {"blocked_countries": frozenset({"FR"}), "confirm": "auto"}
    async with connect(settings.model_copy(update=update), era, person) as client:
        text = assert_nothing_sent(await send_batch(client, [FR, PREMIUM]), sandbox, posts_so_far=0)
    assert f"{FR}: " in text
    assert "SMSAI_BLOCKED_COUNTRIES" in text
    assert f"{PREMIUM}: " in text
    assert person.questions == []


async def test_a_text_refused_for_every_recipient_says_its_reason_once(settings: Settings, sandbox: Sandbox) -> None:
    async with connect(settings, "auto") as client:
        result = await send_batch(client, TWENTY[:5], body="Your key: smsai_" + "a1B2" * 10)
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says=", ".join(TWENTY[:5]) + ": ")
    assert text.count("SMSAI_CONTENT_CHECKS") == 1
    assert "a1B2a1B2" not in text  # a refusal never repeats the secret


async def test_the_same_number_twice_in_one_batch_is_refused_by_input_validation(
    settings: Settings, sandbox: Sandbox
) -> None:
    async with connect(settings, "auto") as client:
        result = await send_batch(client, [TWENTY[0], GB, "+1 (202) 555-1200"])
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="Recipients 1 and 3 are the same number")


async def test_a_batch_larger_than_smsai_max_batch_size_is_refused_whole(settings: Settings, sandbox: Sandbox) -> None:
    async with connect(settings.model_copy(update={"max_batch_size": 19}), "auto") as client:
        result = await send_batch(client, TWENTY)
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="SMSAI_MAX_BATCH_SIZE")


# 3. The budgets, before anyone is asked


@pytest.mark.parametrize(
    ("budgets", "says"),
    [
        ({"daily_budget_usd": Decimal("0.15")}, "SMSAI_DAILY_BUDGET_USD"),
        ({"monthly_budget_usd": Decimal("0.15")}, "SMSAI_MONTHLY_BUDGET_USD"),
    ],
    ids=["daily", "monthly"],
)
async def test_a_batch_whose_total_passes_the_budget_is_refused_whole_before_anyone_is_asked(
    settings: Settings, sandbox: Sandbox, era: str, budgets: dict[str, Decimal], says: str
) -> None:
    """Each message (0.01) fits; the twenty together (0.20) do not."""
    person = Person()
    async with connect(confirming(settings, "auto", **budgets), era, person) as client:
        result = await send_batch(client, TWENTY)
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says=says)
    assert "No one was asked" in text
    assert person.questions == []


# 4. One token for the batch


async def test_one_token_confirms_exactly_that_batch_and_its_recipients(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    recipients = [TWENTY[0], GB, TWENTY[1]]
    async with connect(confirming(settings, "token"), era) as client:
        first = structured(await send_batch(client, recipients))
        assert first["status"] == "confirmation_required"
        assert statuses(first) == ["pending"] * 3
        assert first["expires_at"].endswith("Z")
        token = first["confirmation_token"]
        assert posts(sandbox) == 0
        for other in ([TWENTY[0], GB], [GB, TWENTY[0], TWENTY[1]], [*recipients, TWENTY[2]]):
            refused = await send_batch(client, other, confirmation_token=token)
            assert_nothing_sent(refused, sandbox, posts_so_far=0, says="issued for a different batch")
        done = structured(await send_batch(client, recipients, confirmation_token=token))
        replayed = structured(await send_batch(client, recipients, confirmation_token=token))
    assert done["status"] == "done"
    assert statuses(done) == ["sent"] * 3
    assert "confirmation_token" not in done
    assert statuses(replayed) == ["duplicate"] * 3  # the same token again sends nothing more
    assert posts(sandbox) == 3


@pytest.mark.parametrize("mode", ["auto", "token"])
async def test_a_batch_only_to_numbers_that_skip_confirmation_is_sent_without_a_question_or_token(
    settings: Settings, sandbox: Sandbox, mode: str
) -> None:
    """SMSAI_CONFIRM_SKIP_RECIPIENTS: the user's own phones. One number outside the list asks about the batch."""
    own = frozenset(TWENTY[:2])
    person = Person()
    async with connect(confirming(settings, mode, confirm_skip_recipients=own), "auto", person) as client:
        skipped = structured(await send_batch(client, TWENTY[:2]))
        assert posts(sandbox) == 2
        mixed = structured(await send_batch(client, TWENTY[1:3], body="Another text"))
    assert skipped["status"] == "done"
    assert statuses(skipped) == ["sent", "sent"]
    if mode == "token":
        assert mixed["status"] == "confirmation_required"
        assert posts(sandbox) == 2
        assert person.questions == []
    else:
        assert mixed["status"] == "done"
        assert len(person.questions) == 1
        assert posts(sandbox) == 4


async def test_a_person_who_declines_the_batch_question_sends_nothing(settings: Settings, sandbox: Sandbox) -> None:
    person = Person(action="decline", content=None)
    async with connect(confirming(settings, "auto"), "auto", person) as client:
        result = await send_batch(client, TWENTY[:3])
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="declined")
    assert len(person.questions) == 1


# 5. Exactly once: replay, a rate limit


async def test_a_batch_retried_under_its_idempotency_key_replays_its_results_without_a_post(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    recipients = TWENTY[:5]
    async with connect(settings, era) as client:
        first = structured(await send_batch(client, recipients, idempotency_key="school-bus-1"))
        again = structured(await send_batch(client, recipients, idempotency_key="school-bus-1"))
        other_text = await send_batch(client, recipients, body="Another text", idempotency_key="school-bus-1")
    assert posts(sandbox) == 5
    assert again == first
    assert statuses(again) == ["sent"] * 5
    assert_nothing_sent(other_text, sandbox, posts_so_far=5, says="already used in the last 24 hours")


async def test_a_rate_limit_on_one_recipient_refuses_that_one_only_and_a_retry_sends_it_once(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    limited = Fault(
        method="POST", path=SEND_PATH, status=429, headers={"Retry-After": "1"}, body={"message": "Too Many Attempts."}
    )
    sandbox.state.add_fault(limited)
    recipients = TWENTY[:6]
    async with connect(settings, era) as client:
        first = structured(await send_batch(client, recipients))
        [refused] = [entry for entry in first["results"] if entry["status"] == "refused"]
        assert statuses(first).count("sent") == 5
        assert "rate" in refused["reason"].lower()
        assert posts(sandbox) == 6
        retry = structured(await send_batch(client, recipients))
    assert posts(sandbox) == 7
    assert retry["sent_count"] == 1
    assert statuses(retry).count("duplicate") == 5
    assert sorted(sent_to(sandbox)) == sorted(recipients)  # each number once


async def test_recipients_a_slow_api_has_not_reached_before_their_reservation_ages_out_are_not_sent(
    settings: Settings, sandbox: Sandbox
) -> None:
    """The first POSTs hang while two minutes pass: a reservation that old counts as lost to the lookups, so the
    recipients not posted yet are given back unsent rather than posted behind the lookups' back."""
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.5, times=None))
    clock = FakeClock()

    async def two_minutes_pass_during_the_first_posts() -> None:
        await until(lambda: posts(sandbox) == SENDS_AT_ONCE)
        clock.advance(121)

    async with connect(settings, "legacy", clock=clock) as client, anyio.create_task_group() as group:
        group.start_soon(two_minutes_pass_during_the_first_posts)
        result = structured(await send_batch(client, TWENTY[:8]))
    assert statuses(result) == ["sent"] * SENDS_AT_ONCE + ["refused"] * (8 - SENDS_AT_ONCE)
    assert "took too long" in result["results"][-1]["reason"]
    assert posts(sandbox) == SENDS_AT_ONCE
    assert settings.state_dir is not None
    assert [a["status"] for a in ledger(settings.state_dir)].count("released") == 8 - SENDS_AT_ONCE


async def test_a_read_only_server_does_not_offer_send_sms_batch(settings: Settings, sandbox: Sandbox) -> None:
    async with connect(settings.model_copy(update={"read_only": True}), "auto") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "send_sms_batch" not in names
    assert "estimate_sms" in names
    assert posts(sandbox) == 0


async def test_a_batch_sends_a_few_at_a_time_and_reports_progress_to_a_client_that_asked(
    settings: Settings, sandbox: Sandbox
) -> None:
    """Each POST takes 0.15 s, long enough to see how many are in flight at once: more than one, at most a few."""
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.15, times=None))
    in_flight: list[int] = []
    reports: list[tuple[float, float | None]] = []

    async def reported(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total))

    async def watch() -> None:
        while True:
            in_flight.append(posts(sandbox) - len(sandbox.state.messages))
            await anyio.sleep(0.01)

    async with connect(settings, "legacy") as client, anyio.create_task_group() as group:
        group.start_soon(watch)
        result = await client.call_tool(
            "send_sms_batch", {"recipients": TWENTY, "body": BODY}, progress_callback=reported
        )
        group.cancel_scope.cancel()
    assert structured(result)["sent_count"] == 20
    assert posts(sandbox) == 20
    assert max(in_flight) <= SENDS_AT_ONCE
    assert max(in_flight) >= 2, in_flight
    assert len(reports) == 20
    assert reports[-1] == (20, 20)
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


# 6. A crash half-way


def unsettled(state_dir: Path) -> list[str]:
    return [attempt["status"] for attempt in ledger(state_dir) if attempt["status"] in ("pending", "unknown")]


@pytest.mark.slow  # starts the server as a process, kills it half-way, and waits out the API's slow answers
async def test_a_batch_killed_half_way_then_retried_under_its_key_never_texts_a_recipient_twice(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """Six POSTs answer at once, the next ones slowly (the API still sends them); the server is killed while four
    are in flight and ten are reserved but not yet posted. The same call again sends nothing while any outcome is
    unknown; once the lookups settle every attempt (found: sent; not found 15 minutes on: released), it sends the
    ten that never went out, and no number gets the text twice."""
    state_dir = tmp_path / "state"
    env = server_env(upstream_env(sandbox_url, state_dir))
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", times=6))
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=2.0, process_after_delay=True)
    sandbox.state.add_fault(dataclasses.replace(slow, times=None))
    arguments = {"recipients": TWENTY, "body": BODY, "idempotency_key": "bus-late-7"}
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    lost: list[MCPError] = []
    with (tmp_path / "killed.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:

            async def call_and_lose_the_answer() -> None:
                try:
                    await client.call_tool("send_sms_batch", arguments)
                except MCPError as exc:  # the server died mid-call
                    lost.append(exc)

            async with anyio.create_task_group() as group:
                group.start_soon(call_and_lose_the_answer)
                await until(lambda: posts(sandbox) == 10)
                pid = int(ledger(state_dir)[-1]["owner"].split(":")[1])
                assert pid != os.getpid()
                os.kill(pid, signal.SIGKILL)  # the server process this test started, by its id
    assert len(lost) == 1
    await until(lambda: len(sandbox.state.messages) == 10)  # the API finished the four in flight
    sandbox.state.clear_faults()
    settings = Settings.from_env(env)

    async with connect(settings, "auto") as client:
        at_once = structured(await client.call_tool("send_sms_batch", arguments))
    assert set(statuses(at_once)) <= {"sent", "unknown"}, at_once
    assert statuses(at_once)[:6] == ["sent"] * 6
    assert posts(sandbox) == 10

    later = FakeClock(time.time() + 960)  # past the 15 minutes after which a lookup that finds nothing releases
    async with connect(settings, "auto", clock=later, reconcile_every_seconds=0.2) as client:
        await until(lambda: not unsettled(state_dir))
        resumed = structured(await client.call_tool("send_sms_batch", arguments))
    assert statuses(resumed) == ["sent"] * 20
    assert posts(sandbox) == 20
    assert sorted(sent_to(sandbox)) == sorted(TWENTY)  # every number once


# 7. What the client sends back


async def asked_batch(client: Client, arguments: dict[str, Any]) -> InputRequiredResult:
    """The first round of a 2026-07-28 batch, driven by hand: the server asks its one question through the client."""
    first = await client.session.call_tool("send_sms_batch", arguments, allow_input_required=True)
    assert isinstance(first, InputRequiredResult), first
    assert first.input_requests is not None
    [request] = first.input_requests.values()
    assert request.method == "elicitation/create"
    return first


async def answer_batch(
    client: Client, arguments: dict[str, Any], first: InputRequiredResult
) -> CallToolResult | InputRequiredResult:
    return await client.session.call_tool(
        "send_sms_batch",
        arguments,
        allow_input_required=True,
        input_responses=checked(first),
        request_state=first.request_state,
    )


@pytest.mark.parametrize("window", [600, 0])
async def test_a_replayed_2026_batch_retry_sends_nothing_more(
    settings: Settings, sandbox: Sandbox, window: int
) -> None:
    arguments = {"recipients": TWENTY[:3], "body": BODY}
    async with connect(confirming(settings, "auto", duplicate_window_seconds=window), "auto", Person()) as client:
        first = await asked_batch(client, arguments)
        assert posts(sandbox) == 0
        final = await answer_batch(client, arguments, first)
        assert isinstance(final, CallToolResult)
        assert structured(final)["sent_count"] == 3
        replay = await answer_batch(client, arguments, first)  # the very same retry, once more
    assert posts(sandbox) == 3
    if window:
        assert isinstance(replay, CallToolResult)
        assert statuses(structured(replay)) == ["duplicate"] * 3
    elif isinstance(replay, CallToolResult):
        assert_nothing_sent(replay, sandbox, posts_so_far=3, says="already used")
    else:  # the recorded answer no longer counts: the person is asked afresh (the balance has moved)
        assert replay.request_state != first.request_state


async def _handler_that_raises(context: Any, params: Any) -> ElicitResult:
    raise RuntimeError("the host's dialog crashed")


async def test_a_client_whose_elicitation_fails_on_a_batch_gets_a_refusal_audited_for_each_recipient(
    settings: Settings, sandbox: Sandbox
) -> None:
    confirming_settings = confirming(settings, "auto")
    async with Client(
        build_server(confirming_settings), mode="legacy", elicitation_callback=_handler_that_raises
    ) as client:
        result = await send_batch(client, TWENTY[:2])
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says="confirm")
    assert "dialog crashed" not in text
    assert settings.state_dir is not None
    lines = [json.loads(line) for line in (settings.state_dir / "audit.jsonl").read_text().splitlines()]
    refused = [(line["outcome"], line["reason"]) for line in lines if line["outcome"] == "refused"]
    assert refused == [("refused", "elicitation_failed")] * 2


@pytest.mark.parametrize(
    "recipients", [[], ["12025551200"], [TWENTY[0], 42]], ids=["none", "without-plus", "not-a-string"]
)
async def test_recipients_that_break_the_schema_are_refused_saying_nothing_was_sent(
    settings: Settings, sandbox: Sandbox, recipients: list[Any]
) -> None:
    async with connect(settings, "auto") as client:
        result = await client.call_tool("send_sms_batch", {"recipients": recipients, "body": BODY})
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="recipients")
