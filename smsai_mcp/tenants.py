"""A tenant of the HTTP service: a name, the hashes of its access keys, and its own token and policy.

The runtime keeps one ledger and one API client per tenant; who may reach which tenant (access keys and the
tenants file) is the service's business, in smsai_mcp/service/access.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from smsai_mcp.config import Settings

__all__ = ["DEFAULT_TENANT", "Tenant"]

DEFAULT_TENANT = "default"


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    key_hashes: tuple[str, ...]  # SHA-256 hex of each access key that reaches this tenant
    settings: Settings  # the tenant's own token and policy
