"""The one place where failures become tool errors: one actionable sentence, never a bare "Error executing"."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar, cast

from mcp.types import CallToolResult, TextContent

from smsai_mcp.client.errors import ApiError
from smsai_mcp.guard.refusal import NOTHING_SENT, READ_ONLY_REASON, OutcomeUnknown, Refusal, ledger_trouble
from smsai_mcp.runtime import ToolRefusal
from smsai_mcp.sms.phone import InvalidPhoneNumber
from smsai_mcp.state.store import StoreUnavailable

__all__ = ["READ_ONLY_REFUSAL", "failure_text", "tool_errors"]

logger = logging.getLogger(__name__)

READ_ONLY_REFUSAL = NOTHING_SENT + READ_ONLY_REASON

P = ParamSpec("P")
R = TypeVar("R")


def tool_errors(*, sending: bool) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Turn every failure of a tool into a tool error whose text `failure_text` words."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:  # every failure reaches the model as a sentence
                text = failure_text(exc, sending=sending)
                return cast(R, CallToolResult(content=[TextContent(type="text", text=text)], is_error=True))

        return wrapper

    return decorate


def failure_text(exc: Exception, *, sending: bool) -> str:
    """What the model reads. A send's text says whether anything was sent; a refusal of the guard already does."""
    if isinstance(exc, ToolRefusal):
        text = str(exc)
        return NOTHING_SENT + text if sending and not text.startswith(NOTHING_SENT) else text
    if isinstance(exc, Refusal | OutcomeUnknown):
        return exc.text()
    from smsai_mcp.sms.estimate import UnsupportedDestination  # the send path's, loaded once the tools are listed

    if isinstance(exc, InvalidPhoneNumber | UnsupportedDestination):
        return (NOTHING_SENT if sending else "") + str(exc)
    if isinstance(exc, ApiError):
        return (NOTHING_SENT if sending else "") + exc.message
    if isinstance(exc, StoreUnavailable) and not sending:
        return ledger_trouble(exc)
    logger.exception("unexpected failure in a tool")
    if sending:
        return (
            "The message may have been sent; its outcome is unknown, so it must not be retried. smsai-mcp hit an "
            "internal error (details are in its log). Check list_messages to see whether it went out."
        )
    return "smsai-mcp hit an internal error (details are in its log). Try again; if it persists, report it."
