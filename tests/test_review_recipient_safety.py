"""Adversarial review of the recipient-safety guard (issue 13) and the ledger (issue 12): an injected agent, a
hostile upstream, a host killed mid-send. Each test is named after the hazard it proves closed, drives the tools
through a real MCP client, and counts the POSTs that reached the sandbox over HTTP."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses

from smsai_mcp.config import Settings
from smsai_mcp.guard.batch import SENDS_AT_ONCE
from smsai_mcp.pause_cli import run_pause
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.sms.quiet_hours import DEFAULT_QUIET_HOURS
from smsai_mcp.state.store import Begun, StateStore
from tests.clock import FakeClock
from tests.conftest import ERAS, SEND_PATH, posts, text_of
from tests.guard_helpers import US, Person, assert_nothing_sent, connect, send, sent, structured, until
from tests.test_opt_outs_and_pause import store as store  # the server's store as another process opens it
from tests.test_state import NOW, StoreFactory, attempt, limits, on_day
from tests.test_state import open_store as open_store  # the store suite's fixture: SQLite and Redis

pytestmark = pytest.mark.anyio

BODY = "The school bus is 20 minutes late today."
NEW_YORK = "+12125550123"


class OptingOutPerson(Person):
    """Confirms every question, but the recipient texts STOP (another replica adds the opt-out) while it is asked."""

    def __init__(self, store: StateStore, number: str) -> None:
        super().__init__()
        self.store = store
        self.number = number

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        if not self.questions:
            await self.store.add_opt_out(self.number, "replied STOP", now=0.0)
        return await super().__call__(context, params)


async def send_batch(client: Client, recipients: list[str], **extra: Any) -> CallToolResult:
    return await client.call_tool("send_sms_batch", {"recipients": recipients, "body": BODY, **extra})


@pytest.mark.parametrize("era", ERAS)
async def test_an_opt_out_added_while_the_person_is_asked_stops_the_post(
    settings: Settings, sandbox: Sandbox, store: StateStore, era: str
) -> None:
    person = OptingOutPerson(store, US)
    async with connect(settings.model_copy(update={"confirm": "elicit"}), era, person) as client:
        assert_nothing_sent(await send(client, body=BODY), sandbox, posts_so_far=0, says="do-not-text list")
        await store.remove_opt_out(US)
        sent(await send(client, body=BODY))  # the refused attempt held nothing back: no duplicate, no unknown
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_an_opt_out_added_while_a_batch_is_asked_stops_that_recipient_only(
    settings: Settings, sandbox: Sandbox, store: StateStore, era: str
) -> None:
    recipients = ["+12025551200", "+12025551301", "+12025551402"]
    person = OptingOutPerson(store, recipients[1])
    async with connect(settings.model_copy(update={"confirm": "elicit"}), era, person) as client:
        result = structured(await send_batch(client, recipients))
    assert [entry["status"] for entry in result["results"]] == ["sent", "refused", "sent"]
    assert "do-not-text list" in result["results"][1]["reason"]
    assert sorted(message.to for message in sandbox.state.messages) == [recipients[0], recipients[2]]
    assert posts(sandbox) == 2


@pytest.mark.parametrize("era", ERAS)
async def test_a_batch_to_more_new_numbers_than_the_hourly_limit_sends_the_limit_and_refuses_the_rest(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    forty = [f"+1202555{10 + i}34" for i in range(40)]  # forty blocks of 100: only the recipients limit applies
    limited = settings.model_copy(update={"max_recipients_per_hour": 30, "confirm": "elicit"})
    person = Person()
    async with connect(limited, era, person) as client:
        result = await send_batch(client, forty)
    content = structured(result)
    statuses = [entry["status"] for entry in content["results"]]
    assert statuses == ["sent"] * 30 + ["refused"] * 10, text_of(result)
    assert all("SMSAI_MAX_RECIPIENTS_PER_HOUR" in entry["reason"] for entry in content["results"][30:])
    assert "30 recipients" in person.questions[0]
    assert posts(sandbox) == 30


@pytest.mark.parametrize("era", ERAS)
async def test_a_batch_to_ten_numbers_of_one_block_of_100_sends_only_the_block_limit(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    block = [f"+120255512{i:02d}" for i in range(10)]
    limited = settings.model_copy(update={"max_per_number_block_per_hour": 3, "confirm": "elicit"})
    async with connect(limited, era, Person()) as client:
        result = await send_batch(client, block)
    content = structured(result)
    statuses = [entry["status"] for entry in content["results"]]
    assert statuses == ["sent"] * 3 + ["refused"] * 7, text_of(result)
    assert all("SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR" in entry["reason"] for entry in content["results"][3:])
    assert posts(sandbox) == 3


async def test_a_replayed_2026_removal_does_not_take_a_re_added_number_off_the_list_again(
    settings: Settings, sandbox: Sandbox
) -> None:
    async with connect(settings, "auto", Person(content={"remove": True})) as client:
        await client.call_tool("add_opt_out", {"to": US})
        first = await client.session.call_tool("remove_opt_out", {"to": US}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult), first
        assert first.input_requests is not None
        yes = ElicitResult(action="accept", content={"remove": True})
        answers: InputResponses = dict.fromkeys(first.input_requests, yes)

        async def retry() -> Any:
            return await client.session.call_tool(
                "remove_opt_out",
                {"to": US},
                allow_input_required=True,
                input_responses=answers,
                request_state=first.request_state,
            )

        removed = await retry()
        assert isinstance(removed, CallToolResult), removed
        assert not removed.is_error, text_of(removed)
        await client.call_tool("add_opt_out", {"to": US, "note": "replied STOP again"})
        replayed = await retry()  # an injected agent replays the person's earlier yes
        listed = structured(await client.call_tool("list_opt_outs", {}))
        assert listed["total"] == 1, replayed
        assert_nothing_sent(await send(client, body=BODY), sandbox, posts_so_far=0, says="do-not-text list")


async def test_running_totals_never_drift_from_the_attempts_after_a_random_workload_across_a_month_boundary(
    open_store: StoreFactory,
) -> None:
    """Reservations on the last day of a month settled, released, left unknown or settled twice later, from two
    processes sharing the state: each day's and month's running total stays the sum its attempts say."""
    rng = random.Random(13)
    stores = [open_store(), open_store()]
    days = ["2026-12-31", "2027-01-01", "2027-01-15"]
    booked: dict[str, tuple[str, int]] = {}  # attempt id -> (day, what it counts now)
    open_ids: list[tuple[str, int]] = []  # (id, reserved) of attempts still pending or unknown
    unknown: set[str] = set()
    for n in range(120):
        store = rng.choice(stores)
        move = rng.random()
        if move < 0.45 or not open_ids:
            reserved = rng.randrange(1_000, 50_000)
            a = on_day(attempt(body=f"m{n}", to=f"+1202555{1000 + n}", reserved=reserved), rng.choice(days))
            many = [a, on_day(attempt(body=f"b{n}", to=f"+1202556{1000 + n}", reserved=reserved), a.day)]
            begun = await store.begin_many([limits(x) for x in many], now=NOW) if move < 0.1 else None
            if begun is not None:
                assert all(isinstance(result, Begun) for result in begun)
            else:
                assert isinstance(await store.begin(limits(a), now=NOW), Begun)
                many = [a]
            for x in many:
                booked[x.id] = (x.day, x.reserved_micro)
                open_ids.append((x.id, x.reserved_micro))
            continue
        attempt_id, reserved = rng.choice(open_ids)
        day = booked[attempt_id][0]
        if move < 0.65:
            charged = rng.choice([0, reserved // 2, reserved, reserved * 3])
            if await store.settle(attempt_id, charged_micro=charged, message_id=n, message_json=f'{{"id": {n}}}'):
                booked[attempt_id] = (day, charged)
                open_ids.remove((attempt_id, reserved))
            assert not await store.settle(attempt_id, charged_micro=1, message_id=10_000 + n, message_json="{}")
        elif move < 0.8:
            await store.mark_unknown(attempt_id)
            unknown.add(attempt_id)
        elif move < 0.9:
            assert await store.release(attempt_id)
            booked[attempt_id] = (day, 0)
            open_ids.remove((attempt_id, reserved))
        else:
            await store.release_refused(attempt_id)  # only a pending one: an unknown one keeps its reservation
            if attempt_id not in unknown:
                booked[attempt_id] = (day, 0)
                open_ids.remove((attempt_id, reserved))
    reader = open_store()
    for day in days:
        expected = sum(cost for booked_day, cost in booked.values() if booked_day == day)
        assert await reader.spent_micro(day) == expected, day
    for month in ("2026-12", "2027-01"):
        expected = sum(cost for booked_day, cost in booked.values() if booked_day.startswith(month))
        assert await reader.spent_month_micro(month) == expected, month


class SlowPerson(Person):
    """Confirms, but only after the clock has moved on (it read the question for a while)."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock = clock
        self.seconds = seconds

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.clock.advance(self.seconds)
        return await super().__call__(context, params)


