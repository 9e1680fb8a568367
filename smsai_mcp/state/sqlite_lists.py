"""The lists a person keeps in the SQLite store: the do-not-text list and the pause (one row, or none).

A mixin of `SqliteStore`: it writes through the store's own `_run`, so they wait for the same lock; the two reads made
before every send (the pause, the number's opt-out) use its reader, as the ledger's reads do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from smsai_mcp.state.store import OptOut, Pause

__all__ = ["SCHEMA", "SqliteLists"]

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS opt_outs (number TEXT PRIMARY KEY, since REAL NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS opt_outs_by_since ON opt_outs (since, number);
CREATE TABLE IF NOT EXISTS pause (only INTEGER PRIMARY KEY CHECK (only = 1), reason TEXT, since REAL NOT NULL);
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


def _opt_out(row: tuple[Any, ...]) -> OptOut:
    return OptOut(number=str(row[0]), since=float(row[1]), note=row[2])
