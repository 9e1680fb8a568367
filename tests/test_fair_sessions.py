"""The per-tenant share of sessions follows sessions as the SDK shows them: opened, deleted, gone, idled out."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from starlette.types import Message, Receive, Scope, Send

from smsai_mcp.service.fair_sessions import FairSessions

pytestmark = pytest.mark.anyio

IDLE_SECONDS = 1800.0
_session_ids = (f"s{n}".encode() for n in itertools.count())


async def session_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers as the SDK's endpoint does: a request without a session id opens one, and its answer names it."""
    headers = dict(scope["headers"])
    answer = [] if b"mcp-session-id" in headers else [(b"mcp-session-id", next(_session_ids))]
    status = int(headers.get(b"x-status", b"200"))
    await send({"type": "http.response.start", "status": status, "headers": answer})
    await send({"type": "http.response.body", "body": b""})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def request(app: FairSessions, tenant: str, method: str = "POST", **headers: str) -> tuple[int, str | None]:
    scope: Scope = {
        "type": "http",
        "method": method,
        "headers": [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()],
        "user": SimpleNamespace(access_token=SimpleNamespace(client_id=tenant)),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    session_id = dict(start["headers"]).get(b"mcp-session-id")
    return start["status"], session_id.decode() if session_id else None


async def test_a_session_idled_out_by_the_sdk_frees_its_tenants_place() -> None:
    clock = Clock()
    app = FairSessions(session_endpoint, share=1, idle_timeout_seconds=IDLE_SECONDS, clock=clock)
    assert (await request(app, "acme"))[0] == 200
    assert (await request(app, "acme"))[0] == 503  # its share is one
    clock.now += IDLE_SECONDS - 1
    assert (await request(app, "acme"))[0] == 503  # not idle long enough yet
    clock.now += 1
    assert (await request(app, "acme"))[0] == 200  # the SDK has closed the idle one


async def test_a_session_in_use_does_not_idle_out() -> None:
    clock = Clock()
    app = FairSessions(session_endpoint, share=1, idle_timeout_seconds=IDLE_SECONDS, clock=clock)
    _, session_id = await request(app, "acme")
    assert session_id is not None
    clock.now += IDLE_SECONDS - 1
    await request(app, "acme", mcp_session_id=session_id)  # a request restarts the idle countdown
    clock.now += IDLE_SECONDS - 1
    assert (await request(app, "acme"))[0] == 503


async def test_a_session_gone_or_deleted_frees_its_place_and_another_tenant_cannot_end_it() -> None:
    app = FairSessions(session_endpoint, share=1, idle_timeout_seconds=None)
    _, acme_session = await request(app, "acme")
    assert acme_session is not None
    await request(app, "globex", "DELETE", mcp_session_id=acme_session)  # not globex's: the SDK answers it
    await request(app, "globex", mcp_session_id=acme_session, x_status="404")
    assert (await request(app, "acme"))[0] == 503
    await request(app, "acme", "DELETE", mcp_session_id=acme_session)
    _, second = await request(app, "acme")
    assert second is not None
    await request(app, "acme", mcp_session_id=second, x_status="404")  # ended by the SDK (a crash, say)
    assert (await request(app, "acme"))[0] == 200
