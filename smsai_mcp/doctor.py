"""`smsai-mcp doctor`: check the configuration and the upstream; exit 0 only if a send would work."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TextIO

import anyio
import httpx2

from smsai_mcp.client.api import SmsApi, create_http_client
from smsai_mcp.client.errors import ApiError
from smsai_mcp.client.models import Country
from smsai_mcp.config import Settings
from smsai_mcp.runtime import open_store
from smsai_mcp.sms.estimate import usd
from smsai_mcp.sms.money import usd_of_micro, utc_day

__all__ = ["Report", "check", "run_doctor"]


@dataclass
class Report:
    lines: list[tuple[bool, str]] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.lines.append((True, text))

    def fail(self, text: str) -> None:
        self.lines.append((False, text))

    @property
    def healthy(self) -> bool:
        return all(passed for passed, _ in self.lines)

    def write(self, out: TextIO) -> None:
        for passed, text in self.lines:
            out.write(f"{'ok  ' if passed else 'FAIL'}  {text}\n")
        verdict = "sending would work." if self.healthy else "sending would not work; fix the FAIL lines above."
        out.write(f"\nsmsai-mcp doctor: {verdict}\n")


def run_doctor(settings: Settings, *, sandbox: bool = False, out: TextIO | None = None) -> int:
    upstream: httpx2.AsyncBaseTransport | None = None  # None: the network, to the real API
    if sandbox:
        from smsai_mcp.embedded import embedded_sandbox

        settings, upstream = embedded_sandbox(settings)
    report = anyio.run(check, settings, upstream)
    report.write(out or sys.stdout)
    return 0 if report.healthy else 1


async def check(settings: Settings, transport: httpx2.AsyncBaseTransport | None = None) -> Report:
    report = Report()
    report.ok(
        f"configuration is valid (confirmation: {settings.confirm}, daily budget: "
        f"{settings.daily_budget_usd} USD, per message: {settings.max_cost_per_message_usd} USD)"
    )
    report.ok(f"upstream: {settings.base_url}")
    if settings.read_only:
        report.fail("SMSAI_READ_ONLY is true: send_sms is not offered")
    spent = await _spent_today(settings, report)
    if settings.api_token is None:
        report.fail("SMSAI_API_TOKEN is not set: set it to your smsai_ token (or try --sandbox)")
        return report
    async with create_http_client(timeout_seconds=settings.timeout_seconds, transport=transport) as http:
        api = SmsApi(
            http, token=settings.api_token, base_url=settings.base_url, timeout_seconds=settings.timeout_seconds
        )
        try:
            info = await api.info()
            report.ok(f"the API answers ({info.api or 'SMS for AI'} {info.version or ''})".replace(" )", ")"))
            me = await api.me()
            report.ok(f"the token is valid (token {me.token.name or me.token.id!s})")
            if me.can_send:
                report.ok("the token has the sms:send permission")
            else:
                report.fail("the token lacks the sms:send permission: create a token that has it")
            balance = await api.balance()
            if balance.credits_usd > 0:
                report.ok(f"credits: {balance.credits_usd:.6f} USD")
            else:
                report.fail("the account has no credits: top it up")
            countries = await api.countries()
            if countries:
                report.ok(f"price list: {len(countries)} countries")
                _check_policy(settings, countries, spent, report)
            else:
                report.fail("the price list is empty: no country can be sent to")
        except ApiError as exc:
            report.fail(exc.message)
    return report


async def _spent_today(settings: Settings, report: Report) -> Decimal | None:
    """Today's spend from the state store, or None (with a FAIL line) when the store cannot be read."""
    variable = "SMSAI_STATE_URL" if settings.state_url is not None else "SMSAI_STATE_DIR"
    where = f"the state store ({variable})"
    try:
        store = open_store(settings)
        try:
            spent = usd_of_micro(await store.spent_micro(utc_day(time.time())))
        finally:
            await store.close()
    except Exception as exc:  # a report line, never a traceback: the error's text may carry the URL's password
        report.fail(f"{where} cannot be reached ({type(exc).__name__}): start it, or correct {variable}")
        return None
    report.ok(f"{where} answers")
    return spent


def _check_policy(settings: Settings, countries: list[Country], spent: Decimal | None, report: Report) -> None:
    """Whether the guard would let any message through: a country, a cap above its price, budget left today."""
    reachable = [
        country
        for country in countries
        if (not settings.allowed_countries or country.country_code.upper() in settings.allowed_countries)
        and country.country_code.upper() not in settings.blocked_countries
    ]
    if not reachable:
        report.fail("no country in the price list is allowed by SMSAI_ALLOWED_COUNTRIES and SMSAI_BLOCKED_COUNTRIES")
        return
    cheapest = min(usd(country.price_usd) for country in reachable)
    report.ok(f"{len(reachable)} countries can be sent to, from {cheapest} USD a segment")
    if settings.max_cost_per_message_usd < cheapest:
        report.fail(
            f"SMSAI_MAX_COST_PER_MESSAGE_USD ({settings.max_cost_per_message_usd}) is below the cheapest price "
            f"({cheapest}): every message would be refused"
        )
    if spent is None:
        return  # the state store's FAIL line already says why the budget is unknown
    left = settings.daily_budget_usd - spent
    if left < cheapest:
        report.fail(
            f"today's budget is used up: {spent} of {settings.daily_budget_usd} USD spent or reserved "
            "(SMSAI_DAILY_BUDGET_USD)"
        )
    else:
        report.ok(f"daily budget: {left} of {settings.daily_budget_usd} USD left today")
