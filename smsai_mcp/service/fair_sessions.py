"""One tenant cannot take the service from another: each holds at most its share of the session limit.

The SDK refuses new sessions only once SMSAI_MCP_MAX_SESSIONS are open, whoever holds them. This wrapper of
the /mcp endpoint counts the sessions each tenant opened (and is opening) and refuses a tenant that already
holds `max_sessions // number of tenants` (at least one), so the others always have room.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection

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


def fair_share(max_sessions: int, tenants: int) -> int:
    return max(1, max_sessions // max(1, tenants))


def share_sessions_fairly(app: Starlette, sessions: StreamableHTTPSessionManager, share: int) -> None:
    """Wrap the /mcp endpoint, inside authentication (which names the tenant), in the per-tenant session share."""
    [endpoint] = [route for route in app.routes if isinstance(route, Route) and route.path == "/mcp"]
    # The manager's own record of open sessions (it has no public accessor): sessions also end by idling out.
    endpoint.app = FairSessions(endpoint.app, share=share, open_sessions=lambda: sessions._server_instances)


class FairSessions:
    """ASGI wrapper, inside authentication (it reads the caller's tenant) and around the SDK's session manager."""

    def __init__(self, app: ASGIApp, *, share: int, open_sessions: Callable[[], Collection[str]]) -> None:
        self._app = app
        self._share = share
        self._open_sessions = open_sessions  # the session manager's own record: sessions also end by idling out
        self._owner_of: dict[str, str] = {}  # session id → the tenant that opened it
        self._opening: Counter[str] = Counter()  # requests of each tenant that may open a session right now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = _tenant_of(scope)
        if tenant is None or not _opens_a_session(scope):
            await self._app(scope, receive, send)
            return
        held = self._held_by(tenant)
        if held >= self._share:
            await _refuse(send, self._share)
            return
        self._opening[tenant] += 1
        settled = False

        async def noting_the_session(message: Message) -> None:
            nonlocal settled
            if message["type"] == "http.response.start" and not settled:
                session_id = dict(message.get("headers", [])).get(_SESSION_HEADER)
                if message["status"] < 400 and session_id:
                    self._owner_of[session_id.decode("latin-1")] = tenant
                self._opening[tenant] -= 1  # counted as opening or as open, never both
                settled = True
            await send(message)

        try:
            await self._app(scope, receive, noting_the_session)
        finally:
            if not settled:
                self._opening[tenant] -= 1

    def _held_by(self, tenant: str) -> int:
        open_now = self._open_sessions()
        for session_id in [sid for sid in self._owner_of if sid not in open_now]:
            del self._owner_of[session_id]
        return self._opening[tenant] + sum(1 for owner in self._owner_of.values() if owner == tenant)


def _tenant_of(scope: Scope) -> str | None:
    """The tenant of a request whose access key was verified; None lets the endpoint answer 401 itself."""
    if scope["type"] != "http":
        return None
    access = getattr(scope.get("user"), "access_token", None)
    client_id = getattr(access, "client_id", None)
    return client_id if isinstance(client_id, str) else None


def _opens_a_session(scope: Scope) -> bool:
    """A 2025-11-25 request without a session id: the SDK would open a session for it."""
    headers = dict(scope["headers"])
    if _SESSION_HEADER in headers:
        return False
    version = headers.get(_VERSION_HEADER)
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
