"""Who may call the HTTP service, and with whose token and policy: access keys and the tenants file.

A tenant is a name, the SHA-256 of the access key its agents present, the variable that holds its own
`smsai_` token, and policy overrides. Without a tenants file there is one tenant, `default`, with the
process's token and policy, reached by any of SMSAI_MCP_ACCESS_KEYS (or by anyone on loopback when no
keys are set). A tenant never falls back to another's token or to the process's.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from smsai_mcp.config import ConfigError, Settings
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant

if TYPE_CHECKING:
    from mcp.server.auth.provider import AccessToken

__all__ = ["POLICY_VARIABLES", "AccessKeys", "load_tenants", "tenants_from_access_keys"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The policies of CONTRACT section 2 a tenant may override, each with the variable it stands for.
POLICY_VARIABLES = {
    "confirm": "SMSAI_CONFIRM",
    "max_cost_per_message_usd": "SMSAI_MAX_COST_PER_MESSAGE_USD",
    "daily_budget_usd": "SMSAI_DAILY_BUDGET_USD",
    "allowed_countries": "SMSAI_ALLOWED_COUNTRIES",
    "blocked_countries": "SMSAI_BLOCKED_COUNTRIES",
    "allowed_recipients": "SMSAI_ALLOWED_RECIPIENTS",
    "max_per_recipient_per_hour": "SMSAI_MAX_PER_RECIPIENT_PER_HOUR",
    "duplicate_window_seconds": "SMSAI_DUPLICATE_WINDOW_SECONDS",
    "read_only": "SMSAI_READ_ONLY",
    "content_checks": "SMSAI_CONTENT_CHECKS",
    "timeout_seconds": "SMSAI_TIMEOUT_SECONDS",
    "monthly_budget_usd": "SMSAI_MONTHLY_BUDGET_USD",
    "quiet_hours": "SMSAI_QUIET_HOURS",
    "max_recipients_per_hour": "SMSAI_MAX_RECIPIENTS_PER_HOUR",
    "max_per_number_block_per_hour": "SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR",
    "confirm_skip_recipients": "SMSAI_CONFIRM_SKIP_RECIPIENTS",
    "max_batch_size": "SMSAI_MAX_BATCH_SIZE",
}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class AccessKeys:
    """The SDK's TokenVerifier: a bearer key, hashed and compared in constant time, names its tenant."""

    def __init__(self, tenants: Mapping[str, Tenant]) -> None:
        self._key_hash_and_tenant = [
            (key_hash, tenant.name) for tenant in tenants.values() for key_hash in tenant.key_hashes
        ]

    async def verify_token(self, token: str) -> AccessToken | None:
        presented_hash = _sha256(token)
        matched_tenant: str | None = None
        for key_hash, tenant in self._key_hash_and_tenant:  # look at every key, so timing does not tell which
            if hmac.compare_digest(presented_hash, key_hash):
                matched_tenant = tenant
        if matched_tenant is None:
            return None
        from mcp.server.auth.provider import AccessToken  # here: the state commands load tenants without the SDK

        return AccessToken(token=token, client_id=matched_tenant, scopes=[])


def tenants_from_access_keys(settings: Settings, raw_keys: str | None) -> dict[str, Tenant]:
    """One tenant with the process's token and policy; its keys come from SMSAI_MCP_ACCESS_KEYS."""
    keys = [key.strip() for key in (raw_keys or "").split(",") if key.strip()]
    if any(not key.isprintable() or " " in key for key in keys):
        raise ConfigError("SMSAI_MCP_ACCESS_KEYS must be keys separated by commas, without spaces.")
    return {DEFAULT_TENANT: Tenant(DEFAULT_TENANT, tuple(_sha256(key) for key in keys), settings)}


