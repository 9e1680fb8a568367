"""Every policy a tenant sets applies to that tenant's requests, and a read-only tenant never troubles a person."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.service.access import POLICY_VARIABLES
from smsai_mcp.sms.quiet_hours import QuietWindow
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant
from tests.conftest import ERAS, posts, text_of
from tests.guard_helpers import CA, US, Person, assert_nothing_sent, send
from tests.processes import http_server
from tests.test_service import KEY_A, KEY_B, base_env, connect, sha256, write_tenants

pytestmark = pytest.mark.anyio


def tenant_client(tenant_settings: Settings, settings: Settings, era: str, person: Person | None = None) -> Client:
    """An in-memory client reaching the tenant `default` (a request without a key) of a two-tenant server
    whose process settings are `settings`: what the client sees comes from the tenant's policy alone."""
    other = Tenant("other", (hashlib.sha256(b"other-key").hexdigest(),), settings)
    tenants = {DEFAULT_TENANT: Tenant(DEFAULT_TENANT, (), tenant_settings), "other": other}
    return Client(build_server(settings, tenants=tenants), mode=era, elicitation_callback=person)


@pytest.mark.parametrize("era", ERAS)
async def test_read_only_tenant_is_refused_before_any_person_is_asked(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    read_only = settings.model_copy(update={"read_only": True, "confirm": "auto"})
    person = Person()
    async with tenant_client(read_only, settings.model_copy(update={"confirm": "auto"}), era, person) as client:
        assert "send_sms" in {tool.name for tool in (await client.list_tools()).tools}  # the other tenant sends
        result = await send(client)
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="read-only")
    assert person.questions == []
    assert posts(sandbox) == 0


