"""The MCP tools. Each one validates, asks the domain or the client, and shapes the result; nothing more."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, ParamSpec, TypeVar, cast

import httpx2
from mcp.server import MCPServer
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerRequestContext
from mcp.server.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
)
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.server.request_state import RequestStateSecurity
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from smsai_mcp import __version__
from smsai_mcp.arguments import ArgumentCheck
from smsai_mcp.asking import AskingFailures, CallProgress, LapsedConfirmations, about_to_ask, body_runs, planned
from smsai_mcp.client.amounts import bookable_charge
from smsai_mcp.client.errors import ApiError, InvalidBalance, NotFound
from smsai_mcp.client.models import Country
from smsai_mcp.config import Settings
from smsai_mcp.guard.confirm import ConfirmForm
from smsai_mcp.guard.pipeline import Prepared, SendGuard, SendOutcome, usd_of_micro
from smsai_mcp.guard.refusal import NOTHING_SENT, OutcomeUnknown, Refusal, ledger_refusal, ledger_trouble
from smsai_mcp.results import (
    BalanceResult,
    CountriesResult,
    CountryResult,
    EstimateResult,
    MessageResult,
    MessagesResult,
    SendResult,
)
from smsai_mcp.runtime import (
    NO_CREDENTIALS_ADVICE,
    RECONCILE_EVERY_SECONDS,
    LiveRuntime,
    Runtime,
    TenantRuntime,
    ToolRefusal,
    open_runtime,
)
from smsai_mcp.sms.estimate import UnsupportedDestination, usd
from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164
from smsai_mcp.state.store import StoreUnavailable
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant

__all__ = ["build_server", "can_elicit"]

logger = logging.getLogger(__name__)


INSTRUCTIONS = """\
smsai-mcp sends SMS through the user's SMS for AI account. Sending costs the user money and reaches a real \
person, so only send what the user asked for. Use estimate_sms to see the cost first; send_sms runs the same \
checks (cost caps, allowed destinations, duplicates) and may ask the user to confirm. Every error says whether \
anything was sent: never retry a send whose outcome is unknown."""


P = ParamSpec("P")
R = TypeVar("R")


def _tool_errors(*, sending: bool) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Turn every failure into a tool error with one actionable sentence (never a bare 'Error executing')."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await fn(*args, **kwargs)
            except Exception as exc:  # every failure reaches the model as a sentence
                text = _failure_text(exc, sending=sending)
                return cast(R, CallToolResult(content=[TextContent(type="text", text=text)], is_error=True))

        return wrapper

    return decorate


def _failure_text(exc: Exception, *, sending: bool, may_have_posted: bool = True) -> str:
    if isinstance(exc, ToolRefusal):
        text = str(exc)
        if sending and not may_have_posted and not text.startswith(NOTHING_SENT):
            text = NOTHING_SENT + text
        return text
    if isinstance(exc, Refusal | OutcomeUnknown):
        return exc.text()
    if isinstance(exc, InvalidPhoneNumber | UnsupportedDestination):
        return (NOTHING_SENT if sending else "") + str(exc)
    if isinstance(exc, ApiError):
        return (NOTHING_SENT if sending else "") + exc.message
    if isinstance(exc, StoreUnavailable) and not sending:
        return ledger_trouble(exc)
    logger.exception("unexpected failure in a tool")
    if sending and not may_have_posted:
        return NOTHING_SENT + "smsai-mcp hit an internal error (details are in its log). Try again later."
    if sending:
        return (
            "The message may have been sent; its outcome is unknown, so it must not be retried. smsai-mcp hit an "
            "internal error (details are in its log). Check list_messages to see whether it went out."
        )
    return "smsai-mcp hit an internal error (details are in its log). Try again; if it persists, report it."


