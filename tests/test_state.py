"""The two state stores keep the same promises: one test suite, run against SQLite and against Redis."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from smsai_mcp.state.sqlite import SqliteStore
from smsai_mcp.state.store import (
    Attempt,
    BeginRequest,
    Begun,
    BudgetExceeded,
    ConfirmationAlreadyUsed,
    DuplicateFound,
    IdempotentReplay,
    KeyReusedForAnotherMessage,
    RecipientLimitReached,
    StateStore,
    StillUnknown,
)

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"
NOW = 1_800_000_000.0
DAY = "2027-01-15"


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


StoreFactory = Callable[[], StateStore]


@pytest.fixture(params=["sqlite", "redis"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes stores that share one state (like processes sharing a directory, or replicas sharing Redis)."""
    opened: list[StateStore] = []
    if request.param == "sqlite":

        def make() -> StateStore:
            opened.append(SqliteStore(tmp_path / "state.db"))
            return opened[-1]

    else:
        if not redis_available():
            if os.environ.get("CI"):
                pytest.fail("CI must have Redis on 127.0.0.1:6379 (.ci/run starts it)")
            pytest.skip("no Redis on 127.0.0.1:6379")
        from smsai_mcp.state.redis import RedisStore

        prefix = f"smsai-test:{uuid.uuid4().hex}:"

        def make() -> StateStore:
            opened.append(RedisStore.from_url(REDIS_URL, prefix=prefix))
            return opened[-1]

    yield make
    if request.param == "redis":
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    for store in opened:
        await store.close()


def attempt(
    *,
    body: str = "hi",
    to: str = "+12025551234",
    key: str | None = None,
    confirmation: str | None = None,
    reserved: int = 10_000,
    at: float = NOW,
) -> Attempt:
    return Attempt(
        id=uuid.uuid4().hex,
        day=DAY,
        created_at=at,
        recipient=to,
        fingerprint=f"fp:{to}:{body}",
        body_sha256=f"sha:{body}",
        idempotency_key=key,
        confirmation_id=confirmation,
        owner="test:1",
        status="pending",
        reserved_micro=reserved,
    )


def begin_request(a: Attempt, *, budget: int = 10_000_000, per_hour: int = 100, window: int = 600) -> BeginRequest:
    return BeginRequest(
        attempt=a, daily_budget_micro=budget, max_per_recipient_per_hour=per_hour, duplicate_window_seconds=window
    )


async def test_reservation_counts_until_settled_to_the_charge(open_store: StoreFactory) -> None:
    store = open_store()
    a = attempt(reserved=20_000)
    assert isinstance(await store.begin(begin_request(a), now=NOW), Begun)
    assert await store.spent_micro(DAY) == 20_000
    await store.settle(a.id, charged_micro=10_000, message_id=7, message_json='{"id": 7}')
    assert await store.spent_micro(DAY) == 10_000
    assert await store.claimed_message_ids() == {7}
    assert await store.unresolved() == []


async def test_release_gives_the_reservation_back(open_store: StoreFactory) -> None:
    store = open_store()
    a = attempt()
    await store.begin(begin_request(a), now=NOW)
    await store.release(a.id)
    assert await store.spent_micro(DAY) == 0
    await store.release(a.id)  # twice is harmless
    assert await store.spent_micro(DAY) == 0


async def test_unknown_outcome_keeps_the_reservation_and_stays_open(open_store: StoreFactory) -> None:
    store = open_store()
    a = attempt()
    await store.begin(begin_request(a), now=NOW)
    await store.mark_unknown(a.id)
    assert await store.spent_micro(DAY) == a.reserved_micro
    [open_attempt] = await store.unresolved()
    assert (open_attempt.id, open_attempt.status) == (a.id, "unknown")


