"""Shared pieces of the send-guard tests: a stand-in for the person who confirms, refusal checks, the ledger on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp import Client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, InputRequiredResult, InputResponses

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from smsai_mcp.server import build_server
from tests.conftest import posts, text_of

US = "+12025551234"  # United States, 0.0100 per segment in the sandbox
US_FORMATTED = "+1 202-555-1234"
US_MASKED = "+120******34"
CA = "+14165550123"  # Toronto: Canada, 0.0100 per segment
GB = "+447400123456"  # United Kingdom, 0.0410 per segment
JM = "+18765550123"  # Kingston: Jamaica, although it dials +1
PREMIUM = "+19005551234"  # a US premium-rate number
US_PRICE = Decimal("0.0100")


@dataclass
class Person:
    """An elicitation callback standing in for the human: answers every question alike and remembers each one."""

    action: Literal["accept", "decline", "cancel"] = "accept"
    content: dict[str, Any] | None = field(default_factory=lambda: {"confirm": True})
    questions: list[str] = field(default_factory=list)

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params.message)
        return ElicitResult(action=self.action, content=self.content)


def connect(settings: Settings, era: str, person: Person | None = None, **server: Any) -> Client:
    """A real MCP client on an in-memory server; with a `person` it declares form elicitation. `server` goes to
    build_server (a clock, how often to reconcile)."""
    return Client(build_server(settings, **server), mode=era, elicitation_callback=person)


async def send(client: Client, to: str = US, body: str = "Hello from the guard tests", **extra: Any) -> CallToolResult:
    return await client.call_tool("send_sms", {"to": to, "body": body, **extra})


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    content: dict[str, Any] | None = result.structured_content
    assert content is not None
    return content


def sent(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a send that went out."""
    content = structured(result)
    assert content["status"] == "sent", content
    assert content["message"]["id"] >= 1
    return content


def confirmation_token(result: CallToolResult) -> str:
    content = structured(result)
    assert content["status"] == "confirmation_required", content
    assert "message" not in content
    token = content["confirmation_token"]
    assert isinstance(token, str)
    assert token
    return token


def assert_nothing_sent(result: CallToolResult, sandbox: Sandbox, *, posts_so_far: int, says: str = "") -> str:
    """A refusal: a tool error (not a protocol error) that starts by saying nothing was sent, and no new POST."""
    text = text_of(result)
    assert result.is_error, text
    assert text.startswith("Nothing was sent."), text
    assert says in text, text
    assert "Error executing tool" not in text
    assert posts(sandbox) == posts_so_far
    return text


def assert_outcome_unknown(result: CallToolResult) -> str:
    """An unknown outcome: a tool error that says the message may have gone out and must not be sent again."""
    text = text_of(result)
    assert result.is_error, text
    assert not text.startswith("Nothing was sent"), text
    assert "may have been sent" in text, text
    assert "must not be retried" in text, text
    return text


async def asked(client: Client, arguments: dict[str, Any]) -> InputRequiredResult:
    """The first round of a 2026-07-28 send, driven by hand: the server asks the person through the client."""
    first = await client.session.call_tool("send_sms", arguments, allow_input_required=True)
    assert isinstance(first, InputRequiredResult), first
    assert first.input_requests is not None
    [request] = first.input_requests.values()
    assert request.method == "elicitation/create"
    return first


def checked(first: InputRequiredResult) -> InputResponses:
    """The answers of a person who checked the box, for every question of that round."""
    assert first.input_requests is not None
    return {key: ElicitResult(action="accept", content={"confirm": True}) for key in first.input_requests}


async def answer(
    client: Client, arguments: dict[str, Any], first: InputRequiredResult
) -> CallToolResult | InputRequiredResult:
    """The retry that carries the person's checked answer and the round's sealed request state."""
    return await client.session.call_tool(
        "send_sms",
        arguments,
        allow_input_required=True,
        input_responses=checked(first),
        request_state=first.request_state,
    )


async def balance(client: Client) -> dict[str, Any]:
    return structured(await client.call_tool("check_balance", {}))


def usd(value: float) -> Decimal:
    return Decimal(str(value))


def credits(sandbox: Sandbox) -> Decimal:
    return sandbox.state.accounts[SANDBOX_TOKEN].credits_usd


def charged_by_sandbox(sandbox: Sandbox) -> Decimal:
    """What the upstream charged for every message it took."""
    return sum((message.price_usd for message in sandbox.state.messages), Decimal(0))


def ledger(state_dir: Path) -> list[dict[str, Any]]:
    """Every attempt in the SQLite ledger, oldest first, read straight from the file."""
    db = sqlite3.connect(state_dir / "state.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute("SELECT * FROM attempts ORDER BY created_at")]
    finally:
        db.close()


def upstream_env(sandbox_url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server process that talks to the served sandbox and keeps state in `state_dir`."""
    return {
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": sandbox_url,
        "SMSAI_CONFIRM": "off",
        "SMSAI_STATE_DIR": str(state_dir),
        "SMSAI_MAX_PER_RECIPIENT_PER_HOUR": "1000",
        "SMSAI_MAX_RECIPIENTS_PER_HOUR": "1000",
        "SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR": "1000",
        "SMSAI_QUIET_HOURS": "off",  # on by default; quiet-hours tests fix the clock instead
        **extra,
    }


async def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Wait for something another task, thread or process does."""
    with anyio.fail_after(seconds):
        while not condition():  # noqa: ASYNC110 - polling state another task or process writes
            await anyio.sleep(0.02)
