"""The MCP tools. Each one validates, asks the domain or the client, and shapes the result; nothing more."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, ParamSpec, TypeVar, cast

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, SecretStr

from smsai_mcp import __version__
from smsai_mcp.arguments import ArgumentCheck
from smsai_mcp.client.api import SmsApi, create_http_client
from smsai_mcp.client.errors import ApiError, NotFound
from smsai_mcp.config import Settings
from smsai_mcp.results import (
    BalanceResult,
    CountriesResult,
    CountryResult,
    EstimateResult,
    MessageResult,
    MessagesResult,
    SendResult,
)
from smsai_mcp.sms.estimate import Estimate, UnsupportedDestination, estimate_message
from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164
from smsai_mcp.sms.price_cache import PriceCache

__all__ = ["Runtime", "build_server"]

logger = logging.getLogger(__name__)

SANDBOX_BASE_URL = "http://sandbox.localhost/api/v1"
NOTHING_SENT = "Nothing was sent. "

INSTRUCTIONS = """\
smsai-mcp sends SMS through the user's SMS for AI account. Sending costs the user money and reaches a real \
person, so only send what the user asked for. Use estimate_sms to see the cost first; send_sms runs the same \
checks (cost caps, allowed destinations, duplicates) and may ask the user to confirm. Every error says whether \
anything was sent: never retry a send whose outcome is unknown."""


class ToolRefusal(Exception):
    """A failure whose message is already the full sentence the model should read."""


class BlankBody(ValueError):
    """The body has no visible text."""


@dataclass(frozen=True, slots=True)
class Runtime:
    """What the tools share for the life of the process: one pooled client, the price cache."""

    settings: Settings
    api: SmsApi | None
    prices: PriceCache | None

    def require_api(self) -> tuple[SmsApi, PriceCache]:
        if self.api is None or self.prices is None:
            raise ToolRefusal(
                "No SMS for AI token is configured. Set SMSAI_API_TOKEN to your smsai_ token and restart the "
                "server, or start it with --sandbox to try it without an account."
            )
        return self.api, self.prices


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


