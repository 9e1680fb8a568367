"""A sandbox with many messages lists a page without rendering the rest, and a long-running one stays bounded."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from smsai_mcp.embedded import SANDBOX_HISTORY_LIMIT, sandbox_config
from smsai_mcp.sandbox import SANDBOX_TOKEN, Message, SandboxConfig, create_app, in_process_transport

pytestmark = pytest.mark.anyio

US_NUMBER = "+12025551234"
HEADERS = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Accept": "application/json"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _count_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of Message.to_json calls, the real method still doing the work."""
    rendered: list[int] = []
    real: Callable[[Message], dict[str, Any]] = Message.to_json

    def counting(message: Message) -> dict[str, Any]:
        rendered.append(message.id)
        return real(message)

    monkeypatch.setattr(Message, "to_json", counting)
    return rendered


async def test_list_messages_at_20000_messages_renders_only_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = create_app(SandboxConfig(delivery_seconds=0))
    account = sandbox.state.accounts[SANDBOX_TOKEN]
    for number in range(20_000):  # stored directly: the listing is under test, not 20,000 POSTs
        sandbox.state.send(account, US_NUMBER, f"message {number}", None, Decimal("0.0001"), 1)
    rendered = _count_renders(monkeypatch)
    transport = in_process_transport(sandbox)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test/api/v1", headers=HEADERS) as http:
        page = (await http.get("/sms", params={"page": 3})).json()
        filtered = (await http.get("/sms", params={"status": "delivered", "page": 2})).json()
    assert [message["body"] for message in page["data"][:2]] == ["message 19969", "message 19968"]
    assert page["meta"]["total"] == filtered["meta"]["total"] == 20_000
    assert len(rendered) == 2 * 15  # one page each, not 20,000 records serialised and then cut


async def test_a_bounded_sandbox_keeps_the_newest_messages_and_counts_every_request() -> None:
    limit = 50
    sandbox = create_app(SandboxConfig(history_limit=limit))
    transport = in_process_transport(sandbox)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test/api/v1", headers=HEADERS) as http:
        sent = [
            (await http.post("/sms/send", json={"to": US_NUMBER, "body": f"n{n}"})).json()["id"] for n in range(300)
        ]
        oldest = await http.get(f"/sms/{sent[0]}")
        newest = await http.get(f"/sms/{sent[-1]}")
        listed = (await http.get("/sms")).json()
    assert sent == list(range(sent[0], sent[0] + 300))  # ids keep rising past what is forgotten
    assert oldest.status_code == 404
    assert newest.json()["body"] == "n299"
    assert limit <= listed["meta"]["total"] <= 2 * limit
    assert len(sandbox.state.messages) <= 2 * limit
    assert len(sandbox.state.requests) <= 2 * limit  # memory stays flat however long it runs
    assert sandbox.state.count("POST", "/api/v1/sms/send") == 300  # the counts still see every request


def test_the_embedded_and_standalone_sandbox_keep_a_bounded_history() -> None:
    assert sandbox_config({}).history_limit == SANDBOX_HISTORY_LIMIT == 2_000
    assert SandboxConfig().history_limit is None  # the tests' own sandboxes remember everything
