"""A client whose elicitation fails while the person is asked: a refusal that says nothing was sent, audited.

The SDK asks before a tool's body runs, so neither the body nor a resolver sees the failure: in 2025-11-25 the
client's JSON-RPC error to `elicitation/create` would come back as a protocol error, and in 2026-07-28 an answer
that is not a readable `ElicitResult` would be refused as invalid parameters. This middleware, passed to the
server's constructor, turns both (and the SDK's own complaints about an answer) into one sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from smsai_mcp.guard.refusal import NOTHING_SENT
from smsai_mcp.server.arguments import is_error

__all__ = [
    "CONFIRMATION_LAPSED",
    "ELICITATION_FAILED",
    "AskingFailures",
    "CallProgress",
    "LapsedConfirmations",
    "about_to_ask",
    "body_runs",
    "planned",
]

logger = logging.getLogger(__name__)

ELICITATION_FAILED = (
    NOTHING_SENT + "The MCP client could not get the person's answer to the confirmation question (its elicitation "
    "failed, or it sent back an answer that could not be read). Call send_sms again to ask once more; if it keeps "
    "failing, set SMSAI_CONFIRM=token to confirm with a token instead."
)

CONFIRMATION_LAPSED = (
    NOTHING_SENT + "The person's answer no longer matches a question this server asked (it restarted, more than 10 "
    "minutes went by, or the call's arguments changed), so it confirms nothing. Call send_sms again to ask once more."
)
# How the SDK marks a 2026-07-28 retry whose sealed request state it cannot open (another key, or too old).
_LAPSED_REASON = "invalid_request_state"


@dataclass
class CallProgress:
    """How far one send call got: whether the person was being asked, and whether the tool body ran."""

    asking: bool = False
    body_ran: bool = False
    plan: Any = None  # what the guard made of the send before the question, for the audit line


# Mutated, never re-set, by the call's resolvers and body: the object is shared even with a copied context.
_progress: ContextVar[CallProgress | None] = ContextVar("smsai_send_progress", default=None)


def planned(plan: Any) -> None:
    progress = _progress.get()
    if progress is not None:
        progress.plan = plan


def about_to_ask() -> None:
    progress = _progress.get()
    if progress is not None:
        progress.asking = True


def body_runs() -> None:
    progress = _progress.get()
    if progress is not None:
        progress.body_ran = True


AuditFailure = Callable[[ServerRequestContext[Any, Any], Mapping[str, Any], CallProgress], Awaitable[None]]


class AskingFailures:
    """Server middleware for the tools that ask a person; `audit` records each refusal it makes."""

    def __init__(self, tools: Collection[str], audit: AuditFailure, *, text: str = ELICITATION_FAILED) -> None:
        self._tools = frozenset(tools)
        self._audit = audit
        self._text = text  # what the refusal says: a send's by default

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        if ctx.method != "tools/call" or not isinstance(params, Mapping) or params.get("name") not in self._tools:
            return await call_next(ctx)
        arguments = params.get("arguments")
        arguments = arguments if isinstance(arguments, Mapping) else {}
        progress = CallProgress()
        token = _progress.set(progress)
        try:
            result = await call_next(ctx)
        except MCPError as exc:
            if not progress.asking or progress.body_ran:
                raise
            logger.info("the client's elicitation failed: %r", exc.error.message)  # %r: the peer's text on one line
            return await self._refuse(ctx, arguments, progress)
        except ValidationError:
            if "inputResponses" not in params:
                raise
            logger.info("the client's answer to the confirmation question could not be read")
            return await self._refuse(ctx, arguments, progress)
        finally:
            _progress.reset(token)
        if progress.asking and not progress.body_ran and is_error(result):
            logger.info("the SDK refused the client's answer to the confirmation question: %r", _first_text(result))
            return await self._refuse(ctx, arguments, progress)
        return result

    async def _refuse(
        self, ctx: ServerRequestContext[Any, Any], arguments: Mapping[str, Any], progress: CallProgress
    ) -> CallToolResult:
        try:
            await self._audit(ctx, arguments, progress)
        except Exception:  # the refusal stands even if its audit line cannot be written
            logger.exception("could not audit a refused confirmation")
        return CallToolResult(content=[TextContent(type="text", text=self._text)], is_error=True)


def _wire(result: HandlerResult) -> Any:
    return result.model_dump(by_alias=True, exclude_none=True) if isinstance(result, CallToolResult) else result


def _first_text(result: HandlerResult) -> str:
    content = _wire(result).get("content") or [{}]
    first = content[0] if isinstance(content[0], dict) else {}
    return str(first.get("text", ""))


class LapsedConfirmations:
    """Server middleware, outside the SDK's request-state check: a retry that carries the person's answer to a
    question this process cannot open (asked before a restart, too long ago, or for other arguments) is a refusal,
    not a protocol error that leaves the agent guessing whether anything went out."""

    def __init__(self, tools: Collection[str], audit: AuditFailure) -> None:
        self._tools = frozenset(tools)
        self._audit = audit

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            return await call_next(ctx)
        except MCPError as exc:
            params = ctx.params
            asked_tool = isinstance(params, Mapping) and params.get("name") in self._tools
            lapsed = isinstance(exc.data, Mapping) and exc.data.get("reason") == _LAPSED_REASON
            if ctx.method != "tools/call" or not asked_tool or not lapsed:
                raise
            assert isinstance(params, Mapping)
            arguments = params.get("arguments")
            logger.info("a confirmation came back that this server cannot open (restarted, or too late)")
            try:
                await self._audit(ctx, arguments if isinstance(arguments, Mapping) else {}, CallProgress())
            except Exception:  # the refusal stands even if its audit line cannot be written
                logger.exception("could not audit a lapsed confirmation")
            return CallToolResult(content=[TextContent(type="text", text=CONFIRMATION_LAPSED)], is_error=True)