@pytest.mark.slow  # waits out a tenant's timeout
async def test_a_tenants_timeout_applies_while_another_keeps_the_default(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """timeout_seconds was read once for the whole process: a tenant that set 1 s still waited 30 s. (Here the
    tenant sets 0.3 s and the answer takes 1 s: the same race, in less of the test's time.)"""
    slow_balance = Fault(method="GET", path="/api/v1/balance", response="normal", delay_seconds=1.0, times=None)
    sandbox.state.add_fault(slow_balance)
    tenants = write_tenants(
        tmp_path,
        hasty={"access_key_sha256": sha256(KEY_A), "api_token_env": "HASTY_TOKEN", "timeout_seconds": 0.3},
        patient={"access_key_sha256": sha256(KEY_B), "api_token_env": "PATIENT_TOKEN"},
    )
    env = base_env(sandbox_url, tmp_path, SMSAI_TENANTS_FILE=str(tenants))
    env |= {"HASTY_TOKEN": SANDBOX_TOKEN, "PATIENT_TOKEN": SANDBOX_TOKEN}
    with http_server([], env, tmp_path / "log") as url:
        async with connect(url, KEY_A) as hasty:
            started = time.monotonic()
            hurried = await hasty.call_tool("check_balance", {})
            hurried_seconds = time.monotonic() - started
        async with connect(url, KEY_B) as patient:
            waited = await patient.call_tool("check_balance", {})
    assert hurried.is_error
    assert "did not answer in time" in text_of(hurried)
    assert hurried_seconds < 1.0 * 3  # three tries of 0.3 s each, not three of 1 s
    assert not waited.is_error, text_of(waited)  # the default (30 s) outlasts the slow answer


# Per policy, a value unlike the default, so the same call ends differently for a tenant that sets it.
POLICY_PROBES: dict[str, object] = {
    "confirm": "token",
    "content_checks": False,
    "max_cost_per_message_usd": Decimal("0.001"),
    "daily_budget_usd": Decimal("0.005"),
    "allowed_countries": frozenset({"CA"}),
    "blocked_countries": frozenset({"US"}),
    "allowed_recipients": frozenset({CA}),
    "max_per_recipient_per_hour": 0,
    "max_recipients_per_hour": 0,
    "max_per_number_block_per_hour": 0,
    "monthly_budget_usd": Decimal("0.005"),
    "duplicate_window_seconds": 0,
    "read_only": True,
    "timeout_seconds": 0.3,  # against answers that take 1 s (_under)
    "quiet_hours": "a window around the present hour in Washington",  # made when the test runs (below)
    "confirm_skip_recipients": frozenset({US}),
    "max_batch_size": 1,  # sent at once where the process asks for a token (BASELINES)
}
# What the process (and so the tenant) sets besides the probe, for a probe to change the outcome at all.
BASELINES: dict[str, dict[str, object]] = {"confirm_skip_recipients": {"confirm": "token"}}
NOT_POLICIES = {
    "api_token",
    "api_token_variable",
    "audit_max_bytes",
    "base_url",
    "state_dir",
    "state_secret",
    "state_url",
}


def window_around_now(zone: str) -> QuietWindow:
    """Quiet hours from an hour before to an hour after the present local time: quiet now, whatever the hour."""
    local = datetime.now(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    return QuietWindow((minute - 60) % (24 * 60), (minute + 60) % (24 * 60))


def test_every_policy_of_settings_has_a_tenant_key_and_a_probe() -> None:
    """A policy added to Settings must be settable per tenant and proven to apply (below)."""
    policies = set(Settings.model_fields) - NOT_POLICIES
    assert policies == set(POLICY_VARIABLES)
    assert policies == set(POLICY_PROBES)


async def _under(policy: str, client: Client, sandbox: Sandbox) -> str:
    """What a client of a tenant that set `policy` sees, as one word; the default policy sees 'sent'."""
    if policy == "timeout_seconds":
        for _ in range(3):  # one per try
            sandbox.state.add_fault(Fault(method="GET", path="/api/v1/balance", response="normal", delay_seconds=1.0))
        result = await client.call_tool("check_balance", {})
        return "timed out" if result.is_error and "in time" in text_of(result) else "sent"
    if policy == "content_checks":  # a shortened link: refused by the default, sent where the tenant turned it off
        result = await send(client, body="Your order: https://bit.ly/3xYzAbc")
        return "refused" if result.is_error else str((result.structured_content or {}).get("status"))
    if policy == "max_batch_size":  # two numbers: refused whole where the tenant allows one a batch
        result = await client.call_tool("send_sms_batch", {"recipients": [US, CA], "body": "The meeting moved to 3"})
        return "refused" if result.is_error else str((result.structured_content or {}).get("status"))
    if policy == "duplicate_window_seconds":
        await send(client, body="twice")
        result = await send(client, body="twice")
        status = (result.structured_content or {}).get("status")
        return "sent twice" if status == "sent" else str(status)
    result = await send(client)
    if result.is_error:
        return "refused"
    return str((result.structured_content or {}).get("status"))


@pytest.mark.parametrize(
    "policy",
    [  # the timeout probe waits the tenant's timeout out
        pytest.param(policy, marks=pytest.mark.slow) if policy == "timeout_seconds" else policy
        for policy in sorted(POLICY_PROBES)
    ],
)
async def test_every_tenant_policy_applies_to_that_tenants_requests(
    sandbox: Sandbox, settings: Settings, policy: str
) -> None:
    """The same call, by a tenant that sets the policy and by one that does not, on one server."""
    process_settings = settings.model_copy(update={"timeout_seconds": 30.0, **BASELINES.get(policy, {})})
    probe = window_around_now("America/New_York") if policy == "quiet_hours" else POLICY_PROBES[policy]
    tenant_settings = process_settings.model_copy(update={policy: probe})
    async with tenant_client(tenant_settings, process_settings, "legacy") as client:
        if policy == "read_only":
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert "send_sms" in tools  # offered for the other tenant; refused for this one
        seen = await _under(policy, client, sandbox)
    expected = {"confirm": "confirmation_required", "duplicate_window_seconds": "sent twice", "content_checks": "sent"}
    expected["timeout_seconds"] = "timed out"
    expected["confirm_skip_recipients"] = "sent"
    assert seen == expected.get(policy, "refused"), policy
    sandbox.state.reset()
    async with tenant_client(process_settings, process_settings, "legacy") as client:
        default = {"content_checks": ("refused",), "max_batch_size": ("done",)}.get(policy, ("sent", "duplicate"))
        assert await _under(policy, client, sandbox) in default, policy  # the default does not
