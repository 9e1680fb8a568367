"""The SQLite ledger's reads and its check-and-reserve; each runs on a connection the caller holds (inside its
transaction when it must be atomic). Every read on the send path is one indexed lookup or a range of the last
hour: none reads the rows of the day (the running totals of sqlite_schema.py stand in for sums)."""

from __future__ import annotations

import sqlite3
from dataclasses import astuple, fields
from typing import Any

from smsai_mcp.state.records import HOUR_SECONDS, IDEMPOTENCY_SECONDS
from smsai_mcp.state.store import (
    Attempt,
    BeginRequest,
    BeginResult,
    Begun,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    MonthlyBudgetExceeded,
    NumberBlockReached,
    RecipientLimitReached,
    RecipientsPerHourReached,
    StillUnknown,
    Velocity,
    block_of,
    month_of,
    repeated,
)

__all__ = [
    "COLUMNS",
    "LIVE_CONDITION",
    "SELECT_ATTEMPTS",
    "attempt_of",
    "check_and_reserve",
    "find_earlier",
    "find_unresolved",
    "message_claimed",
    "recent_to_recipient",
    "spent",
    "velocity",
]

COLUMNS = [field.name for field in fields(Attempt)]
SELECT_ATTEMPTS = f"SELECT {', '.join(COLUMNS)} FROM attempts"
# An attempt that went out or may have: it counts for duplicates, keys and the hourly limit.
LIVE_CONDITION = "status IN ('pending', 'sent', 'unknown')"
_INSERT = f"INSERT INTO attempts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def attempt_of(row: tuple[Any, ...]) -> Attempt:
    return Attempt(*row)


def check_and_reserve(db: sqlite3.Connection, request: BeginRequest, now: float) -> BeginResult:
    """Every check of `begin`, then the attempt inserted (its triggers book the totals); the caller holds the
    write lock (BEGIN IMMEDIATE) and commits."""
    attempt = request.attempt
    key = attempt.idempotency_key
    if key is not None and (earlier := find_earlier(db, attempt.fingerprint, key, 0, now)) is not None:
        return repeated(attempt, earlier)
    stale_before = now - request.pending_stale_seconds
    if (unresolved := find_unresolved(db, attempt.fingerprint, key, stale_before)) is not None:
        return StillUnknown(unresolved)
    if key is None:
        earlier = find_earlier(db, attempt.fingerprint, None, request.duplicate_window_seconds, now)
        if earlier is not None:
            return repeated(attempt, earlier)
    if attempt.confirmation_id is not None:
        used = db.execute("SELECT 1 FROM attempts WHERE confirmation_id = ?", (attempt.confirmation_id,))
        if used.fetchone() is not None:
            return ConfirmationAlreadyUsed()
    recent = recent_to_recipient(db, attempt.recipient, now)
    if recent >= request.max_per_recipient_per_hour:
        return RecipientLimitReached(recent)
    texted = velocity(db, attempt.recipient, now)
    if not texted.already_texted:
        if texted.recipients >= request.max_recipients_per_hour:
            return RecipientsPerHourReached(texted.recipients)
        if texted.block_recipients >= request.max_per_number_block_per_hour:
            return NumberBlockReached(texted.block_recipients)
    spent_today = spent(db, attempt.day)
    if spent_today + attempt.reserved_micro > request.daily_budget_micro:
        return BudgetExceeded(spent_today)
    if request.monthly_budget_micro is not None:
        spent_this_month = spent(db, month_of(attempt.day))
        if spent_this_month + attempt.reserved_micro > request.monthly_budget_micro:
            return MonthlyBudgetExceeded(spent_this_month)
    db.execute(_INSERT, astuple(attempt))
    return Begun(attempt)


def find_earlier(
    db: sqlite3.Connection, fingerprint: str, key: str | None, window_seconds: int, now: float
) -> Attempt | None:
    if key is not None:
        row = db.execute(
            f"{SELECT_ATTEMPTS} WHERE idempotency_key = ? AND created_at > ? AND {LIVE_CONDITION} "
            "ORDER BY created_at DESC LIMIT 1",
            (key, now - IDEMPOTENCY_SECONDS),
        ).fetchone()
    elif window_seconds > 0:
        row = db.execute(
            f"{SELECT_ATTEMPTS} WHERE fingerprint = ? AND created_at > ? AND {LIVE_CONDITION} "
            "ORDER BY created_at DESC LIMIT 1",
            (fingerprint, now - window_seconds),
        ).fetchone()
    else:
        row = None
    return None if row is None else attempt_of(row)


def find_unresolved(db: sqlite3.Connection, fingerprint: str, key: str | None, stale_before: float) -> Attempt | None:
    # Only open attempts, through their partial index: their number stays small whatever the ledger holds.
    row = db.execute(
        f"{SELECT_ATTEMPTS} INDEXED BY attempts_unresolved WHERE status IN ('pending', 'unknown') "
        "AND (fingerprint = ? OR idempotency_key = ?) AND (status = 'unknown' OR created_at <= ?) "
        "ORDER BY created_at DESC LIMIT 1",
        (fingerprint, key, stale_before),
    ).fetchone()
    return None if row is None else attempt_of(row)


def recent_to_recipient(db: sqlite3.Connection, recipient: str, now: float) -> int:
    row = db.execute(
        f"SELECT COUNT(*) FROM attempts WHERE recipient = ? AND created_at > ? AND {LIVE_CONDITION}",
        (recipient, now - HOUR_SECONDS),
    ).fetchone()
    return int(row[0])


def velocity(db: sqlite3.Connection, recipient: str, now: float) -> Velocity:
    since = now - HOUR_SECONDS
    mine = db.execute("SELECT last_at FROM texted WHERE recipient = ?", (recipient,)).fetchone()
    everyone = db.execute("SELECT COUNT(*) FROM texted WHERE last_at > ?", (since,)).fetchone()
    block = db.execute(
        "SELECT COUNT(*) FROM texted WHERE block = ? AND last_at > ?", (block_of(recipient), since)
    ).fetchone()
    return Velocity(
        already_texted=mine is not None and float(mine[0]) > since,
        recipients=int(everyone[0]),
        block_recipients=int(block[0]),
    )


def spent(db: sqlite3.Connection, period: str) -> int:
    """The running total of a UTC day ("2026-11-25") or month ("2026-11")."""
    row = db.execute("SELECT spent_micro FROM totals WHERE period = ?", (period,)).fetchone()
    return 0 if row is None else int(row[0])


def message_claimed(db: sqlite3.Connection, message_id: int) -> bool:
    return db.execute("SELECT 1 FROM attempts WHERE message_id = ?", (message_id,)).fetchone() is not None
