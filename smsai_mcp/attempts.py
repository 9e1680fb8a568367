"""`smsai-mcp attempts list|resolve`: the sends whose outcome is unknown, and a person's verdict on one of them.

A person who knows what became of a send (they looked at the phone, or at the account's message list) settles
it: `--sent MESSAGE_ID` books that message's charged price (the estimate when the API does not say it) and makes
the same message a duplicate of it; `--not-sent` gives the reservation back, so the message may be sent again.
Both go to the audit log. Exit codes: 0 done, 1 no such open attempt, 2 bad usage or configuration.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import anyio
from redis.exceptions import RedisError

from smsai_mcp.client.api import SmsApi, create_http_client
from smsai_mcp.client.errors import ApiError, NotFound
from smsai_mcp.client.models import Message
from smsai_mcp.config import ConfigError, Settings
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.guard.reconcile import IN_FLIGHT_MARGIN_SECONDS, body_sha256, owner_may_run
from smsai_mcp.guard.stages import from_another_sender
from smsai_mcp.runtime import open_store
from smsai_mcp.service.access import load_tenants
from smsai_mcp.sms.money import micro, usd_of_micro
from smsai_mcp.sms.phone import mask_number, same_number
from smsai_mcp.state.store import Attempt, StateStore, StoreUnavailable
from smsai_mcp.tenants import DEFAULT_TENANT

__all__ = ["EXIT_NO_SUCH_ATTEMPT", "EXIT_OK", "EXIT_USAGE", "Verdict", "run_attempts"]

EXIT_OK, EXIT_NO_SUCH_ATTEMPT, EXIT_USAGE = 0, 1, 2
_SHORTEST_PREFIX = 6  # an id may be given by a unique start this long, as `list` shows it whole
# The server that made a send may have a longer SMSAI_TIMEOUT_SECONDS (at most 600) than this command sees.
_LONGEST_SEND_SECONDS = 600 + IN_FLIGHT_MARGIN_SECONDS


class UsageError(Exception):
    """Bad usage or configuration: exit 2 with this sentence."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a person says of one attempt: `message_id` when it went out, None when it never did."""

    attempt_id: str
    message_id: int | None


