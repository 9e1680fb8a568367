"""add_opt_out, list_opt_outs, remove_opt_out: the do-not-text list, per tenant, in the state store.

Adding is always safe, so it needs no one's confirmation. Removing lets a number be texted again, so a person must
confirm it by elicitation whatever SMSAI_CONFIRM says (an `input_required` round trip in 2026-07-28); a client that
cannot ask is refused and pointed to the command line. The tools stay offered on a read-only server: they send
nothing, and a removal still needs a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation, DeclinedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel, ConfigDict, Field

from smsai_mcp.guard.refusal import utc_time
from smsai_mcp.runtime import Runtime, ToolRefusal
from smsai_mcp.server.asking import about_to_ask, body_runs
from smsai_mcp.server.dependencies import can_elicit, tenant
from smsai_mcp.server.failures import tool_errors
from smsai_mcp.server.icons import tool_icons
from smsai_mcp.server.texts import (
    ADD_OPT_OUT_DESCRIPTION,
    LIST_OPT_OUTS_DESCRIPTION,
    OPT_OUT_ADDS,
    OPT_OUT_LISTS,
    OPT_OUT_REMOVES,
    REMOVE_OPT_OUT_DESCRIPTION,
    NoteArg,
    PageArg,
    ToArg,
)
from smsai_mcp.server.tool_set import ToolSet
from smsai_mcp.sms.phone import PhoneNumber, parse_e164
from smsai_mcp.state.store import OptOut

__all__ = [
    "REMOVAL_ASK_FAILED",
    "OptOutAdded",
    "OptOutEntry",
    "OptOutRemoved",
    "OptOutsPage",
    "RemoveForm",
    "add_opt_out_tools",
]

NOTHING_REMOVED = "Nothing was removed: "
REMOVAL_ASK_FAILED = (
    NOTHING_REMOVED + "the MCP client could not get the person's answer (its elicitation failed, or it sent back an "
    "answer that could not be read), so the number stays on the do-not-text list. Call remove_opt_out again to ask "
    "once more, or a person can run `smsai-mcp opt-outs remove NUMBER`."
)


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class OptOutAdded(_Result):
    to: str = Field(description="The number, normalised to E.164.")
    opted_out: Literal[True] = Field(description="Always true: the number is on the do-not-text list.")
    since: str = Field(description="Since when it is on the list (ISO 8601 UTC): the first time it was added.")


class OptOutRemoved(_Result):
    to: str = Field(description="The number, normalised to E.164.")
    opted_out: Literal[False] = Field(description="Always false: the number is not on the do-not-text list.")


class OptOutEntry(_Result):
    to: str = Field(description="The number, in E.164.")
    since: str = Field(description="Since when it is on the list (ISO 8601 UTC).")
    note: str | None = Field(description="Why it is on the list, as written when it was added; null without one.")

    @classmethod
    def of(cls, entry: OptOut) -> OptOutEntry:
        return cls(to=entry.number, since=_iso(entry.since), note=entry.note)


class OptOutsPage(_Result):
    opt_outs: list[OptOutEntry] = Field(description="The numbers on the do-not-text list, oldest first.")
    page: int
    has_more: bool = Field(description="Whether a next page holds more numbers.")
    total: int = Field(description="How many numbers the list holds in all.")


class RemoveForm(BaseModel):
    """The elicitation form: one box, unchecked unless the person checks it."""

    remove: bool = Field(
        default=False, title="Let this number be texted again", description="Check to take it off the list."
    )


@dataclass(frozen=True, slots=True)
class RemovalPlan:
    """The number to take off, its entry on the list (None: not listed), or what refused the call."""

    number: PhoneNumber | None = None
    entry: OptOut | None = None
    refusal: Exception | None = None


class NotAsked:
    """The question resolver's answer when no question goes to the person."""


NOT_ASKED = NotAsked()


async def plan_removal(ctx: Context[Runtime], to: str) -> RemovalPlan:
    """Resolver: the number and its entry; a client that cannot ask is refused before anything is read."""
    try:
        number = parse_e164(to)
        guard = tenant(ctx).require_guard()
        if not can_elicit(ctx):
            return RemovalPlan(refusal=ToolRefusal(_cannot_ask(number)))
        return RemovalPlan(number, await guard.opt_outs.find(number.e164))
    except Exception as exc:  # a resolver must not raise: the SDK would hide the reason; the tool body raises it
        return RemovalPlan(refusal=exc)


