"""Content checks (SMSAI_CONTENT_CHECKS): a text that reads differently from what is sent, carries a secret, or
links through a public URL shortener is refused before anything else looks at it."""

from __future__ import annotations

from smsai_mcp.guard.context import GuardContext
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendOutcome
from smsai_mcp.sms.content_rules import content_problem

__all__ = ["content_checks"]


async def content_checks(prepared: PreparedSend, context: GuardContext) -> SendOutcome | None:
    if not context.settings.content_checks:
        return None
    problem = content_problem(prepared.body)
    if problem is not None:
        raise Refusal(
            f"{problem.reason[0].upper()}{problem.reason[1:]}. Rewrite the message without it; if the user really "
            "means to send it, they can turn content checks off (SMSAI_CONTENT_CHECKS=off).",
            code="content",
            audit={"rule": problem.rule},
        )
    return None