ToArg = Annotated[
    str,
    Field(
        description="Recipient phone number in international E.164 form: + then the country code and number, "
        "e.g. +14155550123.",
        pattern=r"^\+[1-9][0-9 ().\-]{5,25}$",
    ),
]
BodyArg = Annotated[
    str,
    Field(
        description="The message text, 1 to 1600 characters. One character outside the GSM-7 alphabet (emoji, "
        "most non-Latin scripts) switches the whole message to UCS-2: 70 characters per segment instead of 160.",
        min_length=1,
        max_length=1600,
    ),
]
SenderArg = Annotated[
    str | None,
    Field(
        description="Optional sender name shown to the recipient: 1 to 11 letters, digits or spaces, with at least "
        "one letter. Leave it out to use the account's default.",
        pattern=r"^[A-Za-z0-9 ]*[A-Za-z][A-Za-z0-9 ]*$",
        min_length=1,
        max_length=11,
    ),
]
IdempotencyKeyArg = Annotated[
    str | None,
    Field(
        description="Optional key you choose for this exact message, such as a UUID. A repeated call with the same "
        "key within 24 hours returns the first result instead of sending again.",
        pattern=r"^[\x21-\x7e]+$",
        min_length=1,
        max_length=128,
    ),
]
ConfirmationTokenArg = Annotated[
    str | None,
    Field(
        description="Only after a call returned status confirmation_required: its confirmation_token, sent back "
        "with the same to, body and sender_id once the user has agreed.",
        min_length=1,
        max_length=512,
    ),
]

SEND_DESCRIPTION = """\
Send one SMS to a phone number. It costs the user money and reaches a real person; it cannot be undone.
Before anything goes out the server works out the cost (country, encoding, segments), checks the user's caps \
and destination rules, and may ask the user to confirm; the result's status is sent, duplicate or \
confirmation_required. On confirmation_required nothing was sent: show the user the estimate and call again \
with confirmation_token only after they agree. On an error, read it: it says whether anything was sent. Never \
retry a send whose outcome is unknown."""

ESTIMATE_DESCRIPTION = """\
Work out what an SMS would cost without sending it: the recipient's country, GSM-7 or UCS-2 encoding, the \
number of segments, the characters that force UCS-2, and the estimated cost in USD. Free; sends nothing. \
Use it to shorten or rephrase a message before send_sms."""

BALANCE_DESCRIPTION = """\
Show the SMS for AI account's credits and this server's spending guard: the daily budget, what has been \
spent today (UTC), what remains, and the largest cost one message may have. Free; changes nothing."""

COUNTRIES_DESCRIPTION = """\
List the countries SMS for AI delivers to, with each one's dial code and price per SMS segment in USD. \
Filter with query (a country code, name or dial code). Free; changes nothing."""

GET_MESSAGE_DESCRIPTION = """\
Look up one sent SMS by its id: recipient, status (sent, delivered or failed) and price. Free; changes nothing. \
Use list_messages to find ids."""

LIST_MESSAGES_DESCRIPTION = """\
List SMS sent from this account, newest first, a page at a time; filter by status (sent, delivered, failed). \
Free; changes nothing. has_more tells whether to ask for the next page."""

READ_ONLY_REFUSAL = NOTHING_SENT + "This service is read-only for your access key: it may not send SMS."
MAX_SAFE_INTEGER = 2**53 - 1  # the largest id a JavaScript host can hold exactly
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
SENDS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)


def build_server(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    tenants: Mapping[str, Tenant] | None = None,
    request_state_security: RequestStateSecurity | None = None,
    auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None,
    live: LiveRuntime | None = None,
    clock: Callable[[], float] = time.time,
    reconcile_every_seconds: float = RECONCILE_EVERY_SECONDS,
) -> MCPServer[Runtime]:
    """The MCP server. `transport` replaces the network (the embedded sandbox, or a test's); `tenants`
    (HTTP service only) gives each access key its own token, policy and ledger; `clock` and
    `reconcile_every_seconds` let tests move time on and reconcile sooner."""
    served = tenants if tenants is not None else {DEFAULT_TENANT: Tenant(DEFAULT_TENANT, (), settings)}

    def lifespan(_: MCPServer[Runtime]) -> AbstractAsyncContextManager[Runtime]:
        return open_runtime(
            served,
            timeout_seconds=settings.timeout_seconds,
            transport=transport,
            live=live,
            clock=clock,
            reconcile_every_seconds=reconcile_every_seconds,
        )

    mcp: MCPServer[Runtime] = MCPServer(
        name="smsai-mcp",
        title="SMS for AI",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url="https://www.smsforai.com",
        lifespan=lifespan,
        request_state_security=request_state_security,
        auth=auth,
        token_verifier=token_verifier,
        middleware=[AskingFailures({"send_sms"}, _audit_failed_asking)],
    )
    _add_tools(mcp, offer_send=not all(tenant.settings.read_only for tenant in served.values()))
    mcp._lowlevel_server.middleware.append(  # the SDK's documented middleware list
        ArgumentCheck(lambda: _input_schemas(mcp), {"send_sms": NOTHING_SENT})
    )
    # Outermost, so that it sees the SDK's refusal of a request state it cannot open.
    mcp._lowlevel_server.middleware.insert(0, LapsedConfirmations({"send_sms"}, _audit_failed_asking))
    return mcp


