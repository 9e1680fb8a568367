"""One tenant cannot take the service from another: each holds at most its share of the session limit.

The SDK refuses new sessions only once SMSAI_MCP_MAX_SESSIONS are open, whoever holds them. This wrapper of
the /mcp endpoint counts the sessions each tenant opened (and is opening) and refuses a tenant that already
holds `max_sessions // number of tenants` (at least one), so the others always have room.

It learns of sessions as the SDK's public behaviour shows them, without reading the manager's private record:
a session opens with the Mcp-Session-Id its first answer assigns, ends with a DELETE or a 404 to its owner, and
idles out once no request of it has been in flight for the manager's public `session_idle_timeout`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.types import INTERNAL_ERROR
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FairSessions", "fair_share", "share_sessions_fairly"]

_SESSION_HEADER = b"mcp-session-id"
_VERSION_HEADER = MCP_PROTOCOL_VERSION_HEADER.lower().encode("ascii")
_SESSION_NOT_FOUND = 404


def fair_share(max_sessions: int, tenants: int) -> int:
    return max(1, max_sessions // max(1, tenants))


def share_sessions_fairly(app: Starlette, sessions: StreamableHTTPSessionManager, share: int) -> None:
    """Wrap the /mcp endpoint, inside authentication (which names the tenant), in the per-tenant session share."""
    [endpoint] = [route for route in app.routes if isinstance(route, Route) and route.path == "/mcp"]
    endpoint.app = FairSessions(endpoint.app, share=share, idle_timeout_seconds=sessions.session_idle_timeout)


@dataclass(slots=True)
class _Session:
    owner: str  # the tenant that opened it; the SDK answers anyone else 404
    requests_in_flight: int
    last_active: float  # when its last request in flight ended


class FairSessions:
    """ASGI wrapper, inside authentication (it reads the caller's tenant) and around the SDK's session manager."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        share: int,
        idle_timeout_seconds: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._share = share
        self._idle_timeout_seconds = idle_timeout_seconds  # None: sessions never idle out
        self._clock = clock
        self._sessions: dict[str, _Session] = {}  # session id → what is known of it
        self._opening: Counter[str] = Counter()  # requests of each tenant that may open a session right now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = _tenant_of(scope)
        if tenant is None:
            await self._app(scope, receive, send)
            return
        session_id = dict(scope["headers"]).get(_SESSION_HEADER)
        if session_id is None:
            if _opens_a_session(scope):
                await self._open(tenant, scope, receive, send)
            else:
                await self._app(scope, receive, send)
            return
        session = self._sessions.get(session_id.decode("latin-1"))
        if session is None or session.owner != tenant:  # not ours to count: the SDK answers it
            await self._app(scope, receive, send)
            return
        await self._use(session_id.decode("latin-1"), session, scope, receive, send)

    async def _open(self, tenant: str, scope: Scope, receive: Receive, send: Send) -> None:
        if self._held_by(tenant) >= self._share:
            await _refuse(send, self._share)
            return
        self._opening[tenant] += 1
        opened: _Session | None = None
        settled = False

        async def noting_the_session(message: Message) -> None:
            nonlocal settled, opened
            if message["type"] == "http.response.start" and not settled:
                assigned = dict(message.get("headers", [])).get(_SESSION_HEADER)
                if message["status"] < 400 and assigned:
                    opened = _Session(tenant, requests_in_flight=1, last_active=self._clock())
                    self._sessions[assigned.decode("latin-1")] = opened
                self._opening[tenant] -= 1  # counted as opening or as open, never both
                settled = True
            await send(message)

        try:
            await self._app(scope, receive, noting_the_session)
        finally:
            if not settled:
                self._opening[tenant] -= 1
            if opened is not None:
                opened.requests_in_flight -= 1
                opened.last_active = self._clock()

    async def _use(self, session_id: str, session: _Session, scope: Scope, receive: Receive, send: Send) -> None:
        session.requests_in_flight += 1
        status: int | None = None

        async def noting_the_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, noting_the_status)
        finally:
            session.requests_in_flight -= 1
            session.last_active = self._clock()
            ended = status == _SESSION_NOT_FOUND or (
                scope["method"] == "DELETE" and status is not None and status < 400
            )
            if ended:
                self._sessions.pop(session_id, None)

    def _held_by(self, tenant: str) -> int:
        now = self._clock()
        for session_id in [sid for sid, session in self._sessions.items() if self._idled_out(session, now)]:
            del self._sessions[session_id]
        return self._opening[tenant] + sum(1 for session in self._sessions.values() if session.owner == tenant)

    def _idled_out(self, session: _Session, now: float) -> bool:
        if self._idle_timeout_seconds is None or session.requests_in_flight:
            return False
        return now - session.last_active >= self._idle_timeout_seconds


def _tenant_of(scope: Scope) -> str | None:
    """The tenant of a request whose access key was verified; None lets the endpoint answer 401 itself."""
    if scope["type"] != "http":
        return None
    access = getattr(scope.get("user"), "access_token", None)
    client_id = getattr(access, "client_id", None)
    return client_id if isinstance(client_id, str) else None


def _opens_a_session(scope: Scope) -> bool:
    """A 2025-11-25 request without a session id: the SDK would open a session for it."""
    version = dict(scope["headers"]).get(_VERSION_HEADER)
    return version is None or version.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS


async def _refuse(send: Send, share: int) -> None:
    message = (
        f"This access key already holds its share of this server's sessions ({share}). End a session (HTTP DELETE "
        "with its Mcp-Session-Id) or wait for an idle one to expire, then try again."
    )
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": INTERNAL_ERROR, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
