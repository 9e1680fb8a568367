"""The tools that read and change nothing: estimate_sms, check_balance, list_countries, get_message, list_messages."""

from __future__ import annotations

from decimal import Decimal

from mcp.server.mcpserver import Context

from smsai_mcp.client.models import Country
from smsai_mcp.runtime import Runtime
from smsai_mcp.server.app import preview_meta
from smsai_mcp.server.delivery import get_message_waiting
from smsai_mcp.server.dependencies import tenant
from smsai_mcp.server.failures import tool_errors
from smsai_mcp.server.icons import tool_icons
from smsai_mcp.server.results import (
    BalanceResult,
    CountriesResult,
    CountryResult,
    EstimateResult,
    MessageResult,
    MessagesResult,
)
from smsai_mcp.server.texts import (
    BALANCE_DESCRIPTION,
    COUNTRIES_DESCRIPTION,
    ESTIMATE_DESCRIPTION,
    GET_MESSAGE_DESCRIPTION,
    LIST_MESSAGES_DESCRIPTION,
    READ_ONLY,
    BodyArg,
    CountryQueryArg,
    MessageIdArg,
    PageArg,
    SenderArg,
    StatusArg,
    ToArg,
    WaitSecondsArg,
)
from smsai_mcp.server.tool_set import ToolSet
from smsai_mcp.sms.money import usd_of_micro

__all__ = ["add_read_tools"]


def add_read_tools(mcp: ToolSet) -> None:
    @mcp.tool(
        name="estimate_sms",
        title="Estimate an SMS",
        description=ESTIMATE_DESCRIPTION,
        annotations=READ_ONLY,
        icons=tool_icons("estimate_sms"),
        meta=preview_meta(),
    )
    @tool_errors(sending=False)
    async def estimate_sms(
        ctx: Context[Runtime], to: ToArg, body: BodyArg, sender_id: SenderArg = None
    ) -> EstimateResult:
        return EstimateResult.of(await tenant(ctx).require_guard().estimate(to, body, sender_id))

    @mcp.tool(
        name="check_balance",
        title="Check balance",
        description=BALANCE_DESCRIPTION,
        annotations=READ_ONLY,
        icons=tool_icons("check_balance"),
    )
    @tool_errors(sending=False)
    async def check_balance(ctx: Context[Runtime]) -> BalanceResult:
        runtime = tenant(ctx)
        api, _ = runtime.require_api()
        balance = await api.balance()
        standing = await runtime.require_guard().standing()
        spent = usd_of_micro(standing.spent_today_micro)
        spent_this_month = usd_of_micro(standing.spent_month_micro)
        budget = runtime.settings.daily_budget_usd
        pause = standing.pause
        monthly = runtime.settings.monthly_budget_usd
        return BalanceResult(
            credits_usd=balance.credits_usd,
            daily_budget_usd=float(budget),
            spent_today_usd=float(spent),
            daily_budget_remaining_usd=float(max(budget - spent, Decimal(0))),
            max_cost_per_message_usd=float(runtime.settings.max_cost_per_message_usd),
            paused=pause is not None,
            pause_reason=pause.reason if pause is not None else None,
            monthly_budget_usd=float(monthly) if monthly is not None else None,
            spent_this_month_usd=float(spent_this_month),
            monthly_budget_remaining_usd=float(max(monthly - spent_this_month, Decimal(0)))
            if monthly is not None
            else None,
        )

    @mcp.tool(
        name="list_countries",
        title="List countries",
        description=COUNTRIES_DESCRIPTION,
        annotations=READ_ONLY,
        icons=tool_icons("list_countries"),
    )
    @tool_errors(sending=False)
    async def list_countries(ctx: Context[Runtime], query: CountryQueryArg = None) -> CountriesResult:
        _, prices = tenant(ctx).require_api()
        countries = sorted((await prices.get()).by_code.values(), key=lambda c: c.country_name)
        if query is not None and query.strip():
            countries = [c for c in countries if _country_matches(c, query.strip().lower())]
        return CountriesResult(countries=[CountryResult.of(c) for c in countries])

    @mcp.tool(
        name="get_message",
        title="Get a message",
        description=GET_MESSAGE_DESCRIPTION,
        annotations=READ_ONLY,
        icons=tool_icons("get_message"),
    )
    @tool_errors(sending=False)
    async def get_message(ctx: Context[Runtime], id: MessageIdArg, wait_seconds: WaitSecondsArg = 0) -> MessageResult:
        return await get_message_waiting(ctx, id, wait_seconds)

    @mcp.tool(
        name="list_messages",
        title="List messages",
        description=LIST_MESSAGES_DESCRIPTION,
        annotations=READ_ONLY,
        icons=tool_icons("list_messages"),
    )
    @tool_errors(sending=False)
    async def list_messages(ctx: Context[Runtime], status: StatusArg = None, page: PageArg = None) -> MessagesResult:
        api, _ = tenant(ctx).require_api()
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


def _country_matches(country: Country, needle: str) -> bool:
    """A query matches a code exactly, a name in part, or a dial code from its start (+1 is not +61)."""
    if needle == country.country_code.lower() or needle in country.country_name.lower():
        return True
    digits = needle.removeprefix("+")
    dial = (country.dial_code or "").removeprefix("+")
    return digits.isdigit() and dial.startswith(digits)