def load_tenants(path: Path, environ: Mapping[str, str]) -> dict[str, Tenant]:
    """Read and check SMSAI_TENANTS_FILE; any problem stops the start with the file and the tenant named."""
    where = f"SMSAI_TENANTS_FILE ({path})"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    unknown_sections = sorted(set(document) - {"tenants"})
    if unknown_sections:
        raise ConfigError(f"{where} has unknown top-level keys {unknown_sections}; only [tenants.<name>] tables.")
    entries = document.get("tenants")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{where} defines no tenants; add at least one [tenants.<name>] table.")
    # The service's own policy, from the environment: each tenant starts from it. Its errors name their variable;
    # it is read after the tenant's own checks, so a token put in a setting's variable is refused unread.
    service_settings = functools.cache(
        lambda: Settings.from_env({key: value for key, value in environ.items() if key != "SMSAI_API_TOKEN"})
    )
    tenants: dict[str, Tenant] = {}
    owner_of_hash: dict[str, str] = {}
    for name, entry in entries.items():
        tenant = _tenant(where, name, entry, environ, service_settings)
        for key_hash in tenant.key_hashes:
            if key_hash in owner_of_hash:
                raise ConfigError(
                    f"{where}: tenants {owner_of_hash[key_hash]} and {name} have the same access_key_sha256; "
                    "each tenant needs its own key."
                )
            owner_of_hash[key_hash] = name
        tenants[name] = tenant
    return tenants


def _tenant(
    where: str, name: str, entry: Any, environ: Mapping[str, str], service_settings: Callable[[], Settings]
) -> Tenant:
    here = f"{where}: tenant {name!r}"
    if not _NAME.match(name):
        raise ConfigError(f"{here}: a name is 1 to 64 letters, digits, '-' or '_'.")
    if not isinstance(entry, dict):
        raise ConfigError(f"{here} must be a table ([tenants.{name}]).")
    unknown = sorted(set(entry) - {"access_key_sha256", "api_token_env"} - set(POLICY_VARIABLES))
    if unknown:
        raise ConfigError(f"{here} has unknown keys {unknown}; allowed policies: {sorted(POLICY_VARIABLES)}.")
    key_hash = entry.get("access_key_sha256")
    if not isinstance(key_hash, str) or not _SHA256_HEX.match(key_hash.lower()):
        raise ConfigError(
            f"{here}: access_key_sha256 must be the 64 hex characters of the SHA-256 of the tenant's access key "
            '(for example: printf %s "$KEY" | sha256sum).'
        )
    token_env = entry.get("api_token_env")
    if not isinstance(token_env, str) or not _ENV_NAME.match(token_env):
        raise ConfigError(f"{here}: api_token_env must name the environment variable that holds its smsai_ token.")
    token = _token(here, token_env, environ)
    policies = _policies(here, entry)
    settings = service_settings().model_copy(update={**policies, "api_token": token, "api_token_variable": token_env})
    tenant_dir = settings.resolved_state_dir() / "tenants" / name  # each tenant its own ledger and audit log
    return Tenant(name, (key_hash.lower(),), settings.model_copy(update={"state_dir": tenant_dir}))


def _token(here: str, token_env: str, environ: Mapping[str, str]) -> SecretStr:
    """The tenant's token. Errors name its variable and never show its value, not even in part."""
    if token_env.upper().startswith("SMSAI_") and token_env.upper() != "SMSAI_API_TOKEN":
        # smsai-mcp reads that variable as a setting too, and a setting's error quotes its value.
        raise ConfigError(
            f"{here}: api_token_env names {token_env}, a setting of smsai-mcp; use a variable of its own."
        )
    token = environ.get(token_env, "").strip()
    if not token:
        raise ConfigError(f"{here}: the variable {token_env} (api_token_env) is not set.")
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ConfigError(
            f"{here}: the variable {token_env} (api_token_env) contains spaces or control characters; "
            "set it to the token alone."
        )
    return SecretStr(token)


def _policies(here: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The policies the tenant sets, each checked by the parser of its variable (errors name the tenant's key)."""
    policies: dict[str, Any] = {}
    for key, variable in POLICY_VARIABLES.items():
        if key not in entry:
            continue
        try:
            parsed = Settings.from_env({variable: _as_variable(here, key, entry[key])})
        except ConfigError as exc:
            raise ConfigError(f"{here}: {str(exc).replace(variable, key)}") from None
        policies[key] = getattr(parsed, key)
    return policies


def _as_variable(here: str, key: str, value: Any) -> str:
    """A TOML value as the text its environment variable would hold, so one parser checks both."""
    if isinstance(value, bool) and key == "content_checks":
        return "on" if value else "off"  # its variable reads on|off; TOML's true/false mean the same
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise ConfigError(f"{here}: {key} has a value of the wrong type ({type(value).__name__}).")
