"""Send latency as the day's ledger grows: rows written straight into a SQLite ledger, then sends timed.

Rows go in through the store's own schema (opening the store makes it, with any table a newer version adds) and
only the columns every version has, so the bench keeps working as the schema grows.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from smsai_mcp.state.sqlite import SqliteStore

BATCH = 50_000
SEEDED_IDS_FROM = 10**15


async def seed_ledger(state_dir: Path, rows: int) -> None:
    """`rows` settled sends of today, to recipients the timed sends never use, each charged 100 micro-dollars."""
    path = state_dir / "state.db"
    store = SqliteStore(path)  # the schema, as the server would make it
    await store.close()
    now = time.time()
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    try:
        for start in range(0, rows, BATCH):
            db.execute("BEGIN")
            db.executemany(
                "INSERT INTO attempts (id, day, created_at, recipient, fingerprint, body_sha256, owner, status, "
                "reserved_micro, charged_micro, message_id) VALUES (?, ?, ?, ?, ?, ?, 'bench:0', 'sent', 100, 100, ?)",
                (
                    (
                        f"seed-{n}",
                        day,
                        midnight + max(0.0, now - midnight - 7200) * n / rows,  # the day so far, not the last hour
                        f"+4420{n % 10_000_000:08d}",
                        secrets.token_hex(32),
                        secrets.token_hex(32),
                        SEEDED_IDS_FROM + n,  # never an id the sandbox hands out
                    )
                    for n in range(start, min(rows, start + BATCH))
                ),
            )
            db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the seeding's log is not left for the timed sends to fold in
    finally:
        db.close()
