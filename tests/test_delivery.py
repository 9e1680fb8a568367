"""Delivery: get_message waits for a final status, the resource sms://messages/{id}, and listening to it (2026-07-28),
each for the caller's tenant only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import CallToolResult, TextResourceContents

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import FAILING_NUMBER, SANDBOX_EMPTY_TOKEN, SANDBOX_TOKEN, Sandbox
from smsai_mcp.server import listening
from tests.conftest import ERAS, assert_matches_output_schema, posts, text_of
from tests.guard_helpers import US, connect, send, sent
from tests.processes import http_server
from tests.test_service import KEY_A, KEY_B, base_env, sha256, write_tenants
from tests.test_service import connect as connect_http

pytestmark = pytest.mark.anyio

KEY_C = "tenant-c-key-0f9e8d7c6b"


def message_gets(sandbox: Sandbox, message_id: int) -> int:
    """How many times the upstream was asked for this one message."""
    return sandbox.state.count("GET", f"/api/v1/sms/{message_id}")


def slow_delivery(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Messages sent from now on stay `sent` this long (the session's sandbox delivers in 0.5 s)."""
    monkeypatch.setattr(sandbox.state.config, "delivery_seconds", seconds)


async def send_one(client: Client, to: str = US, body: str = "Your table is ready") -> int:
    message_id = sent(await send(client, to=to, body=body))["message"]["id"]
    assert isinstance(message_id, int)
    return message_id


async def get_message(client: Client, message_id: int, **arguments: Any) -> CallToolResult:
    return await client.call_tool("get_message", {"id": message_id, **arguments})