def run_attempts(
    command: str,
    verdict: Verdict | None,
    *,
    tenant: str | None,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    try:
        name, settings = _tenant_settings(settings, tenant, os.environ if environ is None else environ)
        if command == "list":
            return anyio.run(_list, name, settings, out)
        assert verdict is not None
        return anyio.run(_resolve, name, settings, verdict, out)
    except (UsageError, ConfigError) as exc:
        sys.stderr.write(f"smsai-mcp attempts: {exc}\n")
        return EXIT_USAGE
    except (OSError, sqlite3.Error, RedisError, StoreUnavailable) as exc:  # one line for a person, not a traceback
        sys.stderr.write(f"smsai-mcp attempts: the state store cannot be used: {type(exc).__name__}: {exc}\n")
        return EXIT_USAGE


def _tenant_settings(settings: Settings, tenant: str | None, environ: Mapping[str, str]) -> tuple[str, Settings]:
    """The tenant's name and settings: its own ledger with a tenants file, the process's without one."""
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


async def _list(tenant: str, settings: Settings, out: TextIO) -> int:
    store = open_store(settings, tenant=tenant)
    try:
        attempts = await store.unresolved()
    finally:
        await store.close()
    if not attempts:
        out.write(f"No open sends (tenant {tenant}): every send's outcome is known.\n")
        return EXIT_OK
    now = time.time()
    rows = [("ID", "CREATED (UTC)", "AGE", "TO", "ESTIMATE", "STATUS")]
    rows += [
        (
            attempt.id,
            datetime.fromtimestamp(attempt.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            _age(now - attempt.created_at),
            mask_number(attempt.recipient),
            f"${usd_of_micro(attempt.reserved_micro):.4f}",
            attempt.status,
        )
        for attempt in attempts
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    out.write(f"{len(attempts)} open send(s) whose outcome is not known yet (tenant {tenant}):\n\n")
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(
        "\nA pending send may still be in flight; an unknown one may have gone out. Once you know, settle one:\n"
        "  smsai-mcp attempts resolve ID --sent MESSAGE_ID   it went out (the id list_messages shows)\n"
        "  smsai-mcp attempts resolve ID --not-sent          it never went out: its reservation is given back\n"
    )
    return EXIT_OK


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86_400} d {seconds % 86_400 // 3600} h"


async def _resolve(tenant: str, settings: Settings, verdict: Verdict, out: TextIO) -> int:
    store = open_store(settings, tenant=tenant)
    try:
        attempt = _find(await store.unresolved(), verdict.attempt_id)
        if attempt is None:
            sys.stderr.write(
                f"smsai-mcp attempts: no open send {verdict.attempt_id!r} (tenant {tenant}); it may be settled "
                "already. `smsai-mcp attempts list` shows the open ones.\n"
            )
            return EXIT_NO_SUCH_ATTEMPT
        if attempt.status == "pending" and time.time() - attempt.created_at < in_flight_seconds(settings):
            raise UsageError(f"send {attempt.id} may still be in flight; wait a few minutes, then look again.")
        age = time.time() - attempt.created_at
        if attempt.status == "pending" and age < _LONGEST_SEND_SECONDS and owner_may_run(attempt.owner):
            raise UsageError(
                f"send {attempt.id} may still be in flight: the smsai-mcp process that made it may still be running "
                "(here, or on another machine sharing the state). Wait for it to finish, then look again."
            )
        audit = AuditLog(settings.resolved_state_dir() / "audit.jsonl")
        if verdict.message_id is None:
            if not await store.release(attempt.id):
                return _settled_meanwhile(attempt)
            await audit.record(event="released", recipient=attempt.recipient, attempt=attempt.id, by="person")
            out.write(
                f"Released {attempt.id}: nothing went out, so its reservation of "
                f"${usd_of_micro(attempt.reserved_micro):.4f} is given back and the message may be sent again.\n"
            )
            return EXIT_OK
        return await _settle(store, audit, settings, attempt, verdict.message_id, out)
    finally:
        await store.close()


def _settled_meanwhile(attempt: Attempt) -> int:
    sys.stderr.write(
        f"smsai-mcp attempts: send {attempt.id} was settled meanwhile (by a running server or another person), so "
        "nothing changed. `smsai-mcp attempts list` shows the open ones.\n"
    )
    return EXIT_NO_SUCH_ATTEMPT


def in_flight_seconds(settings: Settings) -> float:
    return settings.timeout_seconds + IN_FLIGHT_MARGIN_SECONDS


def _find(attempts: list[Attempt], wanted: str) -> Attempt | None:
    exact = [attempt for attempt in attempts if attempt.id == wanted]
    if exact or len(wanted) < _SHORTEST_PREFIX:
        return exact[0] if exact else None
    started = [attempt for attempt in attempts if attempt.id.startswith(wanted)]
    return started[0] if len(started) == 1 else None


async def _settle(
    store: StateStore, audit: AuditLog, settings: Settings, attempt: Attempt, message_id: int, out: TextIO
) -> int:
    if message_id in await store.claimed_message_ids():
        raise UsageError(f"message {message_id} is already matched to another send; check the id.")
    message, note = await _message(settings, message_id)
    if message is not None and not same_number(message.to, attempt.recipient):
        raise UsageError(
            f"message {message_id} went to {mask_number(message.to)}, not to this send's "
            f"{mask_number(attempt.recipient)}; check the id."
        )
    if message is not None and message.body is not None and body_sha256(message.body) != attempt.body_sha256:
        raise UsageError(f"message {message_id} has another text than this send; check the id.")
    if message is not None and from_another_sender(message, attempt):
        raise UsageError(f"message {message_id} went from another sender than this send; check the id.")
    charged = _charged_micro(message, attempt)
    record = message or Message(id=message_id, to=attempt.recipient, status="sent")
    settled = await store.settle(
        attempt.id, charged_micro=charged, message_id=message_id, message_json=record.model_dump_json()
    )
    if not settled:  # a running server's reconciliation got there while the API was asked
        if _find(await store.unresolved(), attempt.id) is None:
            return _settled_meanwhile(attempt)
        raise UsageError(f"message {message_id} is already matched to another send; check the id.")
    await audit.record(
        event="sent",
        recipient=attempt.recipient,
        attempt=attempt.id,
        message_id=message_id,
        charged_usd=str(usd_of_micro(charged)),
        by="person",
    )
    out.write(
        f"Settled {attempt.id} as sent: message {message_id}, ${usd_of_micro(charged):.4f} booked{note}. The same "
        "message is now a duplicate of it.\n"
    )
    return EXIT_OK


async def _message(settings: Settings, message_id: int) -> tuple[Message | None, str]:
    """The API's record of the message, if it can be read, and a note on what was booked otherwise."""
    if settings.api_token is None:
        return None, " (the estimate: no token is configured to read the charged price)"
    async with create_http_client(timeout_seconds=settings.timeout_seconds) as http:
        api = SmsApi(
            http, token=settings.api_token, base_url=settings.base_url, timeout_seconds=settings.timeout_seconds
        )
        try:
            return await api.get_message(message_id), ""
        except NotFound:
            raise UsageError(f"there is no message {message_id} on this account; check the id.") from None
        except ApiError as exc:
            return None, f" (the estimate: the charged price could not be read: {exc.message})"


def _charged_micro(message: Message | None, attempt: Attempt) -> int:
    price = message.price_usd if message is not None else None
    if price is None or not math.isfinite(price) or price < 0:
        return attempt.reserved_micro  # what the API charged is not known: the estimate stands
    return micro(Decimal(str(price)))
