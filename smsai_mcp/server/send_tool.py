"""send_sms: the MCP side of a send. It hands the guard the request, asks the question the guard writes, and
hands the guard the person's answer or the token; every decision is the guard's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from mcp.server.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
)
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel, Field

from smsai_mcp.runtime import NO_CREDENTIALS_ADVICE, Runtime, ToolRefusal
from smsai_mcp.server.app import preview_meta
from smsai_mcp.server.asking import about_to_ask, body_runs, planned
from smsai_mcp.server.dependencies import can_elicit, tenant
from smsai_mcp.server.failures import READ_ONLY_REFUSAL, tool_errors
from smsai_mcp.server.icons import tool_icons
from smsai_mcp.server.results import SendResult
from smsai_mcp.server.texts import (
    SEND_DESCRIPTION,
    SENDS,
    BodyArg,
    ConfirmationTokenArg,
    IdempotencyKeyArg,
    SenderArg,
    ToArg,
)
from smsai_mcp.server.tool_set import ToolSet

if TYPE_CHECKING:
    from smsai_mcp.guard.confirm import Asked
    from smsai_mcp.guard.stages import CheckedSend, SendOutcome

__all__ = ["ConfirmForm", "Planned", "add_send_tool"]


class ConfirmForm(BaseModel):
    """The elicitation form: one box, unchecked unless the person checks it."""

    confirm: bool = Field(default=False, title="Send this SMS", description="Check to send this SMS now.")


@dataclass(frozen=True, slots=True)
class Planned:
    """What the guard made of a send before confirmation: the checked send, an answer, or what refused it."""

    checked: CheckedSend | None = None
    answer: SendOutcome | None = None
    refusal: Exception | None = None


class NotAsked:
    """The confirmation resolver's answer when no question goes to the person."""


NOT_ASKED = NotAsked()


async def plan_send(
    ctx: Context[Runtime], to: str, body: str, sender_id: str | None, idempotency_key: str | None
) -> Planned:
    """Resolver: every guard step before confirmation; a read-only tenant stops here, before anyone is asked."""
    from smsai_mcp.guard.stages import CheckedSend, SendRequest  # the send path, loaded once the tools are listed

    try:
        runtime = tenant(ctx)
        if runtime.settings.read_only:
            return Planned(refusal=ToolRefusal(READ_ONLY_REFUSAL))
        checked = await runtime.require_guard().check(SendRequest(to, body, sender_id, idempotency_key))
    except Exception as exc:  # a resolver must not raise: the SDK would hide the reason; the tool body raises it
        return Planned(refusal=exc)
    plan = Planned(checked=checked) if isinstance(checked, CheckedSend) else Planned(answer=checked)
    planned(plan)
    return plan


async def ask_person(
    ctx: Context[Runtime], plan: Annotated[Planned, Resolve(plan_send)]
) -> Elicit[ConfirmForm] | NotAsked:
    """Resolver: the guard's confirmation question, when this send needs one and the client can ask it."""
    from smsai_mcp.guard.confirm import asks_a_person  # the send path, loaded once the tools are listed

    runtime = tenant(ctx)
    if plan.checked is None or not can_elicit(ctx):
        return NOT_ASKED
    if not asks_a_person(runtime.settings, [plan.checked.prepared.number.e164]):
        return NOT_ASKED
    question = await runtime.require_guard().question(plan.checked)
    about_to_ask()
    return Elicit(question.render(), ConfirmForm)


def what_was_asked(ctx: Context[Runtime], confirmation: ElicitationResult[ConfirmForm]) -> Asked | None:
    """The person's answer in the guard's terms; None when no one was asked."""
    from smsai_mcp.guard.confirm import Asked  # the send path, loaded once the tools are listed

    match confirmation:
        case AcceptedElicitation(data=ConfirmForm() as form):
            return Asked("confirmed" if form.confirm else "unchecked", ctx.request_state)
        case DeclinedElicitation():
            return Asked("declined", ctx.request_state)
        case CancelledElicitation():
            return Asked("cancelled", ctx.request_state)
    return None


def add_send_tool(mcp: ToolSet) -> None:
    @mcp.tool(
        name="send_sms",
        title="Send an SMS",
        description=SEND_DESCRIPTION,
        annotations=SENDS,
        icons=tool_icons("send_sms"),
        meta=preview_meta(),
    )
    @tool_errors(sending=True)
    async def send_sms(
        ctx: Context[Runtime],
        to: ToArg,
        body: BodyArg,
        plan: Annotated[Planned, Resolve(plan_send)],
        confirmation: Annotated[ElicitationResult[ConfirmForm], Resolve(ask_person)],
        sender_id: SenderArg = None,
        idempotency_key: IdempotencyKeyArg = None,
        confirmation_token: ConfirmationTokenArg = None,
    ) -> SendResult:
        body_runs()
        runtime = tenant(ctx)
        if runtime.settings.read_only:
            raise ToolRefusal(READ_ONLY_REFUSAL)
        if plan.answer is not None:
            return SendResult.of(plan.answer)
        if plan.checked is None:
            raise plan.refusal or ToolRefusal(NO_CREDENTIALS_ADVICE)
        asked = what_was_asked(ctx, confirmation)
        outcome = await runtime.require_guard().confirm_and_send(plan.checked, asked=asked, token=confirmation_token)
        return SendResult.of(outcome)
