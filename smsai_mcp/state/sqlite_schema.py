"""The SQLite ledger's schema, and the migration of a ledger an older version made.

Running totals are kept by triggers, in the same transaction as the change to an attempt, so no path that
reserves, settles or releases (this process's, or an older version's sharing the file) can leave them behind:
    totals   spent (charged, or reserved while open) per UTC day ("2026-11-25") and month ("2026-11")
    texted   each number texted (an attempt that went out or may have), its block of 100 and its latest time
Deleting old attempts (the start-up prune) leaves the totals as they are: the month still spent that money.
"""

from __future__ import annotations

import sqlite3
import time

from smsai_mcp.state.records import DAY_SECONDS, HOUR_SECONDS, IDEMPOTENCY_SECONDS

__all__ = ["SCHEMA", "VERSION", "migrate", "prune"]

# PRAGMA user_version of a ledger with running totals; 0 is one made before them.
VERSION = 2
# What an attempt counts against its day and month.
_COST = (
    "CASE {0}.status WHEN 'sent' THEN COALESCE({0}.charged_micro, 0) WHEN 'released' THEN 0 ELSE {0}.reserved_micro END"
)
_LIVE = "('pending', 'sent', 'unknown')"
# A record that still has the message's text, which older versions kept (one may still share the ledger).
_HAS_TEXT = "CASE WHEN json_valid(message_json) THEN json_type(message_json, '$.body') IS NOT NULL ELSE 0 END"
SCHEMA = f"""
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
CREATE INDEX IF NOT EXISTS attempts_by_time ON attempts (created_at);
CREATE INDEX IF NOT EXISTS attempts_by_fingerprint ON attempts (fingerprint, created_at);
CREATE INDEX IF NOT EXISTS attempts_by_key ON attempts (idempotency_key, created_at);
CREATE INDEX IF NOT EXISTS attempts_by_recipient ON attempts (recipient, created_at);
CREATE INDEX IF NOT EXISTS attempts_unresolved ON attempts (status) WHERE status IN ('pending', 'unknown');
CREATE INDEX IF NOT EXISTS attempts_by_message ON attempts (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS attempts_with_text ON attempts (id) WHERE {_HAS_TEXT};
CREATE TABLE IF NOT EXISTS shared_generations (key TEXT PRIMARY KEY, generation INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS totals (period TEXT PRIMARY KEY, spent_micro INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS texted (recipient TEXT PRIMARY KEY, block TEXT NOT NULL, last_at REAL NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS texted_by_time ON texted (last_at);
CREATE INDEX IF NOT EXISTS texted_by_block ON texted (block, last_at);
CREATE TRIGGER IF NOT EXISTS attempt_booked AFTER INSERT ON attempts BEGIN
    INSERT OR IGNORE INTO totals (period, spent_micro) VALUES (new.day, 0), (substr(new.day, 1, 7), 0);
    UPDATE totals SET spent_micro = spent_micro + ({_COST.format("new")})
        WHERE period IN (new.day, substr(new.day, 1, 7));
    INSERT INTO texted (recipient, block, last_at)
        SELECT new.recipient, substr(new.recipient, 1, length(new.recipient) - 2), new.created_at
        WHERE new.status IN {_LIVE}
        ON CONFLICT (recipient) DO UPDATE SET last_at = max(last_at, excluded.last_at);
END;
CREATE TRIGGER IF NOT EXISTS attempt_rebooked AFTER UPDATE OF status, charged_micro ON attempts BEGIN
    UPDATE totals SET spent_micro = spent_micro - ({_COST.format("old")}) + ({_COST.format("new")})
        WHERE period IN (new.day, substr(new.day, 1, 7));
END;
-- A released attempt sent nothing: its number counts from its latest other live attempt, if any.
CREATE TRIGGER IF NOT EXISTS attempt_withdrawn AFTER UPDATE OF status ON attempts
WHEN new.status = 'released' AND old.status <> 'released' BEGIN
    UPDATE texted SET last_at = COALESCE(
        (SELECT max(created_at) FROM attempts WHERE recipient = new.recipient AND status IN {_LIVE}), 0)
        WHERE recipient = new.recipient;
END;
"""
# Day totals older than this are dropped at start; the current and previous month's are kept.
_TOTALS_KEPT_SECONDS = 62 * DAY_SECONDS


def migrate(db: sqlite3.Connection) -> None:
    """Bring a ledger made before the running totals up to date, once: the totals and the numbers texted are
    computed from its rows (whatever an older version pruned is no longer there to count)."""
    if db.execute("PRAGMA user_version").fetchone()[0] >= VERSION:
        return  # the usual start: no write lock taken, so a ledger busy elsewhere still opens
    db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then find it done
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] < VERSION:
            db.execute("DELETE FROM totals")
            for period in ("day", "substr(day, 1, 7)"):
                db.execute(
                    f"INSERT INTO totals (period, spent_micro) SELECT {period}, SUM({_COST.format('attempts')}) "
                    f"FROM attempts GROUP BY {period}"
                )
            db.execute("DELETE FROM texted")
            db.execute(
                "INSERT INTO texted (recipient, block, last_at) "
                "SELECT recipient, substr(recipient, 1, length(recipient) - 2), max(created_at) "
                f"FROM attempts WHERE status IN {_LIVE} GROUP BY recipient"
            )
            db.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def prune(db: sqlite3.Connection, now: float) -> None:
    """What no longer decides anything: attempts past the idempotency horizon (and a day's margin), numbers not
    texted in the last hour, old days' totals; and the text an older version kept. Each is a range of an index
    (the text's is a partial index of the records that have one), not a scan of the ledger."""
    db.execute("PRAGMA synchronous=NORMAL")  # losing a prune loses nothing
    db.execute(
        "DELETE FROM attempts WHERE created_at < ? AND status IN ('sent','released')",
        (now - IDEMPOTENCY_SECONDS - DAY_SECONDS,),
    )
    db.execute("DELETE FROM texted WHERE last_at <= ?", (now - HOUR_SECONDS,))
    db.execute("DELETE FROM batch_keys WHERE claimed_at <= ?", (now - IDEMPOTENCY_SECONDS,))  # one row per keyed batch
    db.execute(f"UPDATE attempts SET message_json = json_remove(message_json, '$.body') WHERE {_HAS_TEXT}")
    cutoff = time.strftime("%Y-%m-%d", time.gmtime(now - _TOTALS_KEPT_SECONDS))
    db.execute("DELETE FROM totals WHERE period < ?", (cutoff,))
