"""The state store in one SQLite file (WAL), safe for many coroutines and for several processes sharing it.

Every check-and-reserve runs inside `BEGIN IMMEDIATE`, which takes SQLite's write lock first: two
processes (or two threads) can never both read "there is room in the budget" and both reserve.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import astuple
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

from smsai_mcp.state import sqlite_queries as queries
from smsai_mcp.state.private import private_dir, private_file
from smsai_mcp.state.sqlite_lists import SCHEMA as LISTS_SCHEMA
from smsai_mcp.state.sqlite_lists import SqliteLists
from smsai_mcp.state.store import (
    DAY_SECONDS,
    IDEMPOTENCY_SECONDS,
    Attempt,
    BeginRequest,
    BeginResult,
    Begun,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    RecipientLimitReached,
    StillUnknown,
    StoreUnavailable,
    begin_in_turn,
    repeated,
    without_text,
)

__all__ = ["LOCK_WAIT_SECONDS", "LedgerReplaced", "SqliteStore"]

logger = logging.getLogger(__name__)

# How long a call waits for a ledger that another process holds before it is refused: a person may be waiting.
LOCK_WAIT_SECONDS = 5.0
# Recording what became of a POST outranks a quick answer: the message may be out, its cost must be on the books.
_RECORD_WAIT_SECONDS = 30.0
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

T = TypeVar("T")


class LedgerReplaced(Exception):
    """The ledger file this process opened is no longer the one at its path (removed, or made anew)."""


class SqliteStore(SqliteLists):  # the opt-outs and the pause: sqlite_lists.py
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        # Before connecting: closing any other descriptor of these files drops every lock this process holds on
        # them, the -shm one too that tells other processes the WAL is in use (one that then finds it free resets
        # the index and deletes the WAL under this connection, whose writes are lost or whose calls stall).
        private_file(path)  # SQLite gives its -wal and -shm files the database file's mode
        for suffix in ("-wal", "-shm"):  # left by an older version with looser modes
            private_file(path.with_name(path.name + suffix), create=False)
        # One connection, used by one worker thread at a time; the lock orders this process's callers.
        self._db = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # money: a committed reservation survives power loss
        self._db.execute("PRAGMA secure_delete=ON")  # text scrubbed from old rows does not linger in free pages
        self._db.executescript(queries.SCHEMA)
        self._db.executescript(LISTS_SCHEMA)
        self._path = path
        self._file = _identity(path)
        self._prune()

    def _prune(self) -> None:
        # Rows older than the idempotency horizon (and a day's margin) no longer decide anything.
        with self._lock:
            try:
                self._db.execute(
                    "DELETE FROM attempts "
                    "WHERE created_at < strftime('%s','now') - ? AND status IN ('sent','released')",
                    (IDEMPOTENCY_SECONDS + DAY_SECONDS,),
                )
                self._db.execute(queries.SCRUB_TEXT)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF not in _BUSY_CODES:
                    raise
                logger.info("the ledger is busy; old attempts will be pruned at a later start")

    async def _run(self, work: Callable[[sqlite3.Connection], T], *, wait: float = LOCK_WAIT_SECONDS) -> T:
        deadline = time.monotonic() + wait

        def locked() -> T:
            # One deadline for both waits, this process's callers and another process's write lock.
            if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
                raise StoreUnavailable("locked")
            try:
                self._db.execute(f"PRAGMA busy_timeout = {int(max(deadline - time.monotonic(), 0) * 1000)}")
                return work(self._db)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF in _BUSY_CODES:
                    raise StoreUnavailable("locked") from exc
                raise
            finally:
                self._lock.release()

        return await anyio.to_thread.run_sync(locked)

    async def _transaction(self, work: Callable[[sqlite3.Connection], T], *, wait: float = LOCK_WAIT_SECONDS) -> T:
        def atomically(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self._run(atomically, wait=wait)

    async def begin(self, request: BeginRequest, *, now: float) -> BeginResult:
        attempt = request.attempt

        def check_and_reserve(db: sqlite3.Connection) -> BeginResult:
            # A file removed under this process lives on for it alone: reserving there hides from every other one.
            if _identity(self._path) != self._file:
                raise LedgerReplaced(f"the ledger {self._path} was removed or replaced; restart to use the new one")
            key = attempt.idempotency_key
            if key is not None and (earlier := queries.find_earlier(db, attempt.fingerprint, key, 0, now)) is not None:
                return repeated(attempt, earlier)
            stale_before = now - request.pending_stale_seconds
            if (unresolved := queries.find_unresolved(db, attempt.fingerprint, key, stale_before)) is not None:
                return StillUnknown(unresolved)
            window = request.duplicate_window_seconds
            if key is None:
                earlier = queries.find_earlier(db, attempt.fingerprint, None, window, now)
                if earlier is not None:
                    return repeated(attempt, earlier)
            if attempt.confirmation_id is not None:
                used = db.execute("SELECT 1 FROM attempts WHERE confirmation_id = ?", (attempt.confirmation_id,))
                if used.fetchone() is not None:
                    return ConfirmationAlreadyUsed()
            recent = queries.recent_to_recipient(db, attempt.recipient, now)
            if recent >= request.max_per_recipient_per_hour:
                return RecipientLimitReached(recent)
            spent = queries.spent(db, attempt.day)
            if spent + attempt.reserved_micro > request.daily_budget_micro:
                return BudgetExceeded(spent)
            placeholders = ", ".join("?" for _ in queries.COLUMNS)
            db.execute(f"INSERT INTO attempts ({', '.join(queries.COLUMNS)}) VALUES ({placeholders})", astuple(attempt))
            return Begun(attempt)

        return await self._transaction(check_and_reserve)

    async def begin_many(self, requests: Sequence[BeginRequest], *, now: float) -> list[BeginResult]:
        return await begin_in_turn(self, requests, now=now)  # STAND-IN until the ledger lane's atomic one lands

    async def find_earlier(
        self, *, fingerprint: str, idempotency_key: str | None, duplicate_window_seconds: int, now: float
    ) -> Attempt | None:
        return await self._run(
            lambda db: queries.find_earlier(db, fingerprint, idempotency_key, duplicate_window_seconds, now)
        )

    async def find_unresolved(
        self, *, fingerprint: str, idempotency_key: str | None, stale_before: float
    ) -> Attempt | None:
        return await self._run(lambda db: queries.find_unresolved(db, fingerprint, idempotency_key, stale_before))

    async def recent_to_recipient(self, recipient: str, *, now: float) -> int:
        return await self._run(lambda db: queries.recent_to_recipient(db, recipient, now))

    async def settle(self, attempt_id: str, *, charged_micro: int, message_id: int, message_json: str) -> bool:
        # One transaction: a message claimed by another process between its check and this write stays one send's.
        settled = await self._transaction(
            lambda db: (
                db.execute(
                    "UPDATE attempts SET status='sent', charged_micro=?, message_id=?, message_json=? "
                    "WHERE id=? AND status IN ('pending', 'unknown') "
                    "AND NOT EXISTS (SELECT 1 FROM attempts WHERE message_id = ?)",
                    (charged_micro, message_id, without_text(message_json), attempt_id, message_id),
                ).rowcount
            ),
            wait=_RECORD_WAIT_SECONDS,
        )
        return settled == 1

    async def release(self, attempt_id: str) -> bool:
        released = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE attempts SET status='released' WHERE id=? AND status IN ('pending', 'unknown')",
                    (attempt_id,),
                ).rowcount
            ),
            wait=_RECORD_WAIT_SECONDS,
        )
        return released == 1

    async def release_refused(self, attempt_id: str) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE attempts SET status='released', confirmation_id=NULL WHERE id=? AND status='pending'",
                (attempt_id,),
            ),
            wait=_RECORD_WAIT_SECONDS,
        )

    async def mark_unknown(self, attempt_id: str) -> bool:
        marked = await self._run(
            lambda db: (
                db.execute(
                    "UPDATE attempts SET status='unknown' WHERE id=? AND status='pending'", (attempt_id,)
                ).rowcount
            ),
            wait=_RECORD_WAIT_SECONDS,
        )
        return marked == 1

    async def spent_micro(self, day: str) -> int:
        return await self._run(lambda db: queries.spent(db, day))

    async def unresolved(self) -> list[Attempt]:
        return await self._run(
            lambda db: [
                queries.attempt_of(row)
                for row in db.execute(
                    f"{queries.SELECT_ATTEMPTS} WHERE status IN ('pending','unknown') ORDER BY created_at"
                )
            ]
        )

    async def claimed_message_ids(self) -> set[int]:
        return await self._run(
            lambda db: {row[0] for row in db.execute("SELECT message_id FROM attempts WHERE message_id IS NOT NULL")}
        )

    async def sent_message(self, message_id: int) -> bool:
        query = "SELECT 1 FROM attempts WHERE message_id = ? LIMIT 1"
        return await self._run(lambda db: db.execute(query, (message_id,)).fetchone() is not None)

    async def shared_value(self, key: str, ttl_seconds: float, produce: Callable[[], Awaitable[str]]) -> str:
        return await produce()

    async def shared_generation(self, key: str) -> int:
        row = await self._run(
            lambda db: db.execute("SELECT generation FROM shared_generations WHERE key = ?", (key,)).fetchone()
        )
        return int(row[0]) if row is not None else 0

    async def forget_shared(self, key: str) -> None:
        # Nothing is stored to drop; the other processes on this file see the new generation and fetch afresh.
        await self._run(
            lambda db: db.execute(
                "INSERT INTO shared_generations (key, generation) VALUES (?, 1) "
                "ON CONFLICT (key) DO UPDATE SET generation = generation + 1",
                (key,),
            )
        )

    async def ping(self) -> bool:
        try:
            return await self._run(lambda db: db.execute("SELECT 1").fetchone() is not None)
        except sqlite3.Error:
            return False

    async def close(self) -> None:
        with self._lock:
            self._db.close()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino
