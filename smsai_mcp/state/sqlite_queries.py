"""The SQLite ledger's schema and the reads every store operation shares; each runs on a connection the
caller holds (inside its transaction when it must be atomic)."""

from __future__ import annotations

import sqlite3
from dataclasses import fields
from typing import Any

from smsai_mcp.state.store import HOUR_SECONDS, IDEMPOTENCY_SECONDS, Attempt

__all__ = [
    "COLUMNS",
    "LIVE_CONDITION",
    "SCHEMA",
    "SCRUB_TEXT",
    "SELECT_ATTEMPTS",
    "attempt_of",
    "find_earlier",
    "find_unresolved",
    "recent_to_recipient",
    "spent",
]

COLUMNS = [field.name for field in fields(Attempt)]
SELECT_ATTEMPTS = f"SELECT {', '.join(COLUMNS)} FROM attempts"
# An attempt that went out or may have: it counts for duplicates, keys and the hourly limit.
LIVE_CONDITION = "status IN ('pending', 'sent', 'unknown')"
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    created_at REAL NOT NULL,
    recipient TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    idempotency_key TEXT,
    confirmation_id TEXT UNIQUE,
    owner TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'unknown', 'released')),
    reserved_micro INTEGER NOT NULL,
    charged_micro INTEGER,
    message_id INTEGER,
    message_json TEXT
);
CREATE INDEX IF NOT EXISTS attempts_by_day ON attempts (day);
CREATE INDEX IF NOT EXISTS attempts_by_fingerprint ON attempts (fingerprint, created_at);
CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (idempotency_key, created_at);
CREATE INDEX IF NOT EXISTS attempts_by_recipient ON attempts (recipient, created_at);
CREATE INDEX IF NOT EXISTS attempts_unresolved ON attempts (status) WHERE status IN ('pending', 'unknown');
CREATE INDEX IF NOT EXISTS attempts_by_message ON attempts (message_id) WHERE message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS shared_generations (key TEXT PRIMARY KEY, generation INTEGER NOT NULL);
"""
# Older versions kept the message's text in its record.
SCRUB_TEXT = """
UPDATE attempts SET message_json = json_remove(message_json, '$.body')
WHERE CASE WHEN json_valid(message_json) THEN json_type(message_json, '$.body') IS NOT NULL ELSE 0 END
"""


def attempt_of(row: tuple[Any, ...]) -> Attempt:
    return Attempt(*row)


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
    row = db.execute(
        f"{SELECT_ATTEMPTS} WHERE status IN ('pending', 'unknown') AND (fingerprint = ? OR idempotency_key = ?) "
        "AND (status = 'unknown' OR created_at <= ?) ORDER BY created_at DESC LIMIT 1",
        (fingerprint, key, stale_before),
    ).fetchone()
    return None if row is None else attempt_of(row)


def recent_to_recipient(db: sqlite3.Connection, recipient: str, now: float) -> int:
    row = db.execute(
        f"SELECT COUNT(*) FROM attempts WHERE recipient = ? AND created_at > ? AND {LIVE_CONDITION}",
        (recipient, now - HOUR_SECONDS),
    ).fetchone()
    return int(row[0])


def spent(db: sqlite3.Connection, day: str) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(CASE status WHEN 'sent' THEN COALESCE(charged_micro, 0) "
        "WHEN 'released' THEN 0 ELSE reserved_micro END), 0) FROM attempts WHERE day = ?",
        (day,),
    ).fetchone()
    return int(row[0])
