"""The Streamable HTTP service: access keys and tenants, DNS-rebinding protection, health checks,
JSON logs with a request id and the tenant, limits, and a graceful stop that lets sends finish."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import httpx2
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.request_state import RequestStateSecurity
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from smsai_mcp.config import ConfigError, Settings, is_loopback_host, shown_value
from smsai_mcp.fair_sessions import fair_share, share_sessions_fairly
from smsai_mcp.readiness import Readiness
from smsai_mcp.runtime import LiveRuntime
from smsai_mcp.server import build_server
from smsai_mcp.tenants import AccessKeys, Tenant, load_tenants, tenants_from_access_keys

__all__ = ["ServiceOptions", "build_service", "configure_json_logging", "serve_http"]

logger = logging.getLogger(__name__)

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_EXTRA_FIELDS = ("tool", "outcome", "duration_ms")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("smsai_request_id", default=None)
_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("smsai_tenant", default=None)


class Drain:
    """Tool calls in flight, so a stop can wait for them: a send cut off mid-answer is a send the agent
    cannot see, and it may send again elsewhere."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    tenants: Mapping[str, Tenant]
    allowed_hosts: tuple[str, ...]
    max_sessions: int
    max_request_bytes: int
    graceful_shutdown_seconds: float
    header_timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> ServiceOptions:
        env = os.environ if environ is None else environ
        tenants_file = env.get("SMSAI_TENANTS_FILE", "").strip()
        if tenants_file:
            if env.get("SMSAI_MCP_ACCESS_KEYS", "").strip() or env.get("SMSAI_API_TOKEN", "").strip():
                logger.warning("SMSAI_TENANTS_FILE is set: SMSAI_MCP_ACCESS_KEYS and SMSAI_API_TOKEN are not used")
            tenants = load_tenants(Path(tenants_file).expanduser(), env)
        else:
            tenants = tenants_from_access_keys(settings, env.get("SMSAI_MCP_ACCESS_KEYS"))
        hosts = tuple(
            host.strip().lower() for host in env.get("SMSAI_MCP_ALLOWED_HOSTS", "").split(",") if host.strip()
        )
        return cls(
            tenants=tenants,
            allowed_hosts=hosts,
            max_sessions=_positive(env, "SMSAI_MCP_MAX_SESSIONS", 1000),
            max_request_bytes=_positive(env, "SMSAI_MCP_MAX_REQUEST_BYTES", 1_048_576),
            graceful_shutdown_seconds=float(_positive(env, "SMSAI_MCP_SHUTDOWN_SECONDS", 30)),
            header_timeout_seconds=float(_positive(env, "SMSAI_MCP_HEADER_TIMEOUT_SECONDS", 5)),
        )

    def with_settings(self, change: Callable[[Settings], Settings]) -> ServiceOptions:
        tenants = {
            name: Tenant(tenant.name, tenant.key_hashes, change(tenant.settings))
            for name, tenant in self.tenants.items()
        }
        return replace(self, tenants=tenants)

    @property
    def requires_keys(self) -> bool:
        return any(tenant.key_hashes for tenant in self.tenants.values())


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1 (got {shown_value(raw)}).")
    return int(raw)


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
    mcp._lowlevel_server.middleware.insert(0, _RequestContext(drain))  # outermost: every log line knows its request
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        max_request_body_size=options.max_request_bytes,
        max_sessions=options.max_sessions,
        transport_security=_transport_security(options.allowed_hosts),
        host=host,
    )
    if len(options.tenants) > 1:
        share_sessions_fairly(app, mcp.session_manager, fair_share(options.max_sessions, len(options.tenants)))
    _add_health_routes(app, live, drain)
    app.add_middleware(_LowerCaseHost)
    app.state.drain = drain
    return app


class _LowerCaseHost:
    """Host names are case-insensitive; the DNS-rebinding check compares them exactly, so compare lower case."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value.lower() if name == b"host" else value) for name, value in scope["headers"]]
            scope = {**scope, "headers": headers}
        await self._app(scope, receive, send)


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


class _RequestContext:
    """Outermost middleware: every log line knows its request and tenant; tool calls are counted for the drain."""

    def __init__(self, drain: Drain) -> None:
        self._drain = drain

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await _with_log_context(ctx, call_next)
        if self._drain.draining:
            return CallToolResult(content=[TextContent(type="text", text=_SHUTTING_DOWN)], is_error=True)
        self._drain.in_flight += 1
        try:
            return await _with_log_context(ctx, call_next)
        finally:
            self._drain.in_flight -= 1


_ANSWER_FLUSH_SECONDS = 1.0
_SHUTTING_DOWN = "Nothing was sent. This server is shutting down; call the tool again in a moment."


async def _with_log_context(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    access = get_access_token()
    request_token = _request_id.set(uuid.uuid4().hex[:16])
    tenant_token = _tenant.set(access.client_id if access is not None else None)
    started = time.perf_counter()
    try:
        result = await call_next(ctx)
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping):
            # One line per tool call: which tool, how it ended, how long it took; never its arguments.
            failed = result.get("isError") if isinstance(result, dict) else getattr(result, "is_error", False)
            logger.info(
                "tool call",
                extra={
                    "tool": str(ctx.params.get("name")),
                    "outcome": "error" if failed else "ok",
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return result
    finally:
        _request_id.reset(request_token)
        _tenant.reset(tenant_token)


def _add_health_routes(app: Starlette, live: LiveRuntime, drain: Drain) -> None:
    readiness = Readiness()

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        if drain.draining:
            return JSONResponse({"status": "stopping"}, status_code=503)
        if live.runtime is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        problems = await readiness.problems(live.runtime)
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_route("/healthz", healthz, methods=["GET"])
    app.add_route("/readyz", readyz, methods=["GET"])


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and the tenant when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := _request_id.get()) is not None:
            entry["request_id"] = request_id
        if (tenant := _tenant.get()) is not None:
            entry["tenant"] = tenant
        for field in _EXTRA_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter()
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def serve_http(
    app: Starlette, *, host: str, port: int, graceful_shutdown_seconds: float, header_timeout_seconds: float = 5.0
) -> None:
    import uvicorn

    from smsai_mcp.header_deadline import with_header_deadline

    drain: Drain = app.state.drain

    class DrainingServer(uvicorn.Server):
        """On a stop signal: refuse new tool calls, let the ones in flight answer, then stop as uvicorn does."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if drain.draining:  # a second signal: stop now
                super().handle_exit(sig, frame)
                return
            drain.draining = True
            threading.Thread(target=self._exit_when_drained, args=(sig, frame), daemon=True).start()

        def _exit_when_drained(self, sig: int, frame: FrameType | None) -> None:
            deadline = time.monotonic() + graceful_shutdown_seconds
            while drain.in_flight and time.monotonic() < deadline:
                time.sleep(0.05)
            # A tool call is counted out when it returns; its answer still has to be written to the stream.
            time.sleep(max(0.0, min(_ANSWER_FLUSH_SECONDS, deadline - time.monotonic())))
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # our handlers: JSON on stderr
        access_log=False,
        timeout_graceful_shutdown=int(graceful_shutdown_seconds),
        lifespan="on",
        http=with_header_deadline(header_timeout_seconds),  # h11 alone waits for headers forever
    )
    DrainingServer(config).run()
