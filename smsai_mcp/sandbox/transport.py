"""Running the sandbox inside the client's own event loop, failing with the exceptions a real socket raises."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2

from smsai_mcp.sandbox.app import Sandbox
from smsai_mcp.sandbox.misbehave import ConnectionDroppedError


class InProcessTransport(httpx2.AsyncBaseTransport):
    """httpx2's ASGITransport, plus the read timeout it ignores and a dropped connection it cannot express."""

    def __init__(self, app: Sandbox) -> None:
        self._asgi = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        read_timeout: float | None = timeouts.get("read")
        try:
            with anyio.move_on_after(read_timeout):
                return await self._asgi.handle_async_request(request)
        except ConnectionDroppedError:
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            ) from None
        raise httpx2.ReadTimeout("The sandbox did not answer within the read timeout.", request=request)

    async def aclose(self) -> None:
        await self._asgi.aclose()


def in_process_transport(app: Sandbox) -> httpx2.AsyncBaseTransport:
    return InProcessTransport(app)
