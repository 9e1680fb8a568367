"""Which messages a tenant may read, and reading one: get_message, the resource and listening all come here.

A tenant with an upstream account of its own reads what that account holds (another account's message is a 404
upstream). Tenants that share one account (one token) would see each other's messages by id, so each of them
reads only the messages its own ledger sent.
"""

from __future__ import annotations

from smsai_mcp.client.errors import NotFound
from smsai_mcp.client.models import Message
from smsai_mcp.runtime import Runtime, TenantRuntime, ToolRefusal

__all__ = ["FINAL_STATUSES", "MESSAGE_URI", "UnknownMessage", "is_final", "message_uri", "read_own_message"]

FINAL_STATUSES = frozenset({"delivered", "failed"})
MESSAGE_URI = "sms://messages/{id}"


class UnknownMessage(ToolRefusal):
    """No message with this id that the caller may read: the same sentence whether it is absent or another's."""

    def __init__(self, message_id: int) -> None:
        super().__init__(f"There is no message with id {message_id} on this account. Use list_messages to find the id.")


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def message_uri(message_id: int) -> str:
    return MESSAGE_URI.replace("{id}", str(message_id))


async def read_own_message(runtime: Runtime, tenant: TenantRuntime, message_id: int) -> Message:
    """The message, if the tenant may read it; else UnknownMessage, without asking the upstream for another's."""
    api, _ = tenant.require_api()
    if shares_its_account(runtime, tenant) and (
        tenant.store is None or not await tenant.store.message_claimed(message_id)
    ):
        raise UnknownMessage(message_id)
    try:
        return await api.get_message(message_id)
    except NotFound:
        raise UnknownMessage(message_id) from None


async def _sent_by(tenant: TenantRuntime, message_id: int) -> bool:
    return tenant.store is not None and await tenant.store.message_claimed(message_id)


def shares_its_account(runtime: Runtime, tenant: TenantRuntime) -> bool:
    """Whether another tenant of this server reaches the same upstream account (the same token and API)."""
    token = tenant.settings.api_token
    if token is None:
        return False
    return any(
        other.name != tenant.name
        and other.settings.api_token is not None
        and other.settings.api_token.get_secret_value() == token.get_secret_value()
        and other.settings.base_url == tenant.settings.base_url
        for other in runtime.tenants.values()
    )
