"""The lists a person keeps in the SQLite store: the do-not-text list and the pause (one row, or none); and the
batch idempotency keys, each standing for the one batch it was first used for.

A mixin of `SqliteStore`: it writes through the store's own `_run`, so they wait for the same lock; the two reads made
before every send (the pause, the number's opt-out) use its reader, as the ledger's reads do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from smsai_mcp.state.records import IDEMPOTENCY_SECONDS
from smsai_mcp.state.store import OptOut, Pause, Standing

__all__ = ["SCHEMA", "SqliteLists"]

T = TypeVar("T")

SCHEMA = """
BEGIN;  -- one transaction: a new ledger's first writes stay small (one WAL frame per page, not per statement)
CREATE TABLE IF NOT EXISTS opt_outs (number TEXT PRIMARY KEY, since REAL NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS opt_outs_by_since ON opt_outs (since, number);
CREATE TABLE IF NOT EXISTS pause (only INTEGER PRIMARY KEY CHECK (only = 1), reason TEXT, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS batch_keys (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, claimed_at REAL NOT NULL)
    WITHOUT ROWID;
COMMIT;
"""


class SqliteLists:
    async def _run(self, work: Callable[[sqlite3.Connection], T], *, wait: float = ...) -> T:
        raise NotImplementedError  # SqliteStore's

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError  # SqliteStore's: the reads made before every send, without a thread or the lock

    async def add_opt_out(self, number: str, note: str | None, *, now: float) -> OptOut:
        def add(db: sqlite3.Connection) -> OptOut:
            row = db.execute(
                "INSERT INTO opt_outs (number, since, note) VALUES (?, ?, ?) "
                "ON CONFLICT (number) DO UPDATE SET note = COALESCE(excluded.note, note) "
                "RETURNING number, since, note",
                (number, now, note),
            ).fetchone()
            return _opt_out(row)

        return await self._run(add)

    async def remove_opt_out(self, number: str) -> bool:
        removed = await self._run(lambda db: db.execute("DELETE FROM opt_outs WHERE number = ?", (number,)).rowcount)
        return bool(removed)

    async def opt_out(self, number: str) -> OptOut | None:
        row = self._read(
            lambda db: db.execute("SELECT number, since, note FROM opt_outs WHERE number = ?", (number,)).fetchone()
        )
        return None if row is None else _opt_out(row)

    async def list_opt_outs(self, *, offset: int, limit: int) -> tuple[list[OptOut], int]:
        def page(db: sqlite3.Connection) -> tuple[list[OptOut], int]:
            rows = db.execute(
                "SELECT number, since, note FROM opt_outs ORDER BY since, number LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
            total = db.execute("SELECT COUNT(*) FROM opt_outs").fetchone()[0]
            return [_opt_out(row) for row in rows], int(total)

        return await self._run(page)

    async def pause(self, reason: str | None, *, now: float) -> Pause:
        row = await self._run(
            lambda db: db.execute(
                "INSERT INTO pause (only, reason, since) VALUES (1, ?, ?) "
                "ON CONFLICT (only) DO UPDATE SET reason = excluded.reason RETURNING reason, since",
                (reason, now),
            ).fetchone()
        )
        return Pause(reason=row[0], since=float(row[1]))

    async def resume(self) -> bool:
        return bool(await self._run(lambda db: db.execute("DELETE FROM pause").rowcount))

    async def pause_state(self) -> Pause | None:
        row = self._read(lambda db: db.execute("SELECT reason, since FROM pause").fetchone())
        return None if row is None else Pause(reason=row[0], since=float(row[1]))

    async def standing(self, day: str, month: str) -> Standing:
        row = self._read(
            lambda db: db.execute(
                "SELECT (SELECT spent_micro FROM totals WHERE period = ?), (SELECT spent_micro FROM totals WHERE "
                "period = ?), (SELECT reason FROM pause), (SELECT since FROM pause)",
                (day, month),
            ).fetchone()
        )
        pause = Pause(reason=row[2], since=float(row[3])) if row[3] is not None else None  # `since` is never null
        return Standing(spent_today_micro=int(row[0] or 0), spent_month_micro=int(row[1] or 0), pause=pause)

    async def claim_batch_key(self, key: str, fingerprint: str, *, now: float) -> str:
        def claim(db: sqlite3.Connection) -> str:
            db.execute(  # one statement: two processes claiming at once leave one winner
                "INSERT INTO batch_keys (key, fingerprint, claimed_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET fingerprint = excluded.fingerprint, claimed_at = excluded.claimed_at WHERE claimed_at <= ?",
                (key, fingerprint, now, now - IDEMPOTENCY_SECONDS),
            )
            return str(db.execute("SELECT fingerprint FROM batch_keys WHERE key = ?", (key,)).fetchone()[0])

        return await self._run(claim)

    async def batch_key(self, key: str, *, now: float) -> str | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT fingerprint FROM batch_keys WHERE key = ? AND claimed_at > ?", (key, now - IDEMPOTENCY_SECONDS)
            ).fetchone()
        )
        return None if row is None else str(row[0])


def _opt_out(row: tuple[Any, ...]) -> OptOut:
    return OptOut(number=str(row[0]), since=float(row[1]), note=row[2])