async def ask_removal(
    ctx: Context[Runtime], plan: Annotated[RemovalPlan, Resolve(plan_removal)]
) -> Elicit[RemoveForm] | NotAsked:
    """Resolver: the person's question, built from the stored entry only (the same on every 2026-07-28 round). Its
    exact `since` pins the answer to this entry: a replayed yes to an entry removed and added again is asked anew."""
    if plan.number is None or plan.entry is None:
        return NOT_ASKED
    question = (
        f"Take {plan.number.international} off the do-not-text list?\n"
        f"It has been on the list since {utc_time(plan.entry.since)} ({_exact_utc(plan.entry.since)}): "
        "someone asked not to be texted.\n"
        "Once it is off, the agent may text this number again."
    )
    about_to_ask()
    return Elicit(question, RemoveForm)


def add_opt_out_tools(mcp: ToolSet) -> None:
    @mcp.tool(
        name="add_opt_out",
        title="Add to the do-not-text list",
        description=ADD_OPT_OUT_DESCRIPTION,
        annotations=OPT_OUT_ADDS,
        icons=tool_icons("add_opt_out"),
    )
    @tool_errors(sending=False)
    async def add_opt_out(ctx: Context[Runtime], to: ToArg, note: NoteArg = None) -> OptOutAdded:
        number = parse_e164(to)
        entry = await tenant(ctx).require_guard().opt_outs.add(number.e164, note, by="add_opt_out")
        return OptOutAdded(to=entry.number, opted_out=True, since=_iso(entry.since))

    @mcp.tool(
        name="list_opt_outs",
        title="List the do-not-text list",
        description=LIST_OPT_OUTS_DESCRIPTION,
        annotations=OPT_OUT_LISTS,
        icons=tool_icons("list_opt_outs"),
    )
    @tool_errors(sending=False)
    async def list_opt_outs(ctx: Context[Runtime], page: PageArg = None) -> OptOutsPage:
        found = await tenant(ctx).require_guard().opt_outs.page(page or 1)
        return OptOutsPage(
            opt_outs=[OptOutEntry.of(entry) for entry in found.entries],
            page=found.page,
            has_more=found.has_more,
            total=found.total,
        )

    @mcp.tool(
        name="remove_opt_out",
        title="Remove from the do-not-text list",
        description=REMOVE_OPT_OUT_DESCRIPTION,
        annotations=OPT_OUT_REMOVES,
        icons=tool_icons("remove_opt_out"),
    )
    @tool_errors(sending=False)
    async def remove_opt_out(
        ctx: Context[Runtime],
        to: ToArg,
        plan: Annotated[RemovalPlan, Resolve(plan_removal)],
        answer: Annotated[ElicitationResult[RemoveForm], Resolve(ask_removal)],
    ) -> OptOutRemoved:
        body_runs()
        if plan.refusal is not None:
            raise plan.refusal
        assert plan.number is not None
        number = plan.number
        if plan.entry is None:
            return OptOutRemoved(to=number.e164, opted_out=False)  # not listed: nothing to ask
        kept = f"{number.international} stays on the do-not-text list."
        match answer:
            case AcceptedElicitation(data=RemoveForm(remove=True)):
                await tenant(ctx).require_guard().opt_outs.remove(number.e164, by="remove_opt_out")
                return OptOutRemoved(to=number.e164, opted_out=False)
            case AcceptedElicitation():
                raise ToolRefusal(f"{NOTHING_REMOVED}the person did not check the box. {kept}")
            case DeclinedElicitation():
                raise ToolRefusal(f"{NOTHING_REMOVED}the person declined. {kept} Do not text this number.")
            case CancelledElicitation():
                raise ToolRefusal(f"{NOTHING_REMOVED}the person dismissed the question. {kept}")
        raise ToolRefusal(f"{NOTHING_REMOVED}no one answered the question. {kept}")


def _cannot_ask(number: PhoneNumber) -> str:
    return (
        f"{NOTHING_REMOVED}taking a number off the do-not-text list needs a person's confirmation, and this MCP "
        "client cannot ask one (it does not support elicitation). A person can remove it with "
        f"`smsai-mcp opt-outs remove {number.e164}`."
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _exact_utc(seconds: float) -> str:
    """An entry's moment to the microsecond: a number removed and added again never reads the same."""
    return datetime.fromtimestamp(seconds, UTC).strftime("added at %H:%M:%S.%f")