async def test_an_unknown_attempt_stops_the_same_message_and_key_whatever_the_window(open_store: StoreFactory) -> None:
    store = open_store()
    first = attempt(key="k1")
    await store.begin(begin_request(first), now=NOW)
    await store.mark_unknown(first.id)
    a_day_later = NOW + 2 * 86_400 - 60  # past the window and the key's 24 hours, still within the store's keep
    for retry in (attempt(), attempt(key="k2"), attempt(key="k1", body="other")):
        result = await store.begin(begin_request(retry, window=0), now=a_day_later)
        assert isinstance(result, StillUnknown), retry
        assert result.earlier.id == first.id
    found = await store.find_unresolved(fingerprint=first.fingerprint, idempotency_key=None, stale_before=NOW)
    assert found is not None
    assert found.id == first.id
    by_key = await store.find_unresolved(fingerprint="fp:another", idempotency_key="k1", stale_before=NOW)
    assert by_key is not None
    assert by_key.id == first.id
    assert await store.spent_micro(DAY) == first.reserved_micro
    await store.release(first.id)
    assert isinstance(await store.begin(begin_request(attempt(), window=0), now=a_day_later), Begun)


async def test_a_pending_attempt_too_old_to_be_in_flight_counts_as_unknown(open_store: StoreFactory) -> None:
    store = open_store()
    first = attempt()
    await store.begin(begin_request(first), now=NOW)
    in_flight = await store.begin(begin_request(attempt(at=NOW + 10), window=0), now=NOW + 10)
    assert isinstance(in_flight, Begun)  # still in flight, and the window is 0: not a duplicate
    stale = BeginRequest(
        attempt=attempt(),
        daily_budget_micro=10**9,
        max_per_recipient_per_hour=100,
        duplicate_window_seconds=0,
        pending_stale_seconds=60,
    )
    result = await store.begin(stale, now=NOW + 61)
    assert isinstance(result, StillUnknown)
    assert result.earlier.id == first.id
    assert (
        await store.find_unresolved(fingerprint=first.fingerprint, idempotency_key=None, stale_before=NOW - 1) is None
    )


async def test_settling_twice_does_not_count_twice(open_store: StoreFactory) -> None:
    store = open_store()
    a = attempt()
    await store.begin(begin_request(a), now=NOW)
    await store.settle(a.id, charged_micro=10_000, message_id=1, message_json="{}")
    await store.settle(a.id, charged_micro=10_000, message_id=1, message_json="{}")
    await store.release(a.id)
    assert await store.spent_micro(DAY) == 10_000


async def test_identical_message_inside_the_window_is_a_duplicate(open_store: StoreFactory) -> None:
    store = open_store()
    first = attempt()
    await store.begin(begin_request(first), now=NOW)
    result = await store.begin(begin_request(attempt()), now=NOW + 10)
    assert isinstance(result, DuplicateFound)
    assert result.earlier.id == first.id
    await store.settle(first.id, charged_micro=10_000, message_id=1, message_json="{}")
    assert isinstance(await store.begin(begin_request(attempt(at=NOW + 601)), now=NOW + 601), Begun)


async def test_released_attempt_is_not_a_duplicate(open_store: StoreFactory) -> None:
    store = open_store()
    first = attempt()
    await store.begin(begin_request(first), now=NOW)
    await store.release(first.id)
    assert isinstance(await store.begin(begin_request(attempt()), now=NOW + 1), Begun)


async def test_idempotency_key_returns_the_first_attempt_for_a_day(open_store: StoreFactory) -> None:
    store = open_store()
    first = attempt(key="k1")
    await store.begin(begin_request(first), now=NOW)
    replay = await store.begin(begin_request(attempt(key="k1"), window=0), now=NOW + 86_000)
    assert isinstance(replay, IdempotentReplay)
    assert replay.earlier.id == first.id
    other = await store.begin(begin_request(attempt(key="k1", body="other")), now=NOW + 5)
    assert isinstance(other, KeyReusedForAnotherMessage)
    assert isinstance(await store.begin(begin_request(attempt(key="k2")), now=NOW + 5), Begun)
    found = await store.find_earlier(
        fingerprint=first.fingerprint, idempotency_key="k1", duplicate_window_seconds=0, now=NOW + 1
    )
    assert found is not None
    assert found.id == first.id


async def test_a_confirmation_counts_once(open_store: StoreFactory) -> None:
    store = open_store()
    await store.begin(begin_request(attempt(confirmation="c1", body="a")), now=NOW)
    again = await store.begin(begin_request(attempt(confirmation="c1", body="b")), now=NOW)
    assert isinstance(again, ConfirmationAlreadyUsed)


