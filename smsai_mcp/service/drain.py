"""A graceful stop: on a signal, refuse new tool calls, let those in flight answer, then stop as uvicorn does.

A send cut off mid-answer is a send the agent cannot see, and it may send again elsewhere.
"""

from __future__ import annotations

import threading
import time
from types import FrameType
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult, TextContent
from starlette.applications import Starlette

__all__ = ["SHUTTING_DOWN", "Drain", "serve_http"]

# A tool call is counted out when it returns; its answer still has to be written to the stream.
_ANSWER_FLUSH_SECONDS = 1.0
SHUTTING_DOWN = "Nothing was sent. This server is shutting down; call the tool again in a moment."


class Drain:
    """Tool calls in flight, so a stop can wait for them; once draining, new tool calls are refused."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.draining = False
        self.last_answered = float("-inf")  # time.monotonic() when a tool call last returned

    def answers_pending(self) -> bool:
        """A call is running, or one returned so lately that its answer may not have been written yet."""
        return self.in_flight > 0 or time.monotonic() - self.last_answered < _ANSWER_FLUSH_SECONDS

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """MCP middleware, outermost: counts tool calls in, and refuses them once the stop has begun."""
        if ctx.method != "tools/call":
            return await call_next(ctx)
        if self.draining:
            return CallToolResult(content=[TextContent(type="text", text=SHUTTING_DOWN)], is_error=True)
        self.in_flight += 1
        try:
            return await call_next(ctx)
        finally:
            self.in_flight -= 1
            self.last_answered = time.monotonic()


def serve_http(
    app: Starlette, *, host: str, port: int, graceful_shutdown_seconds: float, header_timeout_seconds: float = 5.0
) -> None:
    import uvicorn

    from smsai_mcp.service.header_deadline import with_header_deadline

    drain: Drain = app.state.drain

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if drain.draining:  # a second signal: stop now
                super().handle_exit(sig, frame)
                return
            drain.draining = True
            if not drain.answers_pending():  # idle: nothing to wait for, so stop at once
                super().handle_exit(sig, frame)
                return
            threading.Thread(target=self._exit_when_drained, args=(sig, frame), daemon=True).start()

        def _exit_when_drained(self, sig: int, frame: FrameType | None) -> None:
            deadline = time.monotonic() + graceful_shutdown_seconds
            while drain.answers_pending() and time.monotonic() < deadline:
                time.sleep(0.05)
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
