"""Serving MCP over stdio so that closing stdin does not swallow answers.

The SDK treats the end of stdin as the end of the connection and cancels every handler still running, so a
send whose POST is already in flight would go out with nobody told. Here the end of stdin reaches the SDK only
once every request read so far has been answered (or a grace period has passed).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

import anyio
from mcp.server import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

__all__ = ["STDIN_CLOSE_GRACE_SECONDS", "Unanswered", "serve_stdio", "serve_stdio_async"]

logger = logging.getLogger(__name__)

# How long answers may still be awaited after stdin closes: a send's upstream timeout, with room to spare.
STDIN_CLOSE_GRACE_SECONDS = 60.0
RequestKey = tuple[type, int | str]  # the id's type too: 1 and "1" are different requests


class Unanswered:
    """The ids of the client's requests that have not been answered yet."""

    def __init__(self) -> None:
        self._ids: set[RequestKey] = set()
        self._changed = anyio.Event()

    def read(self, message: object) -> None:
        if isinstance(message, JSONRPCRequest):
            self._ids.add((type(message.id), message.id))
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            request_id = (message.params or {}).get("requestId")
            if isinstance(request_id, int | str):  # a cancelled request is never answered
                self._forget((type(request_id), request_id))

    def written(self, message: object) -> None:
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self._forget((type(message.id), message.id))

    def _forget(self, key: RequestKey) -> None:
        self._ids.discard(key)
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until_none(self) -> None:
        while self._ids:
            await self._changed.wait()

    def __len__(self) -> int:
        return len(self._ids)


class _ReadUntilAnswered:
    """The read side of stdio, whose end is held back until every request read has been answered."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], unanswered: Unanswered, grace: float) -> None:
        self._inner = inner
        self._unanswered = unanswered
        self._grace = grace

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)  # the SDK restores each sender's context from it

    async def receive(self) -> SessionMessage | Exception:
        try:
            item = await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            await self._wait_for_answers()
            raise anyio.EndOfStream from None
        if isinstance(item, SessionMessage):
            self._unanswered.read(item.message)
        return item

    async def _wait_for_answers(self) -> None:
        if not len(self._unanswered):
            return
        logger.info("stdin closed with %d request(s) in flight; answering them first", len(self._unanswered))
        with anyio.move_on_after(self._grace) as waited:
            await self._unanswered.wait_until_none()
        if waited.cancelled_caught:
            logger.warning("stdin closed: %d request(s) unanswered after %.0fs", len(self._unanswered), self._grace)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


class _WriteNoting:
    """The write side of stdio, noting each answer as it is handed to the writer."""

    def __init__(self, inner: WriteStream[SessionMessage], unanswered: Unanswered) -> None:
        self._inner = inner
        self._unanswered = unanswered

    async def send(self, item: SessionMessage, /) -> None:
        await self._inner.send(item)
        self._unanswered.written(item.message)  # handed over: the stdout writer drains it before the process ends

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


async def serve_stdio_async(mcp: MCPServer[Any], *, grace_seconds: float = STDIN_CLOSE_GRACE_SECONDS) -> None:
    lowlevel = mcp._lowlevel_server  # what MCPServer.run_stdio_async drives, with our streams around it
    unanswered = Unanswered()
    async with stdio_server() as (read_stream, write_stream):
        await lowlevel.run(
            _ReadUntilAnswered(read_stream, unanswered, grace_seconds),
            _WriteNoting(write_stream, unanswered),
            lowlevel.create_initialization_options(),
        )


def serve_stdio(mcp: MCPServer[Any]) -> None:
    """MCPServer.run() for stdio, except that closing stdin lets the calls in flight answer first."""
    anyio.run(serve_stdio_async, mcp)