async def test_a_confirmation_refused_before_processing_counts_again(open_store: StoreFactory) -> None:
    store, other = open_store(), open_store()
    refused = attempt(confirmation="c1")
    await store.begin(begin_request(refused), now=NOW)
    await store.release_refused(refused.id)
    assert await store.spent_micro(DAY) == 0
    assert isinstance(await other.begin(begin_request(attempt(confirmation="c1")), now=NOW + 1), Begun)
    # Used again by an attempt that may go out: used up from now on.
    again = await store.begin(begin_request(attempt(confirmation="c1"), window=0), now=NOW + 2)
    assert isinstance(again, ConfirmationAlreadyUsed)


@pytest.mark.parametrize("outcome", ["sent", "unknown", "released-after-a-lookup"])
async def test_a_confirmation_whose_post_may_have_gone_out_stays_used(open_store: StoreFactory, outcome: str) -> None:
    store = open_store()
    first = attempt(confirmation="c1")
    await store.begin(begin_request(first), now=NOW)
    if outcome == "sent":
        await store.settle(first.id, charged_micro=10_000, message_id=1, message_json="{}")
    elif outcome == "unknown":
        await store.mark_unknown(first.id)
    else:
        await store.mark_unknown(first.id)
        await store.release(first.id)
    # An unknown message is refused as such before its confirmation is looked at; either way nothing goes out.
    held = (ConfirmationAlreadyUsed, StillUnknown) if outcome == "unknown" else (ConfirmationAlreadyUsed,)
    again = await store.begin(begin_request(attempt(confirmation="c1"), window=0), now=NOW + 1)
    assert isinstance(again, held)
    await store.release_refused(first.id)  # too late: the attempt is no longer pending
    again = await store.begin(begin_request(attempt(confirmation="c1"), window=0), now=NOW + 2)
    assert isinstance(again, held)


def files_in(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file())


async def raw_contents(store: StateStore, state_dir: Path) -> bytes:
    """Everything the store holds, read around it: the SQLite files, or every Redis key under its prefix."""
    if isinstance(store, SqliteStore):
        return files_in(state_dir)
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    chunks: list[bytes] = []
    try:
        async for key in client.scan_iter(match=f"{store._prefix}*"):  # type: ignore[attr-defined]
            kind: bytes = await client.type(key)  # type: ignore[assignment]  # this client does not decode replies
            read_by_kind: dict[str, Callable[[bytes], Awaitable[object]]] = {
                "string": client.get,
                "hash": client.hgetall,
                "set": client.smembers,
                "zset": lambda k: client.zrange(k, 0, -1),
            }
            value = await read_by_kind[kind.decode()](key)
            chunks.append(key + repr(value).encode())
    finally:
        await client.aclose()
    return b"".join(chunks)


async def test_the_store_keeps_no_message_text(open_store: StoreFactory, tmp_path: Path) -> None:
    store = open_store()
    a = attempt()  # the test's fingerprints spell the body out; the record alone carries the text here
    await store.begin(begin_request(a), now=NOW)
    record = {"id": 7, "to": "+12025551234", "status": "sent", "price_usd": 0.01, "body": "The vault code is 918273"}
    await store.settle(a.id, charged_micro=10_000, message_id=7, message_json=json.dumps(record))
    kept = await store.find_earlier(
        fingerprint=a.fingerprint, idempotency_key=None, duplicate_window_seconds=600, now=NOW
    )
    assert kept is not None
    assert kept.message_json is not None
    assert json.loads(kept.message_json) == {key: value for key, value in record.items() if key != "body"}
    assert b"918273" not in await raw_contents(store, tmp_path)


async def test_hourly_limit_per_recipient(open_store: StoreFactory) -> None:
    store = open_store()
    for n in range(2):
        assert isinstance(await store.begin(begin_request(attempt(body=str(n)), per_hour=2), now=NOW + n), Begun)
    limited = await store.begin(begin_request(attempt(body="third"), per_hour=2), now=NOW + 3)
    assert isinstance(limited, RecipientLimitReached)
    assert await store.recent_to_recipient("+12025551234", now=NOW + 3) == 2
    assert isinstance(await store.begin(begin_request(attempt(body="later"), per_hour=2), now=NOW + 3601), Begun)


async def test_budget_is_never_overshot(open_store: StoreFactory) -> None:
    store = open_store()
    await store.begin(begin_request(attempt(body="a", reserved=60_000), budget=100_000), now=NOW)
    over = await store.begin(begin_request(attempt(body="b", reserved=50_000), budget=100_000), now=NOW)
    assert isinstance(over, BudgetExceeded)
    assert over.spent_micro == 60_000


