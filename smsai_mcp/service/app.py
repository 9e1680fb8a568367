"""The ASGI app of the Streamable HTTP service: the MCP endpoint at /mcp behind access keys, DNS-rebinding
protection and limits, with the fair share of sessions, the drain, JSON log context and health checks."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

import httpx2
from mcp.server.auth.settings import AuthSettings
from mcp.server.request_state import RequestStateSecurity
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from smsai_mcp.config import ConfigError, Settings, is_loopback_host
from smsai_mcp.runtime import LiveRuntime
from smsai_mcp.server import build_server
from smsai_mcp.service.access import AccessKeys
from smsai_mcp.service.config import ServiceOptions
from smsai_mcp.service.drain import Drain
from smsai_mcp.service.fair_sessions import fair_share, share_sessions_fairly
from smsai_mcp.service.logs import with_log_context
from smsai_mcp.service.readiness import add_health_routes

__all__ = ["build_service"]

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def build_service(
    settings: Settings,
    options: ServiceOptions,
    *,
    host: str,
    port: int,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> Starlette:
    """The ASGI app: the MCP endpoint at /mcp, plus /healthz and /readyz."""
    if not is_loopback_host(host) and not options.requires_keys:
        raise ConfigError(
            f"--host {host} is not a loopback address: set SMSAI_MCP_ACCESS_KEYS or SMSAI_TENANTS_FILE so that only "
            "your agents can reach the server."
        )
    auth = None
    verifier = None
    if options.requires_keys:
        # Static bearer keys: no authorization server, so no resource metadata is published.
        auth = AuthSettings(issuer_url=f"http://{_url_host(host)}:{port}", resource_server_url=None)
        verifier = AccessKeys(options.tenants)
    state_security = None
    if settings.state_secret is not None:
        # Every replica seals and opens 2026-07-28 request state with the same key.
        state_security = RequestStateSecurity(keys=[settings.state_secret.get_secret_value()])
    live = LiveRuntime()
    mcp = build_server(
        settings,
        transport=transport,
        tenants=options.tenants,
        request_state_security=state_security,
        auth=auth,
        token_verifier=verifier,
        live=live,
    )
    drain = Drain()
    # Outermost, in this order: a refused call during a stop logs nothing; every other log line knows its request.
    mcp.middleware[0:0] = [drain, with_log_context]
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        max_request_body_size=options.max_request_bytes,
        max_sessions=options.max_sessions,
        transport_security=_transport_security(options.allowed_hosts),
        host=host,
    )
    if len(options.tenants) > 1:
        share_sessions_fairly(app, mcp.session_manager, fair_share(options.max_sessions, len(options.tenants)))
    add_health_routes(app, live, drain)
    app.add_middleware(_LowerCaseHost)
    app.state.drain = drain
    return app


class _LowerCaseHost:
    """Host names are case-insensitive; the DNS-rebinding check compares them exactly, so compare lower case."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Returns the next layer's call itself: a layer that only looks at the headers adds no await of its own.
        if scope["type"] == "http" and _host_has_capitals(scope["headers"]):
            # Copied only when a host name has capitals: most requests pass through untouched.
            headers = [(name, value.lower() if name == b"host" else value) for name, value in scope["headers"]]
            scope = {**scope, "headers": headers}
        return self._app(scope, receive, send)


def _host_has_capitals(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(name == b"host" and value.lower() != value for name, value in headers)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _transport_security(extra_hosts: tuple[str, ...]) -> TransportSecuritySettings:
    hosts = [*_LOOPBACK_HOSTS, *extra_hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[pattern for name in hosts for pattern in (name, f"{name}:*")],
        allowed_origins=[
            f"{scheme}://{name}{port}" for name in hosts for scheme in ("http", "https") for port in ("", ":*")
        ],
    )
