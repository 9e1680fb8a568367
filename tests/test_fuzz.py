"""Fuzzing every tool through a real MCP client: arbitrary Unicode, wrong types, huge strings, nulls.

Nothing may crash into a bare "Error executing tool", no invalid input may reach the upstream, and every
success must validate against the tool's output schema. Confirmation is by token here, so no example can
send: the POST count must stay zero whatever the arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.types import CallToolResult, Tool

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server
from tests.conftest import posts, text_of

pytestmark = pytest.mark.slow  # hypothesis runs hundreds of calls per tool

EXAMPLES = 250

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
phone_like = st.from_regex(r"\A\+?[0-9 ().\-]{0,20}\Z") | st.sampled_from(
    ["+12025551234", "+14165550123", "+19005551234", "+8613812345678"]
)
any_text = st.text(max_size=200) | st.text(min_size=1500, max_size=1700) | st.just("x" * 100_000)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The strategy's values, null, or any JSON value in their place."""
    return st.none() | strategy | json_values


@pytest.fixture(scope="module")
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as running:
        yield running


class FuzzSession:
    def __init__(self, portal: BlockingPortal, client: Client, tools: dict[str, Tool]) -> None:
        self.portal = portal
        self.client = client
        self.tools = tools

    def call(self, name: str, arguments: Any) -> CallToolResult:
        result: CallToolResult = self.portal.call(self.client.call_tool, name, arguments)
        return result


@pytest.fixture(params=["legacy", "auto"])
def session(
    request: pytest.FixtureRequest, portal: BlockingPortal, settings: Settings, sandbox: Sandbox
) -> Iterator[FuzzSession]:
    server = build_server(settings.model_copy(update={"confirm": "token"}))
    with portal.wrap_async_context_manager(Client(server, mode=request.param)) as client:
        tools = {tool.name: tool for tool in portal.call(client.list_tools).tools}
        yield FuzzSession(portal, client, tools)
    assert posts(sandbox) == 0


def check(session: FuzzSession, name: str, arguments: Any) -> None:
    result = session.call(name, arguments)
    text = text_of(result)
    if result.is_error:
        assert "Error executing tool" not in text, text
        assert "validation error" not in text, text
        assert "Traceback" not in text
        assert text.strip(), "an error must say something"
        return
    schema = session.tools[name].output_schema
    assert schema is not None
    assert result.structured_content is not None
    Draft202012Validator(schema).validate(result.structured_content)
    assert json.loads(text) == result.structured_content


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    to=maybe(phone_like),
    body=maybe(any_text),
    sender_id=maybe(st.text(max_size=14)),
    key=maybe(st.text(max_size=140)),
    token=maybe(st.text(max_size=80)),
)
def test_fuzz_send_sms_never_crashes_and_never_posts(
    session: FuzzSession, to: Any, body: Any, sender_id: Any, key: Any, token: Any
) -> None:
    arguments = {"to": to, "body": body, "sender_id": sender_id, "idempotency_key": key, "confirmation_token": token}
    check(session, "send_sms", {k: v for k, v in arguments.items() if v is not None or k in ("to", "body")})


@FUZZ
@given(to=maybe(phone_like), body=maybe(any_text), sender_id=maybe(st.text(max_size=14)))
def test_fuzz_estimate_sms(session: FuzzSession, to: Any, body: Any, sender_id: Any) -> None:
    check(session, "estimate_sms", {"to": to, "body": body, "sender_id": sender_id})


@FUZZ
@given(query=maybe(st.text(max_size=80)))
def test_fuzz_list_countries(session: FuzzSession, query: Any) -> None:
    check(session, "list_countries", {"query": query})


@FUZZ
@given(message_id=maybe(st.integers(min_value=-(2**70), max_value=2**70)))
def test_fuzz_get_message(session: FuzzSession, message_id: Any) -> None:
    check(session, "get_message", {"id": message_id})


@FUZZ
@given(
    status=maybe(st.sampled_from(["sent", "delivered", "failed", "SENT", ""])),
    page=maybe(st.integers(min_value=-5, max_value=10**7)),
)
def test_fuzz_list_messages(session: FuzzSession, status: Any, page: Any) -> None:
    check(session, "list_messages", {"status": status, "page": page})
