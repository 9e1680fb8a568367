"""Adversarial review of the recipient-safety guard (issue 13) and the ledger (issue 12): an injected agent, a
hostile upstream, a host killed mid-send. Each test is named after the hazard it proves closed, drives the tools
through a real MCP client, and counts the POSTs that reached the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses

from smsai_mcp.config import Settings
from smsai_mcp.runtime import open_store
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.state.store import StateStore
from tests.conftest import ERAS, posts, text_of
from tests.guard_helpers import US, Person, assert_nothing_sent, connect, send, sent, structured

pytestmark = pytest.mark.anyio

BODY = "The school bus is 20 minutes late today."


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[StateStore]:
    """The server's state store as another process (another replica, an operator's command) opens it."""
    opened = open_store(settings)
    yield opened
    await opened.close()


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
