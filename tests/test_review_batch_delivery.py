"""Adversarial review of batches and delivery (issue 14): a prompt-injected agent trying argument tricks, a hostile
upstream, a crash half-way. Each test is named after the hazard it closes; every send test counts the POSTs."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.server import build_server, listening
from smsai_mcp.server.delivery import MAX_WAITS_PER_TENANT
from smsai_mcp.sms.quiet_hours import DEFAULT_QUIET_HOURS
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant
from tests.clock import FakeClock
from tests.conftest import ERAS, SEND_PATH, posts, text_of
from tests.guard_helpers import Person, assert_nothing_sent, checked, connect, structured
from tests.test_state import REDIS_URL, redis_available

pytestmark = pytest.mark.anyio

BODY = "The school bus is 20 minutes late today."
US = [f"+1202555{1300 + i}" for i in range(6)]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def send_batch(client: Client, recipients: list[str], body: str = BODY, **extra: Any) -> CallToolResult:
    return await client.call_tool("send_sms_batch", {"recipients": recipients, "body": body, **extra})


def sent_to(sandbox: Sandbox) -> list[str]:
    return [message.to for message in sandbox.state.messages]


# 1. A batch idempotency key stands for one batch


@pytest.fixture(params=["sqlite", "redis"])
async def on_either_store(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Client]:
    """A client on a server whose state is the SQLite ledger, or Redis under keys of this test's own tenant."""
    era = "auto" if request.param == "redis" else "legacy"
    if request.param == "sqlite":
        yield connect(settings, era)
        return
    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    name = f"t{uuid.uuid4().hex[:12]}"
    on_redis = settings.model_copy(update={"state_url": SecretStr(REDIS_URL)})
    yield Client(build_server(on_redis, tenants={DEFAULT_TENANT: Tenant(name, (), on_redis)}), mode=era)
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"smsai:{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_batch_retried_under_its_key_with_other_recipients_is_refused(
    on_either_store: Client, sandbox: Sandbox
) -> None:
    """On SQLite in the 2025-11-25 era, on Redis in the 2026-07-28 one."""
    async with on_either_store as client:
        structured(await send_batch(client, US[:2], idempotency_key="bus-1"))
        assert posts(sandbox) == 2
        grown = await send_batch(client, US[:3], idempotency_key="bus-1")
        assert_nothing_sent(grown, sandbox, posts_so_far=2, says="already used in the last 24 hours")
        swapped = await send_batch(client, [US[0], US[3]], idempotency_key="bus-1")
        assert_nothing_sent(swapped, sandbox, posts_so_far=2, says="another batch")
        other_text = await send_batch(client, US[3:5], body="Another text", idempotency_key="bus-1")
        assert_nothing_sent(other_text, sandbox, posts_so_far=2)
        replay = structured(await send_batch(client, US[:2], idempotency_key="bus-1"))
    assert [entry["status"] for entry in replay["results"]] == ["sent", "sent"]
    assert sorted(sent_to(sandbox)) == sorted(US[:2])


async def test_a_batch_retried_under_its_key_with_its_recipients_reordered_or_respelled_replays(
    settings: Settings, sandbox: Sandbox
) -> None:
    async with connect(settings, "legacy") as client:
        first = structured(await send_batch(client, US[:3], idempotency_key="bus-2"))
        respelled = ["+1 (202) 555-1302", US[0], "+1-202-555-1301"]
        again = structured(await send_batch(client, respelled, idempotency_key="bus-2"))
    assert posts(sandbox) == 3
    assert [entry["status"] for entry in again["results"]] == ["sent"] * 3  # a key replays its first result
    assert {entry["message"]["id"] for entry in again["results"]} == {
        entry["message"]["id"] for entry in first["results"]
    }


# 2. Limits a batch meets as a whole


