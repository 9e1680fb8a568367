"""`smsai-mcp pause [--reason TEXT]` and `smsai-mcp resume`: what an operator reaches for during an incident.

The pause lives in the state store, so it stops every send of every process and replica sharing it at once (each
reads it before every send, and again just before its POST); reads keep working. Both go to the audit log.
Exit codes: 0 done (resume of a server that was not paused too: the outcome is the one wanted), 2 bad usage,
configuration or state store.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

import anyio

from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import utc_time
from smsai_mcp.runtime import open_store
from smsai_mcp.sms.content_rules import SECRET_RULES
from smsai_mcp.tenant_commands import EXIT_OK, UsageError, audit_log, run_command, tenant_settings

__all__ = ["run_pause", "run_resume"]

_MAX_REASON = 500


def run_pause(
    reason: str | None,
    *,
    tenant: str | None,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    def work() -> int:
        if reason is not None and len(reason) > _MAX_REASON:
            raise UsageError(f"a reason is at most {_MAX_REASON} characters.")
        carried = _secret_in(reason)
        if carried is not None:  # every refused send shows the reason to the agent: it must not carry a token
            raise UsageError(f"the reason looks like it carries {carried}; write it again without it.")
        name, tenant_config = tenant_settings(settings, tenant, environ)
        return anyio.run(_pause, reason, name, tenant_config, out or sys.stdout)

    return run_command("pause", work)


def run_resume(
    *, tenant: str | None, settings: Settings, environ: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    def work() -> int:
        name, tenant_config = tenant_settings(settings, tenant, environ)
        return anyio.run(_resume, name, tenant_config, out or sys.stdout)

    return run_command("resume", work)


async def _pause(reason: str | None, tenant: str, settings: Settings, out: TextIO) -> int:
    store = open_store(settings, tenant=tenant)
    try:
        pause = await store.pause(_one_line(reason), now=time.time())
    finally:
        await store.close()
    await audit_log(settings).record(event="paused", recipient="", by="person")
    out.write(
        f"Sending is paused (tenant {tenant}) since {utc_time(pause.since)}: every send of every process sharing "
        "this state is refused until `smsai-mcp resume`. Reads keep working.\n"
    )
    return EXIT_OK


async def _resume(tenant: str, settings: Settings, out: TextIO) -> int:
    store = open_store(settings, tenant=tenant)
    try:
        was_paused = await store.resume()
    finally:
        await store.close()
    if not was_paused:
        out.write(f"Sending was not paused (tenant {tenant}); nothing changed.\n")
        return EXIT_OK
    await audit_log(settings).record(event="resumed", recipient="", by="person")
    out.write(f"Sending is resumed (tenant {tenant}).\n")
    return EXIT_OK


def _one_line(reason: str | None) -> str | None:
    """The reason as the refusals will show it: one line, whatever the operator pasted."""
    if reason is None or not reason.strip():
        return None
    return " ".join("".join(char if char.isprintable() else " " for char in reason).split())


def _secret_in(reason: str | None) -> str | None:
    """The kind of credential the reason seems to carry (an `smsai_` token, a cloud key...), or None."""
    for rule in SECRET_RULES if reason else ():
        if any(rule.confirm is None or rule.confirm(m.group(0)) for m in rule.pattern.finditer(reason or "")):
            return rule.name
    return None
