"""The sandbox as one ASGI app: every upstream request is recorded, may meet a fault, then reaches the API."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from smsai_mcp.sandbox.accounts import bearer_token
from smsai_mcp.sandbox.api import UpstreamApi
from smsai_mcp.sandbox.config import SandboxConfig
from smsai_mcp.sandbox.control import PREFIX as CONTROL_PREFIX
from smsai_mcp.sandbox.control import SandboxControl
from smsai_mcp.sandbox.laravel import message_response
from smsai_mcp.sandbox.misbehave import ConnectionDroppedError, misbehave
from smsai_mcp.sandbox.state import RecordedRequest, SandboxState


class Sandbox:
    """An ASGI app emulating the SMS for AI API; `state` lets tests inspect and steer it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(config)
        routes = [*UpstreamApi(self.state).routes(), *SandboxControl(self.state).routes()]
        self._app = Starlette(
            routes=routes,
            exception_handlers={404: _route_not_found, 405: _method_not_allowed, 500: _server_error},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX + "/"):
            await self._app(scope, receive, send)
            return
        scope = _without_trailing_slash(scope)
        record = self.state.record(_describe(scope, self.state))
        fault = self.state.take_fault(record.method, record.path)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        try:
            if fault is None:
                await self._app(scope, receive, recording_send)
            else:
                await misbehave(fault, self._app, scope, receive, recording_send)
        except ConnectionDroppedError:
            record.status = None  # the client never got a complete answer
            raise


def create_app(config: SandboxConfig | None = None) -> Sandbox:
    return Sandbox(config if config is not None else SandboxConfig())


def _without_trailing_slash(scope: Scope) -> Scope:
    """Laravel's router ignores a trailing slash, so `/api/v1/` is the info endpoint, not a redirect."""
    path: str = scope["path"]
    if path == "/" or not path.endswith("/"):
        return scope
    trimmed = path.rstrip("/") or "/"
    return {**scope, "path": trimmed, "raw_path": trimmed.encode("latin-1")}


def _describe(scope: Scope, state: SandboxState) -> RecordedRequest:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    return RecordedRequest(
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        user_agent=headers.get("user-agent"),
        accept=headers.get("accept"),
        authorized=state.account(bearer_token(headers.get("authorization"))) is not None,
    )


async def _route_not_found(request: Request, exc: Exception) -> Response:
    return message_response(404, f"The route {request.url.path.lstrip('/')} could not be found.")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    allowed = exc.headers.get("Allow", "") if isinstance(exc, HTTPException) and exc.headers else ""
    return message_response(
        405,
        f"The {request.method} method is not supported for route {request.url.path.lstrip('/')}. "
        f"Supported methods: {allowed}.",
        {"Allow": allowed},
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    return message_response(500, "Server Error")
