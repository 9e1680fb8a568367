"""The sandbox embedded in this process (`--sandbox`): settings pointed at it and a transport that reaches it
without a socket. The one place that reads the SMSAI_SANDBOX_* variables for the server, the doctor and the
standalone sandbox, so a bad value is a configuration error naming its variable everywhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import httpx2

from smsai_mcp.config import ConfigError, Settings
from smsai_mcp.runtime import sandbox_settings
from smsai_mcp.sandbox import SandboxConfig, create_app, in_process_transport

__all__ = ["SANDBOX_HISTORY_LIMIT", "embedded_sandbox", "sandbox_config"]

SANDBOX_HISTORY_LIMIT = 2_000  # messages and requests a long-running sandbox remembers, so its memory stays flat


def sandbox_config(environ: Mapping[str, str] | None = None) -> SandboxConfig:
    """The sandbox's configuration from SMSAI_SANDBOX_* variables; a bad one is a ConfigError that names it."""
    try:
        return dataclasses.replace(SandboxConfig.from_env(environ), history_limit=SANDBOX_HISTORY_LIMIT)
    except ValueError as exc:  # the sandbox imports only sms/, so it cannot raise ConfigError itself
        raise ConfigError(str(exc)) from None


def embedded_sandbox(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[Settings, httpx2.AsyncBaseTransport]:
    """`settings` pointed at a sandbox in this process (its token, a ledger of its own), and the way to reach it."""
    sandbox = create_app(sandbox_config(environ))
    return sandbox_settings(settings), in_process_transport(sandbox)