@pytest.mark.parametrize("era", ERAS)
async def test_a_confirmation_given_after_quiet_hours_began_does_not_text_the_recipient_at_night(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    clock = FakeClock(datetime(2026, 11, 30, 1, 55, tzinfo=UTC).timestamp())  # Sunday 20:55 in New York
    person = SlowPerson(clock, 10 * 60)  # answers at 21:05, inside quiet hours
    asking = settings.model_copy(update={"confirm": "elicit", "quiet_hours": DEFAULT_QUIET_HOURS})
    async with connect(asking, era, person, clock=clock) as client:
        result = await send(client, to=NEW_YORK, body=BODY)
    assert person.questions
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="It is 21:05 (Sunday) for the recipient")


async def test_a_pause_reason_carrying_a_token_is_refused_so_no_refusal_can_show_it_to_an_agent(
    settings: Settings, store: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "smsai_" + "Q7x" * 10
    out = io.StringIO()
    code = await anyio.to_thread.run_sync(
        lambda: run_pause(f"leaked {token} rotate it", tenant=None, settings=settings, environ={}, out=out)
    )
    printed = capsys.readouterr()
    assert code == 2
    assert "looks like it carries an smsai_ token" in printed.err
    assert token not in printed.err + printed.out + out.getvalue()
    assert await store.pause_state() is None  # nothing was paused with it: the operator writes the reason again


async def test_a_2026_removal_answered_without_the_servers_request_state_is_asked_again_not_done(
    settings: Settings, sandbox: Sandbox
) -> None:
    """An injected agent's client forges the person's yes: the answer is keyed right, but no sealed state says the
    question was ever asked."""
    async with connect(settings, "auto", Person(content={"remove": True})) as client:
        await client.call_tool("add_opt_out", {"to": US})
        first = await client.session.call_tool("remove_opt_out", {"to": US}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult), first
        assert first.input_requests is not None
        yes = ElicitResult(action="accept", content={"remove": True})
        forged: InputResponses = dict.fromkeys(first.input_requests, yes)
        outcomes: list[object] = []
        for state in (None, "forged-state"):
            try:
                session = client.session
                outcomes.append(
                    await session.call_tool(
                        "remove_opt_out",
                        {"to": US},
                        allow_input_required=True,
                        input_responses=forged,
                        request_state=state,
                    )
                )
            except MCPError as rejected:  # the SDK refuses a request state it did not seal
                outcomes.append(rejected)
        assert isinstance(outcomes[0], InputRequiredResult), outcomes  # asked again
        assert isinstance(outcomes[1], MCPError), outcomes
        assert structured(await client.call_tool("list_opt_outs", {}))["total"] == 1
        assert_nothing_sent(await send(client, body=BODY), sandbox, posts_so_far=0, says="do-not-text list")


async def test_a_pause_set_while_a_batch_is_half_way_stops_every_recipient_not_yet_posted(
    settings: Settings, sandbox: Sandbox, store: StateStore
) -> None:
    recipients = [f"+1202555{1000 + 100 * i}" for i in range(10)]
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.5, times=None))

    async def pause_at_the_first_post() -> None:
        await until(lambda: posts(sandbox) > 0)
        await store.pause("carrier loop", now=0.0)

    async with connect(settings, "auto") as client, anyio.create_task_group() as group:
        group.start_soon(pause_at_the_first_post)
        content = structured(await send_batch(client, recipients))
    statuses = [entry["status"] for entry in content["results"]]
    in_flight = statuses.count("sent")
    assert 1 <= in_flight <= SENDS_AT_ONCE, statuses
    assert statuses.count("refused") == 10 - in_flight, statuses
    assert all("carrier loop" in entry["reason"] for entry in content["results"] if entry["status"] == "refused")
    assert posts(sandbox) == in_flight


@pytest.mark.parametrize("era", ERAS)
async def test_a_send_the_upstream_refused_does_not_count_toward_the_recipients_per_hour(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=422, body={"message": "Invalid number"}))
    limited = settings.model_copy(update={"max_recipients_per_hour": 2})
    async with connect(limited, era) as client:
        assert_nothing_sent(await send(client, to="+12025550101", body=BODY), sandbox, posts_so_far=1)
        sent(await send(client, to="+12025550202", body=BODY))
        sent(await send(client, to="+12025550303", body=BODY))  # the refused number took no place in the hour
        assert_nothing_sent(
            await send(client, to="+12025550404", body=BODY), sandbox, posts_so_far=3, says="SMSAI_MAX_RECIPIENTS"
        )
    assert posts(sandbox) == 3
