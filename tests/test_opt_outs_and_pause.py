"""The do-not-text list and the pause, through a real MCP client in both eras, against the sandbox over HTTP.
Every send counts the POSTs that reached the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult, ErrorData
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.runtime import open_store
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.state.store import StateStore
from tests.clock import FakeClock
from tests.conftest import ERAS, assert_matches_output_schema, posts, text_of
from tests.guard_helpers import (
    GB,
    US,
    US_FORMATTED,
    US_MASKED,
    Person,
    assert_nothing_sent,
    connect,
    send,
    sent,
    structured,
)
from tests.test_review_crash import OwnRedis, own_redis

pytestmark = pytest.mark.anyio

__all__ = ["own_redis"]  # a redis-server of the test's own, used by name

NOON = datetime(2026, 11, 29, 12, 0, tzinfo=UTC).timestamp()
NOON_TEXT = "2026-11-29 12:00 UTC"


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[StateStore]:
    """The server's state store as another process (an operator's command) opens it."""
    opened = open_store(settings)
    yield opened
    await opened.close()


async def tool(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    return assert_matches_output_schema(tools[name], await client.call_tool(name, arguments))


@pytest.mark.parametrize("era", ERAS)
async def test_a_paused_server_refuses_every_send_with_the_reason_and_posts_nothing(
    settings: Settings, sandbox: Sandbox, store: StateStore, era: str
) -> None:
    await store.pause("carrier incident INC-7", now=NOON)
    async with connect(settings, era) as client:
        text = assert_nothing_sent(await send(client), sandbox, posts_so_far=0, says="paused")
        assert f"since {NOON_TEXT}: carrier incident INC-7" in text
        assert "smsai-mcp resume" in text
        # The pause comes before input validation: an invalid number hears about the pause, not its digits.
        assert_nothing_sent(await send(client, to="+1 555 0000"), sandbox, posts_so_far=0, says="paused")
        balance = await tool(client, "check_balance", {})
        assert (balance["paused"], balance["pause_reason"]) == (True, "carrier incident INC-7")
        await store.resume()
        sent(await send(client))
        balance = await tool(client, "check_balance", {})
        assert (balance["paused"], balance["pause_reason"]) == (False, None)
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_estimate_sms_says_blocked_by_paused_and_opted_out(
    settings: Settings, sandbox: Sandbox, store: StateStore, era: str
) -> None:
    async with connect(settings, era) as client:
        await tool(client, "add_opt_out", {"to": US})
        estimate = await tool(client, "estimate_sms", {"to": US, "body": "hi"})
        assert estimate["blocked_by"] == "opted_out"
        assert "do-not-text list" in estimate["blocked_reason"]
        assert (await tool(client, "estimate_sms", {"to": GB, "body": "hi"}))["blocked_by"] is None
        await store.pause(None, now=NOON)
        estimate = await tool(client, "estimate_sms", {"to": GB, "body": "hi"})
        assert estimate["blocked_by"] == "paused"
        assert "no reason was given" in estimate["blocked_reason"]
        assert estimate["estimated_cost_usd"] > 0  # still an estimate
    assert posts(sandbox) == 0


@pytest.mark.parametrize("era", ERAS)
async def test_an_opted_out_number_is_refused_saying_since_when_and_no_one_is_asked(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    person = Person()
    asking = settings.model_copy(update={"confirm": "elicit"})
    async with connect(asking, era, person, clock=FakeClock(NOON)) as client:
        added = await tool(client, "add_opt_out", {"to": "+1 (202) 555-1234", "note": "replied STOP"})
        assert added == {"to": US, "opted_out": True, "since": "2026-11-29T12:00:00Z"}
        text = assert_nothing_sent(await send(client), sandbox, posts_so_far=0, says="do-not-text list")
        assert f"{US_FORMATTED} is on the do-not-text list since {NOON_TEXT}" in text
        assert f"smsai-mcp opt-outs remove {US}" in text
        assert "remove_opt_out" in text
    assert person.questions == []


@pytest.mark.parametrize("era", ERAS)
async def test_opt_outs_list_by_page_with_their_notes(settings: Settings, era: str) -> None:
    clock = FakeClock(NOON)
    async with connect(settings, era, clock=clock) as client:
        for n in range(52):
            clock.advance(1)
            await tool(client, "add_opt_out", {"to": f"+1202555{n:04d}", **({"note": f"n{n}"} if n == 0 else {})})
        first = await tool(client, "list_opt_outs", {})
        second = await tool(client, "list_opt_outs", {"page": 2})
    assert (first["page"], first["has_more"], first["total"], len(first["opt_outs"])) == (1, True, 52, 50)
    assert first["opt_outs"][0] == {"to": "+12025550000", "since": "2026-11-29T12:00:01Z", "note": "n0"}
    assert (second["page"], second["has_more"], [o["to"] for o in second["opt_outs"]]) == (
        2,
        False,
        ["+12025550050", "+12025550051"],
    )


@pytest.mark.parametrize("era", ERAS)
async def test_remove_opt_out_confirmed_by_the_person_lets_the_number_be_texted_again(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    person = Person(content={"remove": True})  # asked whatever SMSAI_CONFIRM says: here it is off
    async with connect(settings, era, person, clock=FakeClock(NOON)) as client:
        await tool(client, "add_opt_out", {"to": US})
        assert await tool(client, "remove_opt_out", {"to": US}) == {"to": US, "opted_out": False}
        assert (await tool(client, "list_opt_outs", {}))["total"] == 0
        sent(await send(client))
    [question] = person.questions
    assert f"Take {US_FORMATTED} off the do-not-text list?" in question
    assert NOON_TEXT in question
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("person", "says"),
    [
        (Person(action="decline", content=None), "the person declined"),
        (Person(action="cancel", content=None), "dismissed the question"),
        (Person(content={"remove": False}), "did not check the box"),
    ],
    ids=["declined", "cancelled", "unchecked"],
)
async def test_remove_opt_out_not_confirmed_keeps_the_number_listed(
    settings: Settings, sandbox: Sandbox, era: str, person: Person, says: str
) -> None:
    async with connect(settings, era, person) as client:
        await tool(client, "add_opt_out", {"to": US})
        result = await client.call_tool("remove_opt_out", {"to": US})
        assert result.is_error
        assert text_of(result).startswith("Nothing was removed: ")
        assert says in text_of(result)
        assert (await tool(client, "list_opt_outs", {}))["total"] == 1
        assert_nothing_sent(await send(client), sandbox, posts_so_far=0, says="do-not-text list")


@pytest.mark.parametrize("era", ERAS)
async def test_remove_opt_out_refuses_a_client_that_cannot_ask_and_points_to_the_command(
    settings: Settings, era: str
) -> None:
    async with connect(settings, era) as client:  # declares no elicitation
        await tool(client, "add_opt_out", {"to": US})
        result = await client.call_tool("remove_opt_out", {"to": US})
        assert (await tool(client, "list_opt_outs", {}))["total"] == 1
    assert result.is_error
    text = text_of(result)
    assert text.startswith("Nothing was removed: "), text
    assert f"`smsai-mcp opt-outs remove {US}`" in text


@pytest.mark.parametrize("era", ERAS)
async def test_an_invalid_number_is_a_clear_tool_error_for_the_opt_out_tools(settings: Settings, era: str) -> None:
    async with connect(settings, era, Person(content={"remove": True})) as client:
        for name in ("add_opt_out", "remove_opt_out"):
            result = await client.call_tool(name, {"to": "+1 555 0000"})
            assert result.is_error
            assert "Error executing tool" not in text_of(result)
            assert "+1 555 0000" in text_of(result) or "number" in text_of(result)
        assert (await tool(client, "list_opt_outs", {}))["total"] == 0


async def test_the_opt_out_tools_carry_the_contracts_annotations(settings: Settings) -> None:
    async with connect(settings, "auto") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    hints = {
        name: (a.read_only_hint, a.destructive_hint, a.open_world_hint)
        for name in ("add_opt_out", "list_opt_outs", "remove_opt_out")
        if (a := tools[name].annotations) is not None
    }
    assert hints == {
        "add_opt_out": (False, False, False),
        "list_opt_outs": (True, False, False),
        "remove_opt_out": (False, True, False),
    }
    assert tools["add_opt_out"].annotations is not None
    assert tools["add_opt_out"].annotations.idempotent_hint is True


class PausingPerson(Person):
    """Confirms every send, but an operator pauses sending while the first question is on the screen."""

    def __init__(self, store: StateStore) -> None:
        super().__init__()
        self.store = store

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        if not self.questions:
            await self.store.pause("stop everything", now=NOON)
        return await super().__call__(context, params)


@pytest.mark.parametrize("era", ERAS)
async def test_a_pause_set_while_the_person_is_asked_stops_the_post(
    settings: Settings, sandbox: Sandbox, store: StateStore, era: str
) -> None:
    asking = settings.model_copy(update={"confirm": "elicit"})
    person = PausingPerson(store)
    async with connect(asking, era, person) as client:
        assert_nothing_sent(await send(client), sandbox, posts_so_far=0, says="stop everything")
        await store.resume()
        sent(await send(client, body="After the incident"))  # the refused attempt held nothing back
    assert len(person.questions) == 2
    assert posts(sandbox) == 1


async def test_opt_out_changes_are_audited_with_the_masked_number_and_never_the_note(
    settings: Settings, sandbox: Sandbox
) -> None:
    async with connect(settings, "auto", Person(content={"remove": True})) as client:
        await tool(client, "add_opt_out", {"to": US, "note": "private reason"})
        await tool(client, "remove_opt_out", {"to": US})
    assert settings.state_dir is not None
    log = (settings.state_dir / "audit.jsonl").read_text()
    assert '"outcome":"opt_out_added"' in log
    assert '"outcome":"opt_out_removed"' in log
    assert US_MASKED in log
    assert US not in log
    assert "private reason" not in log


async def test_two_replicas_on_redis_share_the_pause_and_the_opt_outs(
    settings: Settings, sandbox: Sandbox, own_redis: OwnRedis
) -> None:
    replica = settings.model_copy(update={"state_url": SecretStr(own_redis.url)})
    other = replica.model_copy(update={"state_dir": replica.resolved_state_dir() / "other"})
    operator = open_store(replica)
    try:
        async with connect(replica, "auto") as one, connect(other, "legacy") as two:
            await tool(one, "add_opt_out", {"to": US})
            assert_nothing_sent(await send(two), sandbox, posts_so_far=0, says="do-not-text list")
            assert (await tool(two, "list_opt_outs", {}))["total"] == 1
            await operator.pause("replica drill", now=NOON)
            for client in (one, two):
                assert_nothing_sent(await send(client, to=GB), sandbox, posts_so_far=0, says="replica drill")
            assert (await tool(two, "check_balance", {}))["paused"] is True
            await operator.resume()
            sent(await send(one, to=GB))
            assert structured(await send(two, to=GB))["status"] == "duplicate"  # one ledger for both
    finally:
        await operator.close()
    assert posts(sandbox) == 1


async def _handler_that_answers_an_error(context: Any, params: Any) -> ErrorData:
    return ErrorData(code=-32603, message="the host's dialog crashed")


async def test_a_removal_whose_elicitation_fails_is_a_tool_error_and_keeps_the_number(settings: Settings) -> None:
    """2025-11-25: the server's elicitation/create comes back as a JSON-RPC error; a tool error, not a protocol one."""
    async with Client(
        build_server(settings), mode="legacy", elicitation_callback=_handler_that_answers_an_error
    ) as client:
        await tool(client, "add_opt_out", {"to": US})
        result = await client.call_tool("remove_opt_out", {"to": US})
        assert (await tool(client, "list_opt_outs", {}))["total"] == 1
    assert result.is_error
    assert text_of(result).startswith("Nothing was removed: the MCP client could not get the person's answer")
    assert "dialog crashed" not in text_of(result)