def _failure_text(exc: Exception, *, sending: bool) -> str:
    if isinstance(exc, ToolRefusal):
        return str(exc)
    if isinstance(exc, InvalidPhoneNumber | UnsupportedDestination | BlankBody):
        return (NOTHING_SENT if sending else "") + str(exc)
    if isinstance(exc, ApiError):
        if not sending:
            return exc.message
        if exc.request_may_have_been_processed:
            return (
                "The message may have been sent: " + exc.message + " Do not send it again; check list_messages "
                "in a minute to see whether it went out."
            )
        return NOTHING_SENT + exc.message
    logger.exception("unexpected failure in a tool")
    lead = "The outcome is unknown: do not send this message again; check list_messages. " if sending else ""
    return lead + "smsai-mcp hit an internal error (details are in its log). Try again; if it persists, report it."


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
confirmation_required. On an error, read it: it says whether anything was sent. Never retry a send whose \
outcome is unknown."""

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

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
SENDS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)


def build_server(settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> MCPServer[Runtime]:
    """The MCP server. `transport` replaces the network (the embedded sandbox, or a test's)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        async with create_http_client(timeout_seconds=settings.timeout_seconds, transport=transport) as http:
            yield _runtime(settings, http)

    mcp: MCPServer[Runtime] = MCPServer(
        name="smsai-mcp",
        title="SMS for AI",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url="https://www.smsforai.com",
        lifespan=lifespan,
    )
    _add_tools(mcp, settings)
    mcp._lowlevel_server.middleware.append(
        ArgumentCheck(lambda: _input_schemas(mcp), {"send_sms": NOTHING_SENT})
    )
    return mcp


async def _input_schemas(mcp: MCPServer[Runtime]) -> Mapping[str, dict[str, Any]]:
    return {tool.name: tool.input_schema for tool in await mcp.list_tools()}


def _runtime(settings: Settings, http: httpx2.AsyncClient) -> Runtime:
    if settings.api_token is None:
        logger.warning("SMSAI_API_TOKEN is not set: every tool will answer with how to set it")
        return Runtime(settings=settings, api=None, prices=None)
    api = SmsApi(http, token=settings.api_token, base_url=settings.base_url)
    return Runtime(settings=settings, api=api, prices=PriceCache(api.countries))


def sandbox_settings(settings: Settings) -> Settings:
    """The same settings pointed at the embedded sandbox and its public token."""
    from smsai_mcp.sandbox import SANDBOX_TOKEN

    return settings.model_copy(update={"api_token": SecretStr(SANDBOX_TOKEN), "base_url": SANDBOX_BASE_URL})


async def _estimate(runtime: Runtime, to: str, body: str) -> Estimate:
    _, prices = runtime.require_api()
    number = parse_e164(to)
    if not body.strip():
        raise BlankBody("The body is blank. Write the message text, then try again.")
    return estimate_message(number, body, await prices.get())


def _add_tools(mcp: MCPServer[Runtime], settings: Settings) -> None:
    def runtime_of(ctx: Context[Runtime]) -> Runtime:
        return ctx.request_context.lifespan_context

    if not settings.read_only:

        @mcp.tool(name="send_sms", title="Send an SMS", description=SEND_DESCRIPTION, annotations=SENDS)
        @_tool_errors(sending=True)
        async def send_sms(
            ctx: Context[Runtime],
            to: ToArg,
            body: BodyArg,
            sender_id: SenderArg = None,
            idempotency_key: IdempotencyKeyArg = None,
            confirmation_token: ConfirmationTokenArg = None,
        ) -> SendResult:
            runtime = runtime_of(ctx)
            api, _ = runtime.require_api()
            estimate = await _estimate(runtime, to, body)
            message = await api.send(to=estimate.to, body=body, sender_id=sender_id)
            return SendResult(
                status="sent", estimate=EstimateResult.of(estimate), message=MessageResult.of(message)
            )

    @mcp.tool(name="estimate_sms", title="Estimate an SMS", description=ESTIMATE_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def estimate_sms(
        ctx: Context[Runtime], to: ToArg, body: BodyArg, sender_id: SenderArg = None
    ) -> EstimateResult:
        return EstimateResult.of(await _estimate(runtime_of(ctx), to, body))

    @mcp.tool(name="check_balance", title="Check balance", description=BALANCE_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def check_balance(ctx: Context[Runtime]) -> BalanceResult:
        runtime = runtime_of(ctx)
        api, _ = runtime.require_api()
        balance = await api.balance()
        spent = 0.0  # the ledger arrives with the send guard
        budget = float(settings.daily_budget_usd)
        return BalanceResult(
            credits_usd=balance.credits_usd,
            daily_budget_usd=budget,
            spent_today_usd=spent,
            daily_budget_remaining_usd=max(budget - spent, 0.0),
            max_cost_per_message_usd=float(settings.max_cost_per_message_usd),
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
            needle = query.strip().lower()
            countries = [
                c
                for c in countries
                if needle in c.country_code.lower()
                or needle in c.country_name.lower()
                or (c.dial_code is not None and needle.lstrip("+") in c.dial_code.lstrip("+"))
            ]
        return CountriesResult(countries=[CountryResult.of(c) for c in countries])

    @mcp.tool(name="get_message", title="Get a message", description=GET_MESSAGE_DESCRIPTION, annotations=READ_ONLY)
    @_tool_errors(sending=False)
    async def get_message(
        ctx: Context[Runtime],
        id: Annotated[int, Field(description="The message id that send_sms or list_messages gave.", ge=1)],
    ) -> MessageResult:
        api, _ = runtime_of(ctx).require_api()
        try:
            return MessageResult.of(await api.get_message(id))
        except NotFound:
            raise ToolRefusal(
                f"There is no message with id {id} on this account. Use list_messages to find the id."
            ) from None

    @mcp.tool(
        name="list_messages", title="List messages", description=LIST_MESSAGES_DESCRIPTION, annotations=READ_ONLY
    )
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
            has_more=meta.current_page < meta.last_page,
        )