async def get_message_tool_result(client: Client, result: CallToolResult) -> dict[str, Any]:
    [tool] = [tool for tool in (await client.list_tools()).tools if tool.name == "get_message"]
    return assert_matches_output_schema(tool, result)


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
@pytest.mark.parametrize("era", ERAS)
async def test_waiting_returns_as_soon_as_the_message_is_delivered(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    async with connect(settings, era) as client:
        message_id = await send_one(client)
        started = time.monotonic()
        result = await get_message(client, message_id, wait_seconds=30)
        waited = time.monotonic() - started
        content = await get_message_tool_result(client, result)
    assert content["status"] == "delivered"
    assert "wait_note" not in content
    assert waited < 3  # delivered after 0.5 s: the first poll (1 s) sees it, not the 30 s deadline
    assert posts(sandbox) == 1


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
@pytest.mark.parametrize("era", ERAS)
async def test_waiting_returns_as_soon_as_the_message_failed(sandbox: Sandbox, settings: Settings, era: str) -> None:
    async with connect(settings, era) as client:
        message_id = await send_one(client, to=FAILING_NUMBER)
        result = await get_message(client, message_id, wait_seconds=30)
        content = await get_message_tool_result(client, result)
    assert content["status"] == "failed"
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_without_wait_seconds_the_status_comes_back_at_once(
    sandbox: Sandbox, settings: Settings, era: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_delivery(sandbox, monkeypatch, 60)
    async with connect(settings, era) as client:
        message_id = await send_one(client)
        result = await get_message(client, message_id)
        content = await get_message_tool_result(client, result)
    assert content["status"] == "sent"
    assert "wait_note" not in content
    assert message_gets(sandbox, message_id) == 1
    assert posts(sandbox) == 1


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
@pytest.mark.parametrize("era", ERAS)
async def test_a_wait_that_runs_out_returns_the_current_status_saying_it_is_not_final(
    sandbox: Sandbox, settings: Settings, era: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_delivery(sandbox, monkeypatch, 60)
    async with connect(settings, era) as client:
        message_id = await send_one(client)
        started = time.monotonic()
        result = await get_message(client, message_id, wait_seconds=1.5)
        waited = time.monotonic() - started
        content = await get_message_tool_result(client, result)
    assert not result.is_error  # running out of time is an answer, not a failure
    assert content["status"] == "sent"
    assert "Not final yet" in content["wait_note"]
    assert "Not final yet" in text_of(result)
    assert 1.4 <= waited < 2.5  # the deadline, not a poll interval past it
    assert message_gets(sandbox, message_id) == 3  # at 0 s, 1 s, and 1.5 s (cut short by the deadline)
    assert posts(sandbox) == 1


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
@pytest.mark.parametrize("era", ERAS)
async def test_progress_reaches_a_client_that_gave_a_progress_token(
    sandbox: Sandbox, settings: Settings, era: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_delivery(sandbox, monkeypatch, 60)
    heard: list[tuple[float, float | None, str | None]] = []

    async def progress_heard(progress: float, total: float | None, message: str | None) -> None:
        heard.append((progress, total, message))

    async def get_waiting(client: Client, message_id: int) -> CallToolResult:
        arguments = {"id": message_id, "wait_seconds": 1.5}
        return await client.call_tool("get_message", arguments, progress_callback=progress_heard)

    async with connect(settings, era) as client:
        message_id = await send_one(client)
        result = await get_waiting(client, message_id)
    assert not result.is_error, text_of(result)
    assert len(heard) == 2  # after the reads at 0 s and 1 s; the last read, at the deadline, is the answer
    assert [total for _, total, _ in heard] == [1.5, 1.5]
    assert heard[0][0] < heard[1][0] <= 1.5
    assert all(f"Message {message_id} is still sent" in (text or "") for _, _, text in heard)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("wait_seconds", [-1, 121, "soon"])
async def test_a_wait_outside_0_to_120_seconds_is_refused_clearly(
    sandbox: Sandbox, settings: Settings, era: str, wait_seconds: object
) -> None:
    async with connect(settings, era) as client:
        message_id = await send_one(client)
        result = await get_message(client, message_id, wait_seconds=wait_seconds)
    assert result.is_error
    assert "wait_seconds" in text_of(result)
    assert message_gets(sandbox, message_id) == 0


@pytest.mark.parametrize("era", ERAS)
async def test_the_message_resource_reads_one_message_as_json(sandbox: Sandbox, settings: Settings, era: str) -> None:
    async with connect(settings, era) as client:
        templates = (await client.list_resource_templates()).resource_templates
        message_id = await send_one(client)
        read = await client.read_resource(f"sms://messages/{message_id}", cache_mode="bypass")
    [template] = [t for t in templates if t.uri_template == "sms://messages/{id}"]
    assert template.mime_type == "application/json"
    [contents] = read.contents
    assert isinstance(contents, TextResourceContents)
    assert contents.mime_type == "application/json"
    message = json.loads(contents.text)
    assert message["id"] == message_id
    assert message["to"] == US
    assert message["status"] in {"sent", "delivered"}
    assert "body" not in message or message["body"] == "Your table is ready"
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("uri", ["sms://messages/987654321", "sms://messages/0", "sms://messages/abc"])
async def test_reading_a_message_that_does_not_exist_is_a_clear_error(settings: Settings, era: str, uri: str) -> None:
    async with connect(settings, era) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri, cache_mode="bypass")
    assert "no message" in refused.value.error.message


@pytest.mark.slow  # waits for a delivery and then watches that nothing more is asked
async def test_a_listener_hears_the_status_change_and_polling_stops_once_final(
    sandbox: Sandbox, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_delivery(sandbox, monkeypatch, 1.2)
    async with connect(settings, "auto") as client:
        message_id = await send_one(client)
        uri = f"sms://messages/{message_id}"
        heard: list[object] = []
        async with client.listen(resource_subscriptions=[uri]) as subscription:
            with anyio.fail_after(6):
                async for event in subscription:
                    heard.append(event)
                    break
            read = await client.read_resource(uri, cache_mode="bypass")
            gets_once_final = message_gets(sandbox, message_id)
            await anyio.sleep(2.5)  # a poll still running would have asked again by now
            gets_later = message_gets(sandbox, message_id)
    if heard != [ResourceUpdated(uri=uri)]:
        raise AssertionError(heard)
    [contents] = read.contents
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text)["status"] == "delivered"
    assert gets_later == gets_once_final
    assert posts(sandbox) == 1


@pytest.mark.slow  # watches the upstream for a few seconds
async def test_listeners_share_one_poll_and_no_one_listening_means_no_polling(
    sandbox: Sandbox, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_delivery(sandbox, monkeypatch, 60)
    async with connect(settings, "auto") as client:
        message_id = await send_one(client)
        uri = f"sms://messages/{message_id}"
        async with client.listen(resource_subscriptions=[uri]), client.listen(resource_subscriptions=[uri]):
            opened = message_gets(sandbox, message_id)  # each listen reads the message once, to check it
            await anyio.sleep(2.0)  # one poll reads at 1 s (then at 2.5 s); two polls would read twice
            polled = message_gets(sandbox, message_id) - opened
        closed = message_gets(sandbox, message_id)
        await anyio.sleep(2.0)
        after = message_gets(sandbox, message_id)
    assert opened == 2
    assert polled == 1
    assert after == closed  # nobody listens: nobody asks the upstream
    assert posts(sandbox) == 1


async def test_listening_to_a_message_that_does_not_exist_is_refused(settings: Settings) -> None:
    async with connect(settings, "auto") as client:
        with pytest.raises(MCPError) as refused:
            async with client.listen(resource_subscriptions=["sms://messages/987654321"]):
                pass
    assert "no message with id 987654321" in refused.value.error.message


async def test_a_tenant_follows_a_bounded_number_of_messages(
    sandbox: Sandbox, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each message followed costs an upstream read every few seconds: a listen cannot make that unbounded."""
    slow_delivery(sandbox, monkeypatch, 60)
    monkeypatch.setattr(listening, "MAX_POLLED_PER_TENANT", 2)
    async with connect(settings, "auto") as client:
        first, second, third = [f"sms://messages/{await send_one(client, body=f'table {n}')}" for n in range(3)]
        with pytest.raises(MCPError) as too_many_uris:
            await _listen_once(client, *[f"sms://messages/{n}" for n in range(900_000, 900_101)])
        async with client.listen(resource_subscriptions=[first, second]):
            await _listen_once(client, first)  # joins a poll already running
            with pytest.raises(MCPError) as too_many_polled:
                await _listen_once(client, third)
        await _listen_once(client, third)  # the others closed: room again
    assert "at most 100 messages" in too_many_uris.value.error.message
    assert "already follows 2 messages" in too_many_polled.value.error.message
    assert sandbox.state.count("GET", "/api/v1/sms/900000") == 0  # refused before any read
    assert posts(sandbox) == 3


async def test_an_update_reaches_only_the_listeners_of_the_tenant_whose_message_changed() -> None:
    """Two accounts may each have a message 7: acme's update must not wake globex's listener on its own message 7."""
    bus = listening.TenantBus()
    heard: dict[str, list[object]] = {"acme": [], "globex": []}
    for name, events in heard.items():
        with listening.listening_as(name):
            bus.subscribe(events.append)
    update = ResourceUpdated(uri="sms://messages/7")
    await bus.publish_to("acme", update)
    assert heard == {"acme": [update], "globex": []}
    await bus.publish(ResourceUpdated(uri="sms://messages/8"))  # the SDK's own events reach every listener
    assert len(heard["acme"]) == len(heard["globex"]) + 1 == 2


@pytest.mark.slow  # starts the HTTP service
async def test_a_tenant_cannot_read_or_listen_to_another_tenants_message(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """acme and globex share one upstream account (one token); initech has its own. Only acme sent the message,
    and acme alone reads it and, over HTTP, hears of its delivery."""
    slow_delivery(sandbox, monkeypatch, 1.5)
    sandbox.state.set_credits(SANDBOX_EMPTY_TOKEN, sandbox.state.config.credits_usd)
    tenants = write_tenants(
        tmp_path,
        acme={"access_key_sha256": sha256(KEY_A), "api_token_env": "SHARED_TOKEN"},
        globex={"access_key_sha256": sha256(KEY_B), "api_token_env": "SHARED_TOKEN"},
        initech={"access_key_sha256": sha256(KEY_C), "api_token_env": "INITECH_TOKEN"},
    )
    env = base_env(sandbox_url, tmp_path, SMSAI_TENANTS_FILE=str(tenants), SMSAI_QUIET_HOURS="off")
    env |= {"SHARED_TOKEN": SANDBOX_TOKEN, "INITECH_TOKEN": SANDBOX_EMPTY_TOKEN}
    refusals: list[str] = []
    with http_server([], env, tmp_path / "log") as url:
        async with connect_http(url, KEY_A, era="auto") as acme:
            message_id = await send_one(acme)
            uri = f"sms://messages/{message_id}"
            own = await get_message(acme, message_id)
            own_read = await acme.read_resource(uri, cache_mode="bypass")
            async with acme.listen(resource_subscriptions=[uri]) as subscription:
                with anyio.fail_after(6):
                    heard = [await anext(aiter(subscription))]
        for key in (KEY_B, KEY_C):
            async with connect_http(url, key, era="auto") as other:
                result = await get_message(other, message_id, wait_seconds=1)
                assert result.is_error
                refusals.append(text_of(result))
                for attempt in (other.read_resource(uri, cache_mode="bypass"), _listen_once(other, uri)):
                    try:
                        await attempt
                    except MCPError as exc:
                        refusals.append(exc.error.message)
                    else:
                        raise AssertionError(f"another tenant reached {uri}")
    assert not own.is_error, text_of(own)
    assert own_read.contents
    if heard != [ResourceUpdated(uri=uri)]:
        raise AssertionError(heard)
    assert len(refusals) == 6
    assert all(f"no message with id {message_id}" in text for text in refusals), refusals
    assert posts(sandbox) == 1


async def _listen_once(client: Client, *uris: str) -> None:
    async with client.listen(resource_subscriptions=list(uris)):
        pass