async def test_a_batch_past_the_recipients_per_hour_limit_sends_to_those_within_it_and_refuses_the_rest(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    """Each recipient checked alone is within the limit; together they are not. As send_sms in turn would, the first
    ones go and the rest are refused with the limit's reason, rather than the whole batch refused with advice to
    call again that can never succeed."""
    limited = settings.model_copy(update={"max_recipients_per_hour": 3})
    async with connect(limited, era) as client:
        structured(await client.call_tool("send_sms", {"to": US[0], "body": "Earlier today"}))
        result = structured(await send_batch(client, US[:5]))
        again = await send_batch(client, US[3:5], body="Another text")
    assert [entry["status"] for entry in result["results"]] == ["sent", "sent", "sent", "refused", "refused"]
    assert "SMSAI_MAX_RECIPIENTS_PER_HOUR (3)" in result["results"][3]["reason"]
    assert (result["sent_count"], result["refused_count"]) == (3, 2)
    assert posts(sandbox) == 4  # the earlier number did not count again
    assert_nothing_sent(again, sandbox, posts_so_far=4, says="SMSAI_MAX_RECIPIENTS_PER_HOUR")
    assert sorted(sent_to(sandbox)) == sorted([US[0], *US[:3]])


async def test_a_batch_to_one_block_of_numbers_past_its_limit_sends_only_as_many_as_the_block_allows(
    settings: Settings, sandbox: Sandbox
) -> None:
    """The default SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR is 3: five colleagues' numbers in one block of 100."""
    limited = settings.model_copy(update={"max_per_number_block_per_hour": 3})
    other_block = "+12025551400"
    async with connect(limited, "legacy") as client:
        result = structured(await send_batch(client, [*US[:5], other_block]))
    statuses = [entry["status"] for entry in result["results"]]
    assert statuses == ["sent", "sent", "sent", "refused", "refused", "sent"]
    assert "SMS-pumping" in result["results"][4]["reason"]
    assert posts(sandbox) == 4


# 3. Delivery: waiting cannot be turned against the account


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
async def test_parallel_waits_beyond_a_tenants_bound_answer_at_once_instead_of_polling_the_upstream(
    settings: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An injected agent fires many get_message calls with wait_seconds at once: each would read the upstream every
    few seconds under the rate limit the account's sends need. Past MAX_WAITS_PER_TENANT they answer at once."""
    monkeypatch.setattr(sandbox.state.config, "delivery_seconds", 60)
    extra = 5
    async with connect(settings, "legacy") as client:
        sent_ = structured(await client.call_tool("send_sms", {"to": US[0], "body": "Your table is ready"}))
        message_id = sent_["message"]["id"]
        answers: list[tuple[float, dict[str, Any]]] = []

        async def wait() -> None:
            started = time.monotonic()
            result = await client.call_tool("get_message", {"id": message_id, "wait_seconds": 1.2})
            answers.append((time.monotonic() - started, structured(result)))

        async with anyio.create_task_group() as group:
            for _ in range(MAX_WAITS_PER_TENANT + extra):
                group.start_soon(wait)
    at_once = [content for took, content in answers if "did not wait" in content.get("wait_note", "")]
    assert len(at_once) == extra
    assert all(content["status"] == "sent" for _, content in answers)
    assert max(took for took, content in answers if content in at_once) < 1.0
    gets = sandbox.state.count("GET", f"/api/v1/sms/{message_id}")
    assert gets <= MAX_WAITS_PER_TENANT * 3 + extra  # reads at 0 s, 1 s and the deadline for each wait
    assert posts(sandbox) == 1


async def test_an_upstream_that_answers_for_another_message_id_is_not_believed(
    settings: Settings, sandbox: Sandbox
) -> None:
    """Tenants sharing one account read only the ids their ledger sent; an upstream (or proxy) answering GET /sms/1
    with message 999 would hand over another's record under an id the caller owns."""
    async with connect(settings, "legacy") as client:
        sent_ = structured(await client.call_tool("send_sms", {"to": US[0], "body": "Your table is ready"}))
        message_id = sent_["message"]["id"]
        path = f"/api/v1/sms/{message_id}"
        sandbox.state.add_fault(Fault(method="GET", path=path, response="rewrite", rewrite={"id": "999"}, times=None))
        result = await client.call_tool("get_message", {"id": message_id})
        assert result.is_error
        assert "unexpected shape" in text_of(result)
        with pytest.raises(MCPError, match="unexpected shape"):
            await client.read_resource(f"sms://messages/{message_id}")
    assert posts(sandbox) == 1


# 4. Budgets: exactly at the limit, and two batches at once


async def test_a_batch_that_exactly_fills_the_daily_budget_is_sent_and_one_more_recipient_is_refused_whole(
    settings: Settings, sandbox: Sandbox
) -> None:
    budget = settings.model_copy(update={"daily_budget_usd": Decimal("0.05")})
    async with connect(budget, "legacy") as client:
        over = await send_batch(client, US[:6])
        assert_nothing_sent(over, sandbox, posts_so_far=0, says="SMSAI_DAILY_BUDGET_USD")
        exact = structured(await send_batch(client, US[:5]))
        assert exact["sent_count"] == 5
        after = await send_batch(client, US[5:6])
    assert_nothing_sent(after, sandbox, posts_so_far=5, says="budget")


async def test_two_batches_at_once_that_each_fit_the_budget_but_not_together_never_overshoot_it(
    settings: Settings, sandbox: Sandbox
) -> None:
    budget = settings.model_copy(update={"daily_budget_usd": Decimal("0.05")})
    results: list[CallToolResult] = []
    async with connect(budget, "legacy") as client:

        async def batch(recipients: list[str]) -> None:
            results.append(await send_batch(client, recipients))

        async with anyio.create_task_group() as group:
            group.start_soon(batch, US[:3])
            group.start_soon(batch, US[3:6])
    assert posts(sandbox) == 3
    refused = [result for result in results if result.is_error]
    assert len(refused) == 1
    assert text_of(refused[0]).startswith("Nothing was sent.")
    assert "budget" in text_of(refused[0])


# 5. A 2026-07-28 answer carried over to another batch


@pytest.mark.parametrize(
    "changed",
    [
        {"recipients": [*US[:2], US[2]]},
        {"recipients": [US[1], US[0]]},
        {"recipients": US[:1]},
        {"body": BODY + " Bring snacks."},
        {"sender_id": "School"},
    ],
    ids=["one-more", "reordered", "fewer", "other-body", "other-sender"],
)
async def test_an_accepted_2026_answer_replayed_with_another_batch_sends_nothing_without_a_new_question(
    settings: Settings, sandbox: Sandbox, changed: dict[str, Any]
) -> None:
    """The agent takes the person's accept for [A, B] and retries the round with other arguments: the SDK honours an
    answer only for the question it answered, and the question shows every recipient, the text and the sender."""
    arguments: dict[str, Any] = {"recipients": US[:2], "body": BODY}
    auto = settings.model_copy(update={"confirm": "auto"})
    async with connect(auto, "auto", Person()) as client:
        first = await client.session.call_tool("send_sms_batch", arguments, allow_input_required=True)
        assert isinstance(first, InputRequiredResult)
        again = await client.session.call_tool(
            "send_sms_batch",
            arguments | changed,
            allow_input_required=True,
            input_responses=checked(first),
            request_state=first.request_state,
        )
    assert posts(sandbox) == 0
    if isinstance(again, CallToolResult):
        assert_nothing_sent(again, sandbox, posts_so_far=0)
    else:
        assert again.input_requests is not None  # asked afresh, about this batch


# 6. Listening: one tenant cannot hold every stream


async def test_a_tenant_holds_at_most_its_share_of_the_listen_streams(
    settings: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK serves a fixed number of listen streams for everyone; one tenant's agent opening listens in a loop
    (on final messages or on nothing, which cost no poll) would leave none for the other tenants."""
    monkeypatch.setattr(listening, "LISTEN_STREAMS", 2)
    async with connect(settings, "auto") as client:
        sent_ = structured(await client.call_tool("send_sms", {"to": US[0], "body": "Your table is ready"}))
        uri = f"sms://messages/{sent_['message']['id']}"
        async with client.listen(resource_subscriptions=[uri]), client.listen(tools_list_changed=True):
            with pytest.raises(MCPError) as refused:
                async with client.listen(resource_subscriptions=[uri]):
                    pass
        async with client.listen(resource_subscriptions=[uri]):
            pass  # the others closed: room again
    assert "2 listens of this tenant are open" in refused.value.error.message
    assert posts(sandbox) == 1


# 7. A token after part of its batch went out


@pytest.mark.parametrize("window", [600, 0])
async def test_a_batch_token_replayed_after_a_rate_limit_on_one_recipient_never_texts_the_others_again(
    settings: Settings, sandbox: Sandbox, window: int
) -> None:
    """With the duplicate window off, nothing but the token's single use per recipient stands between a replay and a
    second text to those already sent."""
    tokens = settings.model_copy(update={"confirm": "token", "duplicate_window_seconds": window})
    limited = Fault(method="POST", path=SEND_PATH, status=429, headers={"Retry-After": "1"}, body={"message": "Slow"})
    async with connect(tokens, "legacy") as client:
        first = structured(await send_batch(client, US[:3]))
        token = first["confirmation_token"]
        sandbox.state.add_fault(limited)
        done = structured(await send_batch(client, US[:3], confirmation_token=token))
        assert sorted(entry["status"] for entry in done["results"]) == ["refused", "sent", "sent"]
        assert posts(sandbox) == 3
        replay = await send_batch(client, US[:3], confirmation_token=token)
    assert posts(sandbox) == 3
    assert replay.is_error, text_of(replay)
    assert text_of(replay).startswith("Nothing was sent.")
    assert len(sent_to(sandbox)) == len(set(sent_to(sandbox))) == 2


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
async def test_waits_the_client_gave_up_on_free_their_places_for_later_waits(
    settings: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.state.config, "delivery_seconds", 60)
    async with connect(settings, "legacy") as client:
        sent_ = structured(await client.call_tool("send_sms", {"to": US[0], "body": "Your table is ready"}))
        message_id = sent_["message"]["id"]
        arguments = {"id": message_id, "wait_seconds": 60}
        with anyio.move_on_after(0.5):  # the client cancels every one of its waits
            async with anyio.create_task_group() as group:
                for _ in range(MAX_WAITS_PER_TENANT):
                    group.start_soon(client.call_tool, "get_message", arguments)
        await anyio.sleep(0.2)
        started = time.monotonic()
        later = structured(await client.call_tool("get_message", {"id": message_id, "wait_seconds": 1.0}))
    assert "did not wait" not in later.get("wait_note", "")
    assert time.monotonic() - started >= 0.9  # it waited


# 8. What changes while the person reads the question


@dataclass
class SlowReader(Person):
    """Reads the batch question for a while; meanwhile the user's operator puts one recipient on the do-not-text list
    (from another process sharing the state directory)."""

    settings: Settings | None = None
    opted_out: str = ""

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert self.settings is not None
        async with connect(self.settings, "legacy") as operator:
            structured(await operator.call_tool("add_opt_out", {"to": self.opted_out, "note": "replied STOP"}))
        return await super().__call__(context, params)


async def test_a_recipient_opted_out_while_the_person_reads_the_batch_question_is_not_texted(
    settings: Settings, sandbox: Sandbox
) -> None:
    asking = settings.model_copy(update={"confirm": "auto"})
    person = SlowReader(settings=asking, opted_out=US[1])
    async with connect(asking, "legacy", person) as client:
        result = structured(await send_batch(client, US[:3]))
    assert len(person.questions) == 1
    assert [entry["status"] for entry in result["results"]] == ["sent", "refused", "sent"]
    assert "do-not-text list" in result["results"][1]["reason"]
    assert posts(sandbox) == 2
    assert US[1] not in sent_to(sandbox)


async def test_a_number_opted_out_while_the_person_reads_the_send_sms_question_is_not_texted(
    settings: Settings, sandbox: Sandbox
) -> None:
    asking = settings.model_copy(update={"confirm": "auto"})
    person = SlowReader(settings=asking, opted_out=US[0])
    async with connect(asking, "legacy", person) as client:
        result = await client.call_tool("send_sms", {"to": US[0], "body": "Your table is ready"})
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="do-not-text list")
    assert len(person.questions) == 1


@dataclass
class ReaderUntilNight(Person):
    """Takes ten minutes over the question, across the start of the recipients' quiet hours."""

    clock: FakeClock | None = None

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert self.clock is not None
        self.clock.advance(600)
        return await super().__call__(context, params)


@pytest.mark.parametrize("tool", ["send_sms", "send_sms_batch"])
async def test_a_question_answered_after_quiet_hours_began_for_the_recipient_sends_nothing(
    settings: Settings, sandbox: Sandbox, tool: str
) -> None:
    """In the 2025-11-25 era the question is asked inside the call: checked at 20:55 New York time, answered at
    21:05. Nothing is sent while it is inside SMSAI_QUIET_HOURS in the recipient's local time."""
    clock = FakeClock(datetime(2026, 12, 1, 1, 55, tzinfo=UTC).timestamp())  # Monday 20:55 in New York
    asking = settings.model_copy(update={"confirm": "auto", "quiet_hours": DEFAULT_QUIET_HOURS})
    person = ReaderUntilNight(clock=clock)
    new_york = ["+12125550123", "+12125550188"]
    async with connect(asking, "legacy", person, clock=clock) as client:
        if tool == "send_sms":
            result = await client.call_tool(tool, {"to": new_york[0], "body": "See you tomorrow"})
        else:
            result = await send_batch(client, new_york, body="See you tomorrow")
    assert len(person.questions) == 1
    assert posts(sandbox) == 0
    if tool == "send_sms":
        assert_nothing_sent(result, sandbox, posts_so_far=0, says="It is 21:05")
    else:
        content = structured(result)
        assert [entry["status"] for entry in content["results"]] == ["refused", "refused"]
        assert all("It is 21:05" in entry["reason"] for entry in content["results"])
