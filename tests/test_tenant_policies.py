"""Every policy a tenant sets applies to that tenant's requests, and a read-only tenant never troubles a person."""

from __future__ import annotations

import hashlib

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.server import build_server
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant
from tests.conftest import ERAS, posts
from tests.guard_helpers import Person, assert_nothing_sent, send

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
