"""Settings from the environment, validated once at start; every error names its variable."""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from smsai_mcp.sms.quiet_hours import DEFAULT_QUIET_HOURS, QuietWindow
from smsai_mcp.state.private import private_dir

__all__ = ["DEFAULT_BASE_URL", "ConfigError", "ConfirmMode", "Settings", "is_loopback_host"]

DEFAULT_BASE_URL = "https://www.smsforai.com/api/v1"
ConfirmMode = Literal["auto", "elicit", "token", "off"]
_CONFIRM_MODES: tuple[ConfirmMode, ...] = ("auto", "elicit", "token", "off")
MAX_USD = Decimal(1_000_000)  # any amount above is a typo, and one past a float's range breaks every answer
MAX_WHOLE_NUMBER = 1_000_000_000  # counts and seconds beyond this cannot be meant, and may not fit a time
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """A setting is invalid. The message names the variable and never repeats a secret."""


class Settings(BaseModel):
    """What the server runs with. Built by `from_env`; tests build it directly."""

    model_config = ConfigDict(frozen=True)

    api_token: SecretStr | None = None
    api_token_variable: str = "SMSAI_API_TOKEN"  # noqa: S105 - where the token came from: a variable's name
    base_url: str = DEFAULT_BASE_URL
    confirm: ConfirmMode = "auto"
    max_cost_per_message_usd: Decimal = Decimal("1.00")
    daily_budget_usd: Decimal = Decimal("10.00")
    allowed_countries: frozenset[str] = frozenset()
    blocked_countries: frozenset[str] = frozenset()
    allowed_recipients: frozenset[str] = frozenset()
    max_per_recipient_per_hour: int = 10
    duplicate_window_seconds: int = 600
    read_only: bool = False
    content_checks: bool = True
    monthly_budget_usd: Decimal | None = None  # None: no monthly cap
    quiet_hours: QuietWindow | None = DEFAULT_QUIET_HOURS  # None: off
    max_recipients_per_hour: int = 30
    max_per_number_block_per_hour: int = 3
    confirm_skip_recipients: frozenset[str] = frozenset()
    max_batch_size: int = 50
    state_dir: Path | None = None
    timeout_seconds: float = 30.0
    audit_max_bytes: int = 50_000_000  # the audit log rotates past this size; 0: never
    state_secret: SecretStr | None = None
    state_url: SecretStr | None = None  # may carry a Redis password

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            api_token=_token(env.get("SMSAI_API_TOKEN")),
            base_url=_base_url(env.get("SMSAI_BASE_URL")),
            confirm=_confirm(env.get("SMSAI_CONFIRM")),
            max_cost_per_message_usd=_money(env, "SMSAI_MAX_COST_PER_MESSAGE_USD", Decimal("1.00")),
            daily_budget_usd=_money(env, "SMSAI_DAILY_BUDGET_USD", Decimal("10.00")),
            allowed_countries=_countries(env, "SMSAI_ALLOWED_COUNTRIES"),
            blocked_countries=_countries(env, "SMSAI_BLOCKED_COUNTRIES"),
            allowed_recipients=_recipients(env, "SMSAI_ALLOWED_RECIPIENTS"),
            max_per_recipient_per_hour=_whole_number(env, "SMSAI_MAX_PER_RECIPIENT_PER_HOUR", 10),
            duplicate_window_seconds=_whole_number(env, "SMSAI_DUPLICATE_WINDOW_SECONDS", 600),
            read_only=_flag(env, "SMSAI_READ_ONLY"),
            content_checks=_on_off(env, "SMSAI_CONTENT_CHECKS"),
            monthly_budget_usd=_optional_money(env, "SMSAI_MONTHLY_BUDGET_USD"),
            quiet_hours=_quiet_hours(env.get("SMSAI_QUIET_HOURS")),
            max_recipients_per_hour=_whole_number(env, "SMSAI_MAX_RECIPIENTS_PER_HOUR", 30),
            max_per_number_block_per_hour=_whole_number(env, "SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR", 3),
            confirm_skip_recipients=_recipients(env, "SMSAI_CONFIRM_SKIP_RECIPIENTS"),
            max_batch_size=_batch_size(env.get("SMSAI_MAX_BATCH_SIZE")),
            state_dir=_path(env.get("SMSAI_STATE_DIR")),
            timeout_seconds=_timeout(env.get("SMSAI_TIMEOUT_SECONDS")),
            audit_max_bytes=_whole_number(env, "SMSAI_AUDIT_MAX_BYTES", 50_000_000),
            state_secret=_secret(env.get("SMSAI_STATE_SECRET")),
            state_url=_state_url(env.get("SMSAI_STATE_URL")),
        )

    def ensure_state_dir(self) -> Path:
        """The state directory, made if need be; refused at start, naming the variable, if it cannot be written."""
        path = self.resolved_state_dir()
        try:
            private_dir(path, own_root=_default_state_dir())  # 0700; a directory the user chose keeps its mode
            # A probe of its own (processes sharing the directory may start together), removed on close.
            with tempfile.NamedTemporaryFile(dir=path, prefix=".smsai-write-check-"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"SMSAI_STATE_DIR ({path}) is not a writable directory: {exc.strerror or exc}. The ledger and the "
                "audit log live there; point SMSAI_STATE_DIR at a directory this user can write."
            ) from None
        return path

    def resolved_state_dir(self) -> Path:
        return self.state_dir if self.state_dir is not None else _default_state_dir()