async def _input_schemas(mcp: MCPServer[Runtime]) -> Mapping[str, dict[str, Any]]:
    return {tool.name: tool.input_schema for tool in await mcp.list_tools()}


async def _audit_failed_asking(
    ctx: ServerRequestContext[Any, Any], arguments: Mapping[str, Any], progress: CallProgress
) -> None:
    guard = cast(Runtime, ctx.lifespan_context).for_request().guard
    if guard is None:
        return
    prepared = progress.plan.prepared if isinstance(progress.plan, Planned) else None
    if prepared is not None:
        await guard.audit_refusal(prepared.number.e164, "elicitation_failed", prepared.estimate)
        return
    to = str(arguments.get("to", ""))
    with contextlib.suppress(InvalidPhoneNumber):  # a number that does not parse is masked as given
        to = parse_e164(to).e164
    await guard.audit_refusal(to, "elicitation_failed", None)


def can_elicit(ctx: Context[Runtime]) -> bool:
    """Whether this client declared form elicitation (a bare `elicitation: {}` means form)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


@dataclass(frozen=True, slots=True)
class Planned:
    """What the guard made of a send before confirmation: a plan, or what refused it."""

    prepared: Prepared | None = None
    refusal: Exception | None = None


class NotAsked:
    """The confirmation resolver's answer when no question goes to the person."""


NOT_ASKED = NotAsked()


def _send_outcome(outcome: SendOutcome) -> SendResult:
    return SendResult(
        status=outcome.status,
        estimate=EstimateResult.of(outcome.estimate),
        message=MessageResult.of(outcome.message) if outcome.message is not None else None,
        confirmation_token=outcome.confirmation_token,
        expires_at=outcome.expires_at,
    )


def _confirmation_id(ctx: Context[Runtime]) -> str:
    """One id per confirmation: a replayed 2026-07-28 retry carries the same request state, so the same id."""
    if ctx.request_state is not None:
        return "elicit:" + hashlib.sha256(ctx.request_state.encode()).hexdigest()
    return "elicit:" + uuid.uuid4().hex


async def plan_send(
    ctx: Context[Runtime], to: str, body: str, sender_id: str | None, idempotency_key: str | None
) -> Planned:
    """Resolver: every guard step before confirmation; a read-only tenant stops here, before anyone is asked."""
    try:
        runtime = ctx.request_context.lifespan_context.for_request()
        if runtime.settings.read_only:
            return Planned(refusal=ToolRefusal(READ_ONLY_REFUSAL))
        guard = runtime.require_guard()
        prepared = await guard.prepare(to=to, body=body, sender_id=sender_id, idempotency_key=idempotency_key)
    except StoreUnavailable as exc:
        return Planned(refusal=ledger_refusal(exc))
    except Exception as exc:  # a resolver must not raise: the SDK would hide the reason; the tool body raises it
        return Planned(refusal=exc)
    plan = Planned(prepared=prepared)
    planned(plan)
    return plan


