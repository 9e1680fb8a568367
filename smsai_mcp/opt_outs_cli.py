"""`smsai-mcp opt-outs list|add NUMBER [--note TEXT]|remove NUMBER`: the do-not-text list, from the command line.

The person at the terminal is the confirmation a removal needs (the remove_opt_out tool asks one instead). Every
change goes to the audit log, with the masked number and never the note. Exit codes: 0 done, 1 `remove` of a
number that is not on the list, 2 bad usage, configuration or state store.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

import anyio

from smsai_mcp.config import Settings
from smsai_mcp.guard.opt_outs import OptOuts
from smsai_mcp.guard.refusal import utc_time
from smsai_mcp.runtime import open_store
from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164
from smsai_mcp.tenant_commands import EXIT_NOT_FOUND, EXIT_OK, UsageError, audit_log, run_command, tenant_settings

__all__ = ["OptOutCommand", "run_opt_outs"]

_MAX_NOTE = 200


@dataclass(frozen=True, slots=True)
class OptOutCommand:
    action: str  # list, add or remove
    number: str | None = None
    note: str | None = None


def run_opt_outs(
    command: OptOutCommand,
    *,
    tenant: str | None,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    def work() -> int:
        name, tenant_config = tenant_settings(settings, tenant, environ)
        return anyio.run(_run, command, name, tenant_config, out or sys.stdout)

    return run_command("opt-outs", work)


async def _run(command: OptOutCommand, tenant: str, settings: Settings, out: TextIO) -> int:
    number = _e164(command.number) if command.number is not None else None
    if command.note is not None and not 1 <= len(command.note) <= _MAX_NOTE:
        raise UsageError(f"a note is 1 to {_MAX_NOTE} characters.")
    store = open_store(settings, tenant=tenant)
    try:
        opt_outs = OptOuts(store, audit_log(settings), time.time)
        if command.action == "list":
            return await _list(opt_outs, tenant, out)
        assert number is not None
        if command.action == "add":
            entry = await opt_outs.add(number, command.note, by="person")
            out.write(f"{number} is on the do-not-text list (tenant {tenant}) since {utc_time(entry.since)}.\n")
            return EXIT_OK
        if not await opt_outs.remove(number, by="person"):
            sys.stderr.write(f"smsai-mcp opt-outs: {number} is not on the do-not-text list (tenant {tenant}).\n")
            return EXIT_NOT_FOUND
        out.write(f"{number} is off the do-not-text list (tenant {tenant}): it may be texted again.\n")
        return EXIT_OK
    finally:
        await store.close()


async def _list(opt_outs: OptOuts, tenant: str, out: TextIO) -> int:
    entries = []
    page = 1
    while True:  # every page: a person reading the list wants all of it
        found = await opt_outs.page(page)
        entries += found.entries
        if not found.has_more or not found.entries:
            break
        page += 1
    if not entries:
        out.write(f"The do-not-text list is empty (tenant {tenant}).\n")
        return EXIT_OK
    rows = [("NUMBER", "SINCE", "NOTE")] + [(e.number, utc_time(e.since), _one_line(e.note)) for e in entries]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    out.write(f"{len(entries)} number(s) on the do-not-text list (tenant {tenant}), oldest first:\n\n")
    for row in rows:
        out.write(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip() + "\n")
    return EXIT_OK


def _e164(raw: str) -> str:
    try:
        return parse_e164(raw).e164
    except InvalidPhoneNumber as exc:
        raise UsageError(str(exc)) from None


def _one_line(note: str | None) -> str:
    """A note as one line of the table: its line breaks and control characters cannot add rows."""
    if note is None:
        return ""
    return "".join(char if char.isprintable() else " " for char in note)
