"""The ledger's cost and durability: a send's checks read as much at 100,000 rows of the day as on an empty
ledger; a send makes at most two durable syncs; a power cut that loses an outcome is reconciled, the POST
counted once; a ledger an older version made gets its running totals when opened."""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.state.sqlite import SqliteStore
from smsai_mcp.state.store import Attempt, BeginRequest, Begun, Velocity
from tests.conftest import posts
from tests.guard_helpers import balance, connect, ledger, send, sent, structured, until

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
DAY = "2027-01-15"


def an_attempt(n: int, *, at: float = NOW, status: str = "pending") -> Attempt:
    return Attempt(
        id=uuid.uuid4().hex,
        day=DAY,
        created_at=at,
        recipient=f"+1202{n * 100:07d}",  # each in a block of its own
        fingerprint=f"fp{n}",
        body_sha256=f"sha{n}",
        idempotency_key=f"key{n}",
        confirmation_id=None,
        owner="test:1",
        status=status,  # type: ignore[arg-type]
        reserved_micro=10_000,
    )


OLD_SCHEMA = """
CREATE TABLE attempts (
    id TEXT PRIMARY KEY, day TEXT NOT NULL, created_at REAL NOT NULL, recipient TEXT NOT NULL,
    fingerprint TEXT NOT NULL, body_sha256 TEXT NOT NULL, idempotency_key TEXT, confirmation_id TEXT UNIQUE,
    owner TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'unknown', 'released')),
    reserved_micro INTEGER NOT NULL, charged_micro INTEGER, message_id INTEGER, message_json TEXT
);
CREATE INDEX attempts_by_day ON attempts (day);
CREATE TABLE shared_generations (key TEXT PRIMARY KEY, generation INTEGER NOT NULL);
"""


def fill(path: Path, rows: int) -> None:
    """A ledger as an older version left it: `rows` sent attempts earlier in the day, each to its own number and
    under its own key (inserted without the running totals' triggers, which the store adds as it opens)."""
    path.parent.mkdir()
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(OLD_SCHEMA)
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'test:1', 'sent', 10000, 9000, ?, '{}')",
        [
            (f"old{n}", DAY, NOW - 7200 - n * 0.01, f"+1303{n:07d}", f"old-fp{n}", "sha", f"old-key{n}", n + 1)
            for n in range(rows)
        ],
    )
    db.execute("COMMIT")
    db.close()


class Steps:
    """Counts the SQLite virtual machine's steps on a store's connections: rows read show up as steps."""

    def __init__(self, store: SqliteStore) -> None:
        self.count = 0
        for connection in (store._db, store._reader):
            connection.set_progress_handler(self._step, 1)

    def _step(self) -> int:
        self.count += 1
        return 0


async def steps_of_one_send(store: SqliteStore, n: int) -> int:
    """What a send asks of the ledger before its POST: every pre-check read, then the reservation."""
    steps = Steps(store)
    a = an_attempt(n)
    await store.find_earlier(
        fingerprint=a.fingerprint, idempotency_key=a.idempotency_key, duplicate_window_seconds=600, now=NOW
    )
    await store.find_unresolved(fingerprint=a.fingerprint, idempotency_key=a.idempotency_key, stale_before=NOW - 150)
    await store.recent_to_recipient(a.recipient, now=NOW)
    assert await store.velocity(a.recipient, now=NOW) == Velocity(False, n, 0)
    await store.spent_micro(DAY)
    await store.spent_month_micro(DAY[:7])
    request = BeginRequest(
        attempt=a,
        daily_budget_micro=10**12,
        max_per_recipient_per_hour=10,
        duplicate_window_seconds=600,
        monthly_budget_micro=10**12,
        max_recipients_per_hour=1000,
        max_per_number_block_per_hour=1000,
    )
    assert isinstance(await store.begin(request, now=NOW), Begun)
    await store.message_claimed(n + 10**9)
    return steps.count


@pytest.mark.slow  # writes 100,000 rows
async def test_a_send_reads_as_much_of_a_ledger_of_100000_rows_of_the_day_as_of_an_empty_one(tmp_path: Path) -> None:
    """A send summed every row of the day, twice: 10,000 rows made it 2.2x slower, 100,000 rows 10.6x."""
    empty = SqliteStore(tmp_path / "empty" / "state.db")
    fill(tmp_path / "full" / "state.db", 100_000)
    full = SqliteStore(tmp_path / "full" / "state.db")  # computes its running totals once, as it opens
    try:
        assert await full.spent_micro(DAY) == 100_000 * 9000  # the running total, kept by the inserts themselves
        for n in range(3):  # a few sends, each to a new number: the hour's numbers grow alike in both
            on_empty, on_full = await steps_of_one_send(empty, n), await steps_of_one_send(full, n)
            assert on_full <= on_empty * 1.05, (n, on_empty, on_full)
    finally:
        await empty.close()
        await full.close()