async def ask_person(
    ctx: Context[Runtime], plan: Annotated[Planned, Resolve(plan_send)]
) -> Elicit[ConfirmForm] | NotAsked:
    """Resolver: the confirmation question, when this send needs one and the client can ask it."""
    runtime = ctx.request_context.lifespan_context.for_request()
    prepared = plan.prepared
    if prepared is None or prepared.answer is not None or runtime.settings.confirm in ("off", "token"):
        return NOT_ASKED
    if not can_elicit(ctx):
        return NOT_ASKED
    balance = await runtime.balances.get() if runtime.balances is not None else None
    question = runtime.require_guard().question(prepared, balance).render()
    about_to_ask()
    return Elicit(question, ConfirmForm)


def _add_send_tool(mcp: MCPServer[Runtime]) -> None:
    @mcp.tool(name="send_sms", title="Send an SMS", description=SEND_DESCRIPTION, annotations=SENDS)
    @_tool_errors(sending=True)
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
        runtime = ctx.request_context.lifespan_context.for_request()
        if runtime.settings.read_only:
            raise ToolRefusal(READ_ONLY_REFUSAL)
        if plan.prepared is None:
            refusal = plan.refusal or ToolRefusal(NO_CREDENTIALS_ADVICE)
            if runtime.guard is not None:
                code, estimate = getattr(refusal, "code", "error"), getattr(refusal, "estimate", None)
                await runtime.guard.audit_refusal(to, code, estimate)
            raise ToolRefusal(_failure_text(refusal, sending=True, may_have_posted=False))
        guard = runtime.require_guard()
        prepared = plan.prepared
        if prepared.answer is not None:
            await guard.audit_answer(prepared.answer)
            return _send_outcome(prepared.answer)
        try:
            confirmation_id = _confirm(ctx, runtime.settings, guard, prepared, confirmation, confirmation_token)
            if isinstance(confirmation_id, SendOutcome):
                await guard.audit_answer(confirmation_id)
                return _send_outcome(confirmation_id)
            outcome = await guard.send(prepared, confirmation_id=confirmation_id)
        except Refusal as refusal:
            if not refusal.audited:
                await guard.audit_refusal(to, refusal.code, prepared.estimate)
            raise
        charged = bookable_charge(outcome.message.price_usd) if outcome.message is not None else None
        if runtime.balances is not None and charged is not None:
            runtime.balances.charge(charged)
        return _send_outcome(outcome)


def _confirm(
    ctx: Context[Runtime],
    settings: Settings,
    guard: SendGuard,
    prepared: Prepared,
    confirmation: ElicitationResult[ConfirmForm],
    token: str | None,
) -> str | SendOutcome | None:
    """The confirmation's id when the send may go ahead, a token to hand back, or a Refusal."""
    mode = settings.confirm
    if mode == "off":
        return None
    asked = isinstance(confirmation, AcceptedElicitation) and isinstance(confirmation.data, ConfirmForm)
    if asked or isinstance(confirmation, DeclinedElicitation | CancelledElicitation):
        if isinstance(confirmation, DeclinedElicitation):
            raise Refusal("The user declined to send this SMS. Do not send it unless they ask again.", code="declined")
        if isinstance(confirmation, CancelledElicitation):
            raise Refusal(
                "The user cancelled the confirmation. Do not send it unless they ask again.", code="cancelled"
            )
        assert isinstance(confirmation, AcceptedElicitation)
        if not confirmation.data.confirm:
            raise Refusal(
                "The user did not check the box to confirm. Do not send it unless they ask again.", code="unchecked"
            )
        return _confirmation_id(ctx)
    if mode == "elicit":
        raise Refusal(
            "This server needs a person to confirm each SMS (SMSAI_CONFIRM=elicit), and this MCP client cannot "
            "ask them (it does not support elicitation). Use a client that does, or set SMSAI_CONFIRM=token.",
            code="cannot_elicit",
        )
    if token is None:
        _warn_once_about_token_fallback(mode)
        return guard.issue_token(prepared)
    return "token:" + guard.verify_token(prepared, token)


def _country_matches(country: Country, needle: str) -> bool:
    """A query matches a code exactly, a name in part, or a dial code from its start (+1 is not +61)."""
    if needle == country.country_code.lower() or needle in country.country_name.lower():
        return True
    digits = needle.removeprefix("+")
    dial = (country.dial_code or "").removeprefix("+")
    return digits.isdigit() and dial.startswith(digits)


_token_fallback_warned = False


