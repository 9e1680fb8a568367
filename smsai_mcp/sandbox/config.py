"""How a sandbox starts: demo credits, delivery delay, rate limit, page size and initial faults."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from smsai_mcp.sandbox.faults import Fault

CREDITS_VAR = "SMSAI_SANDBOX_CREDITS_USD"
DELIVERY_VAR = "SMSAI_SANDBOX_DELIVERY_SECONDS"
RATE_LIMIT_VAR = "SMSAI_SANDBOX_RATE_LIMIT_PER_MINUTE"
FAULTS_VAR = "SMSAI_SANDBOX_FAULTS"


@dataclass
class SandboxConfig:
    credits_usd: Decimal = Decimal("25.00")
    delivery_seconds: float = 3.0  # sent -> delivered this long after sending, worked out when read
    rate_limit_per_minute: int = 600  # per token
    per_page: int = 15
    oldest_first: bool = False  # list GET /sms in the other order: the reference does not say which
    first_message_id: int = 1
    history_limit: int | None = None  # keep only the newest N messages and recorded requests; None: all
    faults: list[Fault] = field(default_factory=list)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """The defaults, overridden by any SMSAI_SANDBOX_* variable set; a bad value raises ValueError naming it."""
        env = os.environ if environ is None else environ
        # Ids go on rising across restarts, as the real API's do: a ledger kept across restarts (the server's own
        # sandbox ledger) must never meet a new message under an id it already booked for another.
        config = cls(first_message_id=int(time.time() * 1000))
        if (raw := env.get(CREDITS_VAR)) is not None:
            config.credits_usd = _credits(raw)
        if (raw := env.get(DELIVERY_VAR)) is not None:
            config.delivery_seconds = _delivery(raw)
        if (raw := env.get(RATE_LIMIT_VAR)) is not None:
            config.rate_limit_per_minute = _rate_limit(raw)
        if (raw := env.get(FAULTS_VAR)) is not None:
            config.faults = _faults(raw)
        return config


def _credits(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise ValueError(f"{CREDITS_VAR} must be a number of US dollars >= 0, e.g. 25.00; got {raw!r}")
    return value


def _delivery(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{DELIVERY_VAR} must be a number of seconds >= 0, e.g. 3; got {raw!r}")
    return value


def _rate_limit(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{RATE_LIMIT_VAR} must be a whole number of requests >= 1, e.g. 600; got {raw!r}")
    return value


def _faults(raw: str) -> list[Fault]:
    try:
        data = json.loads(raw)
        if not isinstance(data, list):
            raise ValueError("not a JSON list")
        return [Fault.from_json(item) for item in data]
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise ValueError(f"{FAULTS_VAR} must be a JSON list of fault objects: {exc}") from None
