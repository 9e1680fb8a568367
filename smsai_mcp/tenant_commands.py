"""What the commands that work on a tenant's state share (`attempts`, `opt-outs`, `pause`, `resume`): the tenant's
settings, its store and audit log, and one line for a person on stderr instead of a traceback.

Exit codes: 0 done, 1 no such thing to change, 2 bad usage, configuration or a state store that cannot be used.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from redis.exceptions import RedisError

from smsai_mcp.config import ConfigError, Settings
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.service.access import load_tenants
from smsai_mcp.state.store import StoreUnavailable
from smsai_mcp.tenants import DEFAULT_TENANT

__all__ = ["EXIT_NOT_FOUND", "EXIT_OK", "EXIT_USAGE", "UsageError", "audit_log", "run_command", "tenant_settings"]

EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage or configuration: exit 2 with this sentence."""


def run_command(name: str, work: Callable[[], int]) -> int:
    """`work`'s exit code; usage, configuration and state store failures as one line on stderr and exit 2."""
    try:
        return work()
    except (UsageError, ConfigError) as exc:
        sys.stderr.write(f"smsai-mcp {name}: {exc}\n")
        return EXIT_USAGE
    except (OSError, sqlite3.Error, RedisError, StoreUnavailable) as exc:  # one line for a person, not a traceback
        sys.stderr.write(f"smsai-mcp {name}: the state store cannot be used: {type(exc).__name__}: {exc}\n")
        return EXIT_USAGE


def tenant_settings(
    settings: Settings, tenant: str | None, environ: Mapping[str, str] | None = None
) -> tuple[str, Settings]:
    """The tenant's name and settings: its own state with a tenants file, the process's without one."""
    environ = os.environ if environ is None else environ
    tenants_file = environ.get("SMSAI_TENANTS_FILE", "").strip()
    if not tenants_file:
        if tenant not in (None, DEFAULT_TENANT):
            raise UsageError("--tenant needs SMSAI_TENANTS_FILE, the file that names the tenants.")
        return DEFAULT_TENANT, settings
    tenants = load_tenants(Path(tenants_file).expanduser(), environ)
    if tenant is None or tenant not in tenants:
        known = ", ".join(sorted(tenants))
        asked = "name one with --tenant NAME" if tenant is None else f"there is no tenant {tenant!r} in it"
        raise UsageError(f"SMSAI_TENANTS_FILE is set, so {asked} (its tenants: {known}).")
    return tenant, tenants[tenant].settings


def audit_log(settings: Settings) -> AuditLog:
    """The audit log the tenant's server writes to, so a person's change is recorded beside the server's."""
    return AuditLog(settings.resolved_state_dir() / "audit.jsonl", max_bytes=settings.audit_max_bytes)