def _default_state_dir() -> Path:
    from platformdirs import user_data_dir  # only needed once state is opened

    return Path(user_data_dir("smsai-mcp", appauthor=False))


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _token(raw: str | None) -> SecretStr | None:
    if raw is None or not raw.strip():
        return None
    token = raw.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in token):
        raise ConfigError("SMSAI_API_TOKEN contains spaces or control characters; paste the token alone.")
    return SecretStr(token)


def _secret(raw: str | None) -> SecretStr | None:
    if raw is None or not raw.strip():
        return None
    if len(raw.strip()) < 32:
        raise ConfigError("SMSAI_STATE_SECRET must be at least 32 characters (for example: openssl rand -hex 32).")
    return SecretStr(raw.strip())


def _state_url(raw: str | None) -> SecretStr | None:
    if raw is None or not raw.strip():
        return None
    scheme = urlsplit(raw.strip()).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("SMSAI_STATE_URL must be a Redis URL such as redis://127.0.0.1:6379/0.")
    return SecretStr(raw.strip())


def _base_url(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return DEFAULT_BASE_URL
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"SMSAI_BASE_URL must be an http(s) URL such as {DEFAULT_BASE_URL}.")
    if parts.username or parts.password:
        raise ConfigError("SMSAI_BASE_URL must not carry credentials; the token goes in SMSAI_API_TOKEN.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError("SMSAI_BASE_URL must use https:// (http:// is allowed only for a loopback host).")
    return url


def _confirm(raw: str | None) -> ConfirmMode:
    value = (raw or "auto").strip().lower()
    for mode in _CONFIRM_MODES:
        if value == mode:
            return mode
    raise ConfigError(f"SMSAI_CONFIRM must be one of auto, elicit, token or off (got {shown_value(value)}).")


def shown_value(raw: str) -> str:
    """A rejected value as an error may quote it: never one that could be a token pasted into the wrong variable."""
    value = raw.strip()
    if "smsai_" in value.lower() or len(value) > 24 or not value.isprintable():
        return "a value that is not shown, as it may be a secret"
    return repr(value)


def _money(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount in USD such as 1.00 (got {shown_value(raw)}).") from None
    if not value.is_finite() or not 0 <= value <= MAX_USD:
        raise ConfigError(f"{name} must be an amount in USD from 0 to 1,000,000 (got {shown_value(raw)}).")
    return value


def _optional_money(env: Mapping[str, str], name: str) -> Decimal | None:
    return _money(env, name, Decimal(0)) if env.get(name, "").strip() else None


def _quiet_hours(raw: str | None) -> QuietWindow | None:
    value = (raw or "").strip().lower()
    if value == "off":
        return None
    try:
        return QuietWindow.parse(value) if value else DEFAULT_QUIET_HOURS
    except ValueError:
        raise ConfigError(
            f"SMSAI_QUIET_HOURS must be HH:MM-HH:MM in 24-hour time, such as 21:00-08:00, or off "
            f"(got {shown_value(value)})."
        ) from None


def _batch_size(raw: str | None) -> int:
    value = (raw or "").strip()
    if not value:
        return 50
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 500):
        raise ConfigError(f"SMSAI_MAX_BATCH_SIZE must be a whole number from 1 to 500 (got {shown_value(value)}).")
    return int(value)


def _whole_number(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_WHOLE_NUMBER:
        raise ConfigError(f"{name} must be a whole number from 0 to {MAX_WHOLE_NUMBER:,} (got {shown_value(raw)}).")
    return int(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (got {shown_value(raw)}).")


def _on_off(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "on"):
        return True
    if raw == "off":
        return False
    raise ConfigError(f"{name} must be on or off (got {shown_value(raw)}).")


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _countries(env: Mapping[str, str], name: str) -> frozenset[str]:
    codes = [code.upper() for code in _split(env.get(name, ""))]
    if not codes:
        return frozenset()
    import phonenumbers  # only when a country list is configured

    unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        shown = ", ".join(shown_value(code) for code in unknown)
        raise ConfigError(f"{name} must list ISO 3166-1 alpha-2 country codes such as US,CA (unknown: {shown}).")
    return frozenset(codes)


def _recipients(env: Mapping[str, str], name: str) -> frozenset[str]:
    from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164

    numbers: set[str] = set()
    for raw in _split(env.get(name, "")):
        try:
            numbers.add(parse_e164(raw).e164)
        except InvalidPhoneNumber:
            raise ConfigError(
                f"{name} must list E.164 numbers such as +14155550123, separated by commas (got {shown_value(raw)})."
            ) from None
    return frozenset(numbers)


def _path(raw: str | None) -> Path | None:
    if raw is None or not raw.strip():
        return None
    return Path(raw.strip()).expanduser()


def _timeout(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"SMSAI_TIMEOUT_SECONDS must be a number of seconds (got {shown_value(raw)}).") from None
    if not 0 < value <= 600:
        raise ConfigError(f"SMSAI_TIMEOUT_SECONDS must be more than 0 and at most 600 (got {shown_value(raw)}).")
    return value
