"""The state store in one SQLite file (WAL), safe for many coroutines and for several processes sharing it.

Every check-and-reserve runs inside `BEGIN IMMEDIATE`, which takes SQLite's write lock first: two
processes (or two threads) can never both read "there is room in the budget" and both reserve.

Writes, which may wait for another process's lock, run on a worker thread with the write connection; reads
are single indexed lookups that WAL lets run beside any writer, so they run where they are called, on a read
connection of their own. Only a reservation is synced to disk as it commits (it must survive a power cut
before its POST goes out); an outcome's commit is not, and a power cut that loses one leaves its attempt
pending, which reconciliation turns into unknown and looks up.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import anyio.to_thread

from smsai_mcp.state import sqlite_queries as queries
from smsai_mcp.state.private import private_dir, private_file
from smsai_mcp.state.sqlite_lists import SCHEMA as LISTS_SCHEMA
from smsai_mcp.state.sqlite_lists import SqliteLists
from smsai_mcp.state.sqlite_schema import SCHEMA, migrate, prune
from smsai_mcp.state.store import (
    Attempt,
    BeginRequest,
    BeginResult,
    Begun,
    StoreUnavailable,
    Velocity,
    without_text,
)

__all__ = ["LOCK_WAIT_SECONDS", "LedgerReplaced", "SqliteStore"]

logger = logging.getLogger(__name__)

# How long a call waits for a ledger that another process holds before it is refused: a person may be waiting.
LOCK_WAIT_SECONDS = 5.0
# Recording what became of a POST outranks a quick answer: the message may be out, its cost must be on the books.
_RECORD_WAIT_SECONDS = 30.0
# A read waits only for SQLite's rare exclusive moments (a WAL recovery), on the caller's own thread.
_READ_WAIT_SECONDS = 1.0
_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

T = TypeVar("T")
# FULL syncs the WAL at commit; NORMAL leaves it to the next synced commit or checkpoint.
Durability = Literal["FULL", "NORMAL"]


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
        # One write connection, used by one worker thread at a time; the lock orders this process's callers.
        self._db = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # money: a committed reservation survives power loss
        self._db.execute("PRAGMA secure_delete=ON")  # text scrubbed from old rows does not linger in free pages
        self._db.executescript(SCHEMA)
        self._db.executescript(LISTS_SCHEMA)
        migrate(self._db)
        self._reader = sqlite3.connect(path, timeout=_READ_WAIT_SECONDS, isolation_level=None, check_same_thread=False)
        self._reader.execute("PRAGMA query_only=ON")
        self._read_lock = threading.Lock()
        self._path = path
        self._file = _identity(path)
        self._prune()

    def _prune(self) -> None:
        with self._lock:
            try:
                prune(self._db, time.time())
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF not in _BUSY_CODES:
                    raise
                logger.info("the ledger is busy; old attempts will be pruned at a later start")

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A read of microseconds, run right here: a worker thread would cost more than the read."""
        with self._read_lock:
            try:
                return work(self._reader)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF in _BUSY_CODES:
                    raise StoreUnavailable("locked") from exc
                raise

    async def _run(
        self,
        work: Callable[[sqlite3.Connection], T],
        *,
        wait: float = LOCK_WAIT_SECONDS,
        durability: Durability = "NORMAL",
    ) -> T:
        deadline = time.monotonic() + wait

        def locked() -> T:
            # One deadline for both waits, this process's callers and another process's write lock.
            if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
                raise StoreUnavailable("locked")
            try:
                self._db.execute(f"PRAGMA busy_timeout = {int(max(deadline - time.monotonic(), 0) * 1000)}")
                self._db.execute(f"PRAGMA synchronous = {durability}")
                return work(self._db)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF in _BUSY_CODES:
                    raise StoreUnavailable("locked") from exc
                raise
            finally:
                self._lock.release()

        return await anyio.to_thread.run_sync(locked)

    async def _transaction(
        self,
        work: Callable[[sqlite3.Connection], T],
        *,
        wait: float = LOCK_WAIT_SECONDS,
        durability: Durability = "NORMAL",
    ) -> T:
        def atomically(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await self._run(atomically, wait=wait, durability=durability)

    async def begin(self, request: BeginRequest, *, now: float) -> BeginResult:
        [result] = await self.begin_many([request], now=now)
        return result

    async def begin_many(self, requests: Sequence[BeginRequest], *, now: float) -> list[BeginResult]:
        def check_and_reserve_all(db: sqlite3.Connection) -> list[BeginResult]:
            # A file removed under this process lives on for it alone: reserving there hides from every other one.
            if _identity(self._path) != self._file:
                raise LedgerReplaced(f"the ledger {self._path} was removed or replaced; restart to use the new one")
            db.execute("SAVEPOINT batch")
            results = [queries.check_and_reserve(db, request, now) for request in requests]
            if all(isinstance(result, Begun) for result in results):
                db.execute("RELEASE batch")
                return results
            db.execute("ROLLBACK TO batch")  # all or nothing: the ones that passed are taken back
            db.execute("RELEASE batch")
            return results

        # The reservation is synced as it commits: it must be on disk before the POST can go out.
        return await self._transaction(check_and_reserve_all, durability="FULL")

    async def find_earlier(
        self, *, fingerprint: str, idempotency_key: str | None, duplicate_window_seconds: int, now: float
    ) -> Attempt | None:
        window = duplicate_window_seconds
        return self._read(lambda db: queries.find_earlier(db, fingerprint, idempotency_key, window, now))

    async def find_unresolved(
        self, *, fingerprint: str, idempotency_key: str | None, stale_before: float
    ) -> Attempt | None:
        return self._read(lambda db: queries.find_unresolved(db, fingerprint, idempotency_key, stale_before))

    async def recent_to_recipient(self, recipient: str, *, now: float) -> int:
        return self._read(lambda db: queries.recent_to_recipient(db, recipient, now))

    async def velocity(self, recipient: str, *, now: float) -> Velocity:
        return self._read(lambda db: queries.velocity(db, recipient, now))

    async def message_claimed(self, message_id: int) -> bool:
        return self._read(lambda db: queries.message_claimed(db, message_id))

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
        return self._read(lambda db: queries.spent(db, day))

    async def spent_month_micro(self, month: str) -> int:
        return self._read(lambda db: queries.spent(db, month))

    async def unresolved(self) -> list[Attempt]:
        return self._read(
            lambda db: [
                queries.attempt_of(row)
                for row in db.execute(
                    f"{queries.SELECT_ATTEMPTS} WHERE status IN ('pending','unknown') ORDER BY created_at"
                )
            ]
        )

    async def claimed_message_ids(self) -> set[int]:
        return self._read(
            lambda db: {row[0] for row in db.execute("SELECT message_id FROM attempts WHERE message_id IS NOT NULL")}
        )

    async def shared_value(self, key: str, ttl_seconds: float, produce: Callable[[], Awaitable[str]]) -> str:
        return await produce()

    async def shared_generation(self, key: str) -> int:
        row = self._read(
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
            return self._read(lambda db: db.execute("SELECT 1").fetchone() is not None)
        except sqlite3.Error:
            return False

    async def close(self) -> None:
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._db.close()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino
