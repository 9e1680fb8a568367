"""Two more ways the sandbox misbehaves, for the lookups of unknown outcomes: a send the API is still working
on when its client gives up (or dies), and list and show answers that leave a field out."""

from __future__ import annotations

import time

import anyio
import httpx2
import pytest

from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from tests.conftest import SEND_PATH

pytestmark = pytest.mark.anyio

HEADERS = {"Authorization": f"Bearer {SANDBOX_TOKEN}", "Accept": "application/json"}


async def test_a_send_still_processing_when_its_client_gives_up_is_stored_once_the_delay_is_over(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, delay_seconds=0.6, process_after_delay=True))
    async with httpx2.AsyncClient(base_url=sandbox_url, headers=HEADERS) as client:
        started = time.monotonic()
        with pytest.raises(httpx2.ReadTimeout):
            await client.post("/sms/send", json={"to": "+12025551234", "body": "still processing"}, timeout=0.2)
    assert sandbox.state.messages == []  # the client has gone; the API is not done yet
    with anyio.fail_after(5):
        while not sandbox.state.messages:  # noqa: ASYNC110 - the sandbox's own thread stores it
            await anyio.sleep(0.02)
    assert time.monotonic() - started >= 0.6
    [message] = sandbox.state.messages
    assert message.body == "still processing"


async def test_a_slow_send_processed_after_its_delay_answers_its_waiting_client(
    sandbox: Sandbox, sandbox_url: str
) -> None:
    slow = Fault(method="POST", path=SEND_PATH, response="normal", delay_seconds=0.2, process_after_delay=True)
    sandbox.state.add_fault(slow)
    async with httpx2.AsyncClient(base_url=sandbox_url, headers=HEADERS) as client:
        response = await client.post("/sms/send", json={"to": "+12025551234", "body": "slow"}, timeout=5)
    assert response.status_code == 200
    assert response.json()["id"] == sandbox.state.messages[0].id


async def test_list_and_show_answers_can_leave_the_text_out(sandbox: Sandbox, sandbox_url: str) -> None:
    sandbox.state.add_fault(Fault(method="GET", times=None, response="normal", omit_fields=["body"]))
    async with httpx2.AsyncClient(base_url=sandbox_url, headers=HEADERS) as client:
        sent = (await client.post("/sms/send", json={"to": "+12025551234", "body": "hidden"})).json()
        listed = (await client.get("/sms")).json()
        shown = (await client.get(f"/sms/{sent['id']}")).json()
    assert [record["id"] for record in listed["data"]] == [sent["id"]]
    assert "body" not in listed["data"][0]
    assert listed["meta"]["total"] == 1
    assert "body" not in shown
    assert shown["to"] == "+12025551234"


def test_a_fault_cannot_process_both_before_and_after_its_delay() -> None:
    with pytest.raises(ValueError, match="not both"):
        Fault(process=True, process_after_delay=True)
    with pytest.raises(ValueError, match="wrong type"):
        Fault.from_json({"omit_fields": "body"})
    assert Fault.from_json({"omit_fields": ["body"], "process_after_delay": True}).omit_fields == ["body"]
