"""send_sms_batch: the MCP side of a batch. It hands the guard the recipients, asks the one question the guard
writes, and hands back the person's answer or the token; every decision is the guard's (guard/batch.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, cast

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import Field

from smsai_mcp.runtime import NO_CREDENTIALS_ADVICE, Runtime, ToolRefusal
from smsai_mcp.server.app import preview_meta
from smsai_mcp.server.asking import about_to_ask, body_runs, planned
from smsai_mcp.server.batch_results import BatchResult
from smsai_mcp.server.dependencies import can_elicit, tenant
from smsai_mcp.server.failures import READ_ONLY_REFUSAL, tool_errors
from smsai_mcp.server.icons import tool_icons
from smsai_mcp.server.send_tool import NOT_ASKED, ConfirmForm, NotAsked, what_was_asked
from smsai_mcp.server.texts import (
    BATCH_DESCRIPTION,
    SENDS,
    BodyArg,
    ConfirmationTokenArg,
    IdempotencyKeyArg,
    RecipientsArg,
    SenderArg,
)
from smsai_mcp.server.tool_set import ToolSet

if TYPE_CHECKING:
    from smsai_mcp.guard.batch_stages import CheckedBatch

__all__ = ["BatchConfirmForm", "PlannedBatch", "add_batch_tool"]


class BatchConfirmForm(ConfirmForm):
    """The elicitation form of a batch: one box for every recipient listed, unchecked unless the person checks it."""

    confirm: bool = Field(default=False, title="Send to all of them", description="Check to send this SMS to all.")


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """What the guard made of a batch before confirmation: the checked batch, or what refused it."""

    batch: CheckedBatch | None = None
    refusal: Exception | None = None


async def plan_batch(
    ctx: Context[Runtime], recipients: list[str], body: str, sender_id: str | None, idempotency_key: str | None
) -> PlannedBatch:
    """Resolver: every guard step for every recipient, and the batch's budgets; a read-only tenant stops here."""
    from smsai_mcp.guard.batch_stages import BatchRequest  # the send path, loaded once the tools are listed

    try:
        runtime = tenant(ctx)
        if runtime.settings.read_only:
            return PlannedBatch(refusal=ToolRefusal(READ_ONLY_REFUSAL))
        request = BatchRequest(tuple(recipients), body, sender_id, idempotency_key)
        plan = PlannedBatch(batch=await runtime.require_guard().batches.check(request))
    except Exception as exc:  # a resolver must not raise: the SDK would hide the reason; the tool body raises it
        return PlannedBatch(refusal=exc)
    planned(plan)
    return plan


async def ask_batch(
    ctx: Context[Runtime], plan: Annotated[PlannedBatch, Resolve(plan_batch)]
) -> Elicit[BatchConfirmForm] | NotAsked:
    """Resolver: the one question for the whole batch, when it needs one and the client can ask it."""
    runtime = tenant(ctx)
    batches = runtime.require_guard().batches if plan.batch is not None else None
    if plan.batch is None or batches is None or not batches.asks_a_person(plan.batch) or not can_elicit(ctx):
        return NOT_ASKED
    question = await batches.question(plan.batch)
    about_to_ask()
    return Elicit(question.render(), BatchConfirmForm)


def add_batch_tool(mcp: ToolSet) -> None:
    @mcp.tool(
        name="send_sms_batch",
        title="Send one SMS to several numbers",
        description=BATCH_DESCRIPTION,
        annotations=SENDS,
        icons=tool_icons("send_sms_batch"),
        meta=preview_meta(),
    )
    @tool_errors(sending=True)
    async def send_sms_batch(
        ctx: Context[Runtime],
        recipients: RecipientsArg,
        body: BodyArg,
        plan: Annotated[PlannedBatch, Resolve(plan_batch)],
        confirmation: Annotated[ElicitationResult[BatchConfirmForm], Resolve(ask_batch)],
        sender_id: SenderArg = None,
        idempotency_key: IdempotencyKeyArg = None,
        confirmation_token: ConfirmationTokenArg = None,
    ) -> BatchResult:
        body_runs()
        runtime = tenant(ctx)
        if runtime.settings.read_only:
            raise ToolRefusal(READ_ONLY_REFUSAL)
        if plan.batch is None:
            raise plan.refusal or ToolRefusal(NO_CREDENTIALS_ADVICE)

        async def report(done: int, total: int) -> None:
            await ctx.report_progress(done, total, f"{done} of {total} sent or settled")

        outcome = await runtime.require_guard().batches.confirm_and_send(
            plan.batch,
            asked=what_was_asked(ctx, cast(ElicitationResult[ConfirmForm], confirmation)),
            token=confirmation_token,
            progress=report,
        )
        return BatchResult.of(outcome)