def _warn_once_about_token_fallback(mode: str) -> None:
    global _token_fallback_warned  # one line in the log per process is enough
    if mode == "auto" and not _token_fallback_warned:
        _token_fallback_warned = True
        logger.warning(
            "a client that cannot elicit got the token flow: the agent itself must ask the person; "
            "set SMSAI_CONFIRM=elicit to refuse such clients"
        )


def _add_tools(mcp: MCPServer[Runtime], *, offer_send: bool) -> None:
    def runtime_of(ctx: Context[Runtime]) -> TenantRuntime:
        return ctx.request_context.lifespan_context.for_request()

    if offer_send:
        _add_send_tool(mcp)

    @mcp.tool(name="estimate_sms", title="Estimate an SMS", description=ESTIMATE_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def estimate_sms(
        ctx: Context[Runtime], to: ToArg, body: BodyArg, sender_id: SenderArg = None
    ) -> EstimateResult:
        _, estimate = await runtime_of(ctx).require_guard().estimate(to, body)
        return EstimateResult.of(estimate)

    @mcp.tool(name="check_balance", title="Check balance", description=BALANCE_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def check_balance(ctx: Context[Runtime]) -> BalanceResult:
        runtime = runtime_of(ctx)
        api, _ = runtime.require_api()
        try:
            balance = await api.balance()
        except InvalidBalance:
            if runtime.balances is not None:
                runtime.balances.forget()
            raise
        if runtime.balances is not None:
            runtime.balances.update(usd(balance.credits_usd))
        spent = usd_of_micro(await runtime.require_guard().spent_today_micro())
        budget = runtime.settings.daily_budget_usd
        return BalanceResult(
            credits_usd=balance.credits_usd,
            daily_budget_usd=float(budget),
            spent_today_usd=float(spent),
            daily_budget_remaining_usd=float(max(budget - spent, Decimal(0))),
            max_cost_per_message_usd=float(runtime.settings.max_cost_per_message_usd),
        )

    @mcp.tool(name="list_countries", title="List countries", description=COUNTRIES_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def list_countries(
        ctx: Context[Runtime],
        query: Annotated[
            str | None,
            Field(
                description="Optional filter: a country code (CA), part of a name (king) or a dial code (+44); "
                "case-insensitive.",
                min_length=1,
                max_length=64,
            ),
        ] = None,
    ) -> CountriesResult:
        _, prices = runtime_of(ctx).require_api()
        countries = sorted((await prices.get()).by_code.values(), key=lambda c: c.country_name)
        if query is not None and query.strip():
            countries = [c for c in countries if _country_matches(c, query.strip().lower())]
        return CountriesResult(countries=[CountryResult.of(c) for c in countries])

    @mcp.tool(name="get_message", title="Get a message", description=GET_MESSAGE_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def get_message(
        ctx: Context[Runtime],
        id: Annotated[
            int, Field(description="The message id that send_sms or list_messages gave.", ge=1, le=MAX_SAFE_INTEGER)
        ],
    ) -> MessageResult:
        api, _ = runtime_of(ctx).require_api()
        try:
            return MessageResult.of(await api.get_message(id))
        except NotFound:
            raise ToolRefusal(
                f"There is no message with id {id} on this account. Use list_messages to find the id."
            ) from None

    @mcp.tool(name="list_messages", title="List messages", description=LIST_MESSAGES_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def list_messages(
        ctx: Context[Runtime],
        status: Annotated[
            Literal["sent", "delivered", "failed"] | None,
            Field(description="Optional: only messages with this status (sent, delivered or failed)."),
        ] = None,
        page: Annotated[
            int | None, Field(description="Optional page number, from 1 (the newest messages).", ge=1, le=100_000)
        ] = None,
    ) -> MessagesResult:
        api, _ = runtime_of(ctx).require_api()
        result = await api.list_messages(status=status, page=page)
        meta = result.meta
        return MessagesResult(
            messages=[MessageResult.of(m) for m in result.data],
            page=meta.current_page,
            last_page=meta.last_page,
            per_page=meta.per_page,
            total=meta.total,
            has_more=result.has_more,
        )
