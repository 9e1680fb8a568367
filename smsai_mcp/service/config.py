"""The service's own settings (SMSAI_MCP_* and SMSAI_TENANTS_FILE), read once at start; every error names its
variable and shows a rejected value only as `shown_value` allows."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from smsai_mcp.config import ConfigError, Settings, shown_value
from smsai_mcp.service.access import load_tenants, tenants_from_access_keys
from smsai_mcp.tenants import Tenant

__all__ = ["ServiceOptions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    tenants: Mapping[str, Tenant]
    allowed_hosts: tuple[str, ...]
    max_sessions: int
    max_request_bytes: int
    graceful_shutdown_seconds: float
    header_timeout_seconds: float = 5.0

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> ServiceOptions:
        env = os.environ if environ is None else environ
        tenants_file = env.get("SMSAI_TENANTS_FILE", "").strip()
        if tenants_file:
            if env.get("SMSAI_MCP_ACCESS_KEYS", "").strip() or env.get("SMSAI_API_TOKEN", "").strip():
                logger.warning("SMSAI_TENANTS_FILE is set: SMSAI_MCP_ACCESS_KEYS and SMSAI_API_TOKEN are not used")
            tenants = load_tenants(Path(tenants_file).expanduser(), env)
        else:
            tenants = tenants_from_access_keys(settings, env.get("SMSAI_MCP_ACCESS_KEYS"))
        return cls(
            tenants=tenants,
            allowed_hosts=_host_names(env.get("SMSAI_MCP_ALLOWED_HOSTS", "")),
            max_sessions=_at_least_one(env, "SMSAI_MCP_MAX_SESSIONS", 1000),
            max_request_bytes=_at_least_one(env, "SMSAI_MCP_MAX_REQUEST_BYTES", 1_048_576),
            graceful_shutdown_seconds=float(_at_least_one(env, "SMSAI_MCP_SHUTDOWN_SECONDS", 30)),
            header_timeout_seconds=float(_at_least_one(env, "SMSAI_MCP_HEADER_TIMEOUT_SECONDS", 5)),
        )

    def with_settings(self, change: Callable[[Settings], Settings]) -> ServiceOptions:
        """The same options with every tenant's settings changed (the embedded sandbox points them at itself)."""
        tenants = {
            name: Tenant(tenant.name, tenant.key_hashes, change(tenant.settings))
            for name, tenant in self.tenants.items()
        }
        return replace(self, tenants=tenants)

    @property
    def requires_keys(self) -> bool:
        return any(tenant.key_hashes for tenant in self.tenants.values())


def _host_names(raw: str) -> tuple[str, ...]:
    return tuple(host.strip().lower() for host in raw.split(",") if host.strip())


def _at_least_one(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1 (got {shown_value(raw)}).")
    return int(raw)