async def test_fifty_concurrent_reservations_against_a_budget_for_ten(open_store: StoreFactory) -> None:
    stores = [open_store() for _ in range(5)]  # five connections, like five processes or replicas
    results: list[object] = []

    async def reserve(n: int) -> None:
        store = stores[n % len(stores)]
        results.append(await store.begin(begin_request(attempt(body=f"m{n}"), budget=100_000), now=NOW))

    async with anyio.create_task_group() as group:
        for n in range(50):
            group.start_soon(reserve, n)
    assert sum(isinstance(r, Begun) for r in results) == 10
    assert sum(isinstance(r, BudgetExceeded) for r in results) == 40
    assert await stores[0].spent_micro(DAY) == 100_000


async def test_shared_value_is_fetched_once_for_every_replica_of_redis(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    produced: list[int] = []

    async def produce() -> str:
        produced.append(1)
        return '[{"country_code": "US"}]'

    assert await first.shared_value("countries", 60, produce) == '[{"country_code": "US"}]'
    assert await second.shared_value("countries", 60, produce) == '[{"country_code": "US"}]'
    expected = 1 if type(first).__name__ == "RedisStore" else 2  # SQLite's processes each keep their own copy
    assert len(produced) == expected


async def test_forgetting_a_shared_value_reaches_every_process_sharing_the_store(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    produced: list[str] = []

    async def produce() -> str:
        produced.append(f"copy {len(produced) + 1}")
        return produced[-1]

    assert await first.shared_generation("price-list") == 0
    assert await first.shared_value("price-list", 60, produce) == "copy 1"
    await second.forget_shared("price-list")
    await second.forget_shared("price-list")
    assert [await store.shared_generation("price-list") for store in (first, second)] == [2, 2]
    assert await first.shared_value("price-list", 60, produce) == "copy 2"  # dropped from Redis as well
    assert await first.shared_generation("countries") == 0  # one generation per value


_KILLED_SERVER = """
import os, sys, anyio
from pathlib import Path
from smsai_mcp.state.sqlite import SqliteStore
anyio.run(SqliteStore(Path(sys.argv[1])).ping)
os._exit(0)  # as SIGKILL would: its -wal and -shm stay behind
"""
_RESTARTED_SERVER = """
import sys, anyio
from pathlib import Path
from smsai_mcp.state.sqlite import SqliteStore
async def main() -> None:
    store = SqliteStore(Path(sys.argv[1]))
    for _ in range(int(sys.argv[2])):
        await store.forget_shared("price-list")  # a write, as reconciling is
    await store.close()
anyio.run(main)
"""
WRITES = 300


@pytest.mark.slow  # kills and starts processes: over a second of CPU
def test_a_ledger_reopened_after_a_kill_keeps_its_wal_while_other_processes_read_it(tmp_path: Path) -> None:
    """A restart opens the -wal and -shm a killed server left. Its store must keep SQLite's claim on them (a lock
    that closing any other descriptor of the file drops): else each process that then reads the ledger (`attempts
    list`, a replica) finds the WAL unclaimed and resets its index under the store, whose process then dies (SIGBUS)
    or stalls: a reconciliation marking the killed server's sends unknown never finished."""
    path = tmp_path / "state.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", _KILLED_SERVER, str(path)], env=env, check=True, timeout=60)
    assert path.with_name("state.db-wal").exists()
    assert path.with_name("state.db-shm").exists()

    def generation() -> int:
        db = sqlite3.connect(path)  # a connection of its own each time, as another process opens the ledger
        try:
            row = db.execute("SELECT generation FROM shared_generations WHERE key = 'price-list'").fetchone()
            return int(row[0]) if row is not None else 0
        finally:
            db.close()

    with subprocess.Popen([sys.executable, "-c", _RESTARTED_SERVER, str(path), str(WRITES)], env=env) as server:
        deadline = time.monotonic() + 60
        while server.poll() is None and time.monotonic() < deadline:
            generation()
        server.kill()  # one that stalled; nothing once it has ended
    assert server.returncode == 0, f"the restarted server ended with {server.returncode} (-7: SIGBUS)"
    assert generation() == WRITES