class SyncCounter:
    """Durable syncs: fsyncs of the audit log (os.fsync), and SQLite commits made with synchronous=FULL (each
    syncs the WAL), seen through each connection's statement trace."""

    def __init__(self) -> None:
        self.fsyncs = 0
        self.synced_commits = 0
        self._full: dict[int, bool] = {}
        self._in_transaction: dict[int, bool] = {}

    def trace(self, connection_id: int) -> Callable[[str], None]:
        self._full[connection_id], self._in_transaction[connection_id] = True, False

        def statement(sql: str) -> None:
            words = sql.strip().upper()
            if words.startswith("PRAGMA SYNCHRONOUS"):
                self._full[connection_id] = words.replace(" ", "").endswith(("=FULL", "=2", "=EXTRA", "=3"))
            elif words.startswith("BEGIN"):
                self._in_transaction[connection_id] = True
            elif words.startswith(("COMMIT", "END")):
                self._in_transaction[connection_id] = False
                self.synced_commits += self._full[connection_id]
            elif words.startswith("ROLLBACK"):
                self._in_transaction[connection_id] = False
            elif words.startswith(("INSERT", "UPDATE", "DELETE")) and not self._in_transaction[connection_id]:
                self.synced_commits += self._full[connection_id]  # a statement that commits by itself

        return statement

    @property
    def total(self) -> int:
        return self.fsyncs + self.synced_commits


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> SyncCounter:
    counter = SyncCounter()
    real_fsync, real_connect = os.fsync, sqlite3.connect

    def fsync(descriptor: int) -> None:
        counter.fsyncs += 1
        real_fsync(descriptor)

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = real_connect(*args, **kwargs)
        connection.set_trace_callback(counter.trace(id(connection)))
        return connection

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(sqlite3, "connect", connect)
    return counter


async def test_a_send_makes_at_most_two_durable_syncs(settings: Settings, sandbox: Sandbox, syncs: SyncCounter) -> None:
    """A send made four: two WAL commits and two audit-log fsyncs."""
    sends = 5
    async with connect(settings, "legacy") as client:
        await balance(client)  # the ledger made and pruned before counting
        syncs.fsyncs = syncs.synced_commits = 0
        for n in range(sends):
            sent(await send(client, body=f"Counted syncs {n}"))
        counted = (syncs.fsyncs, syncs.synced_commits)
    assert counted == (sends, sends)  # the reservation's commit, and the outcome's audit line
    assert syncs.total <= 2 * sends
    assert posts(sandbox) == sends


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


async def test_a_power_cut_that_loses_the_outcome_leaves_it_pending_then_reconciled_with_one_post(
    settings: Settings, sandbox: Sandbox
) -> None:
    """The outcome's commit is not synced: a power cut right after it may lose it. The attempt is then pending,
    as if its process had died mid-POST: the restarted server looks it up, finds it, and settles it."""
    assert settings.state_dir is not None
    clock = Clock()
    async with connect(settings, "legacy", clock=clock) as client:
        message = sent(await send(client, body="Lost on the way to the disk"))["message"]
    path = settings.state_dir / "state.db"
    db = sqlite3.connect(path, isolation_level=None)  # the settle undone, as the power cut left the file
    db.execute("UPDATE attempts SET status = 'pending', charged_micro = NULL, message_id = NULL, message_json = NULL")
    db.close()
    [attempt] = ledger(settings.state_dir)
    assert attempt["status"] == "pending"
    clock.offset = 200  # later than any send could still be in flight, inside the duplicate window
    async with connect(settings, "legacy", clock=clock) as client:
        state_dir = settings.state_dir
        await until(lambda: ledger(state_dir)[0]["status"] == "sent")
        assert ledger(state_dir)[0]["message_id"] == message["id"]
        again = await send(client, body="Lost on the way to the disk")
        shown = await balance(client)
    assert structured(again)["status"] == "duplicate"
    assert shown["spent_today_usd"] == 0.01
    assert posts(sandbox) == 1


async def test_a_ledger_made_before_running_totals_gets_them_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    now = time.time()
    today = time.strftime("%Y-%m-%d", time.gmtime(now))
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(OLD_SCHEMA)
    rows = [  # (status, reserved, charged, minutes ago)
        ("sent", 10_000, 8_000, 90),
        ("released", 10_000, None, 30),
        ("unknown", 20_000, None, 20),
        ("pending", 5_000, None, 10),
    ]
    for n, (status, reserved, charged, minutes) in enumerate(rows):
        db.execute(
            "INSERT INTO attempts VALUES (?, ?, ?, ?, 'fp', 'sha', NULL, NULL, 'old:1', ?, ?, ?, NULL, ?)",
            (f"a{n}", today, now - minutes * 60, f"+1202555010{n}", status, reserved, charged, '{"id":1,"body":"hi"}'),
        )
    db.close()
    store = SqliteStore(path)
    try:
        assert await store.spent_micro(today) == 8_000 + 20_000 + 5_000
        assert await store.spent_month_micro(today[:7]) == 33_000
        # Numbers texted in the last hour: the unknown and the pending attempts' (not the released one's).
        assert await store.velocity("+12025550102", now=now) == Velocity(True, 2, 2)
        assert await store.velocity("+12025550101", now=now) == Velocity(False, 2, 2)
    finally:
        await store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] >= 2
    assert all("body" not in row[0] for row in check.execute("SELECT message_json FROM attempts"))
    check.close()
