"""The two state stores keep the same promises: one test suite, run against SQLite and against Redis."""

from __future__ import annotations

import dataclasses
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
    MonthlyBudgetExceeded,
    NumberBlockReached,
    Pause,
    RecipientLimitReached,
    RecipientsPerHourReached,
    Standing,
    StateStore,
    StillUnknown,
    Velocity,
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


async def test_begin_many_begins_every_attempt_or_none_and_frees_their_confirmations(
    open_store: StoreFactory,
) -> None:
    """A batch reserves all of its recipients at once: one that does not fit leaves none begun."""
    store = open_store()
    fits = [attempt(to=f"+1202555120{i}", confirmation=f"c:{i}", reserved=30_000) for i in range(3)]
    results = await store.begin_many([begin_request(a, budget=80_000) for a in fits], now=NOW)
    assert len(results) == 3
    assert not all(isinstance(result, Begun) for result in results)
    assert isinstance(results[-1], BudgetExceeded)
    assert await store.spent_micro(DAY) == 0
    assert await store.unresolved() == []
    again = [attempt(to=a.recipient, confirmation=a.confirmation_id, reserved=20_000) for a in fits]
    results = await store.begin_many([begin_request(a, budget=80_000) for a in again], now=NOW)
    assert all(isinstance(result, Begun) for result in results)  # the same confirmations count again
    assert await store.spent_micro(DAY) == 60_000


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


async def test_a_ledger_knows_only_the_messages_it_sent(open_store: StoreFactory) -> None:
    """Tenants sharing one upstream account read only their own messages: the ledger says which are theirs."""
    store, other = open_store(), open_store()
    settled, released = attempt(body="settled"), attempt(body="released")
    for a in (settled, released):
        assert isinstance(await store.begin(begin_request(a), now=NOW), Begun)
    await store.settle(settled.id, charged_micro=10_000, message_id=41, message_json='{"id": 41}')
    await store.release(released.id)
    assert await store.message_claimed(41)
    assert await other.message_claimed(41)  # another process on the same ledger agrees
    assert not await store.message_claimed(42)


# Running totals, the monthly budget, velocity and batches (issue 12 items 1-3, issue 13 items 3-4)

MONTH = DAY[:7]


def limits(
    a: Attempt,
    *,
    budget: int = 10_000_000,
    monthly: int | None = None,
    recipients: int = 1000,
    block: int = 1000,
) -> BeginRequest:
    return BeginRequest(
        attempt=a,
        daily_budget_micro=budget,
        max_per_recipient_per_hour=100,
        duplicate_window_seconds=600,
        monthly_budget_micro=monthly,
        max_recipients_per_hour=recipients,
        max_per_number_block_per_hour=block,
    )


def on_day(a: Attempt, day: str) -> Attempt:
    return dataclasses.replace(a, day=day)


async def test_running_totals_follow_every_change_by_day_and_month(open_store: StoreFactory) -> None:
    store = open_store()
    other_day = f"{MONTH}-16"
    settled, released, unknown, refused = (attempt(body=f"m{n}", reserved=10_000) for n in range(4))
    yesterday = on_day(attempt(body="y", reserved=5_000), other_day)
    for a in (settled, released, unknown, refused, yesterday):
        assert isinstance(await store.begin(limits(a), now=NOW), Begun)
    assert (await store.spent_micro(DAY), await store.spent_micro(other_day)) == (40_000, 5_000)
    assert await store.spent_month_micro(MONTH) == 45_000
    await store.settle(settled.id, charged_micro=7_000, message_id=1, message_json='{"id": 1}')
    await store.release(released.id)
    await store.mark_unknown(unknown.id)
    await store.release_refused(refused.id)
    assert await store.spent_micro(DAY) == 17_000  # 7,000 charged + 10,000 kept for the unknown outcome
    assert await store.spent_month_micro(MONTH) == 22_000
    await store.settle(unknown.id, charged_micro=12_000, message_id=2, message_json='{"id": 2}')  # found later
    assert await store.spent_micro(DAY) == 19_000
    assert await store.spent_month_micro(MONTH) == 24_000
    assert await store.spent_month_micro("2027-02") == 0
    reopened = open_store()  # another process on the same state reads the same totals
    assert await reopened.spent_month_micro(MONTH) == 24_000


async def test_standing_reads_the_days_and_months_totals_and_the_pause_at_once(open_store: StoreFactory) -> None:
    store = open_store()
    assert await store.standing(DAY, MONTH) == Standing(spent_today_micro=0, spent_month_micro=0, pause=None)
    today, earlier = attempt(body="t", reserved=10_000), on_day(attempt(body="e", reserved=5_000), f"{MONTH}-02")
    for a in (today, earlier):
        assert isinstance(await store.begin(limits(a), now=NOW), Begun)
    await store.settle(today.id, charged_micro=7_000, message_id=1, message_json='{"id": 1}')
    paused = await store.pause("the weekend", now=NOW)
    assert await open_store().standing(DAY, MONTH) == Standing(
        spent_today_micro=7_000, spent_month_micro=12_000, pause=paused
    )
    assert await store.standing(f"{MONTH}-02", "2027-02") == Standing(5_000, 0, paused)
    await store.pause(None, now=NOW + 60)  # no reason given: the pause keeps its start and says none
    assert (await store.standing(DAY, MONTH)).pause == Pause(reason=None, since=paused.since)
    await store.resume()
    assert (await store.standing(DAY, MONTH)).pause is None


async def test_monthly_budget_refuses_a_reservation_past_it_across_days(open_store: StoreFactory) -> None:
    store = open_store()
    earlier_day = on_day(attempt(body="a", reserved=60_000), f"{MONTH}-02")
    assert isinstance(await store.begin(limits(earlier_day, monthly=100_000), now=NOW), Begun)
    over = attempt(body="b", reserved=50_000)
    assert await store.begin(limits(over, monthly=100_000), now=NOW) == MonthlyBudgetExceeded(60_000)
    fits = attempt(body="c", reserved=40_000)
    assert isinstance(await store.begin(limits(fits, monthly=100_000), now=NOW), Begun)
    assert await store.spent_month_micro(MONTH) == 100_000
    assert isinstance(await store.begin(limits(attempt(body="d"), monthly=None), now=NOW), Begun)  # no cap


async def test_recipients_per_hour_counts_distinct_numbers_in_a_rolling_hour(open_store: StoreFactory) -> None:
    store = open_store()
    for n, to in enumerate(("+12025550101", "+13125550102")):
        assert isinstance(await store.begin(limits(attempt(to=to, body=f"{n}"), recipients=2), now=NOW), Begun)
    third = attempt(to="+14155550103")
    assert await store.begin(limits(third, recipients=2), now=NOW + 1) == RecipientsPerHourReached(2)
    again = attempt(to="+12025550101", body="again", at=NOW + 2)  # already texted this hour: no new number
    assert isinstance(await store.begin(limits(again, recipients=2), now=NOW + 2), Begun)
    assert await store.velocity("+14155550103", now=NOW + 3) == Velocity(False, 2, 0)
    assert await store.velocity("+12025550101", now=NOW + 3) == Velocity(True, 2, 1)
    # An hour on, the number texted once at NOW drops out; the one texted again at NOW + 2 still counts.
    assert await store.velocity("+14155550103", now=NOW + 3601) == Velocity(False, 1, 0)
    later = dataclasses.replace(third, created_at=NOW + 3601)
    assert isinstance(await store.begin(limits(later, recipients=2), now=NOW + 3601), Begun)


async def test_number_block_counts_numbers_equal_but_for_their_last_two_digits(open_store: StoreFactory) -> None:
    store = open_store()
    for n, to in enumerate(("+12025550101", "+12025550177")):
        assert isinstance(await store.begin(limits(attempt(to=to, body=f"{n}"), block=2), now=NOW), Begun)
    neighbour = attempt(to="+12025550150")
    assert await store.begin(limits(neighbour, block=2), now=NOW) == NumberBlockReached(2)
    next_block = attempt(to="+12025550201")  # +120255502xx is another block
    assert isinstance(await store.begin(limits(next_block, block=2), now=NOW), Begun)
    same_number = attempt(to="+12025550177", body="again")
    assert isinstance(await store.begin(limits(same_number, block=2), now=NOW), Begun)


async def test_a_released_attempt_no_longer_counts_as_a_number_texted(open_store: StoreFactory) -> None:
    store = open_store()
    first = attempt(to="+12025550101", body="x")
    assert isinstance(await store.begin(limits(first, recipients=1), now=NOW), Begun)
    await store.release_refused(first.id)  # the API refused it: nothing went out
    assert await store.velocity("+12025550101", now=NOW) == Velocity(False, 0, 0)
    other = attempt(to="+13125550102")
    assert isinstance(await store.begin(limits(other, recipients=1), now=NOW), Begun)
    sent_one = attempt(to="+14155550103", body="s")
    await store.release(other.id)
    assert isinstance(await store.begin(limits(sent_one, recipients=1), now=NOW), Begun)
    await store.mark_unknown(sent_one.id)  # may have gone out: it still counts
    assert await store.velocity("+14155550103", now=NOW) == Velocity(True, 1, 1)


async def test_begin_many_begins_every_attempt_or_none(open_store: StoreFactory) -> None:
    store = open_store()
    batch = [attempt(to=f"+1202555010{n}", body="batch", reserved=30_000) for n in range(4)]
    results = await store.begin_many([limits(a, budget=100_000) for a in batch], now=NOW)
    # Cumulative: the first three fit the budget, the fourth sees their reservations; so none is begun (the first
    # three say Begun all the same: they would have been).
    assert results == [Begun(a) for a in batch[:3]] + [BudgetExceeded(90_000)]
    assert await store.spent_micro(DAY) == 0
    assert await store.spent_month_micro(MONTH) == 0
    assert await store.unresolved() == []
    assert await store.velocity(batch[0].recipient, now=NOW) == Velocity(False, 0, 0)
    results = await store.begin_many([limits(a, budget=100_000) for a in batch[:3]], now=NOW)
    assert results == [Begun(a) for a in batch[:3]]
    assert await store.spent_micro(DAY) == 90_000
    assert {a.id for a in await store.unresolved()} == {a.id for a in batch[:3]}


async def test_begin_many_counts_the_batchs_own_recipients_against_velocity(open_store: StoreFactory) -> None:
    store = open_store()
    batch = [attempt(to=to, body="batch") for to in ("+12025550101", "+12025550102", "+13125550103")]
    results = await store.begin_many([limits(a, block=1, recipients=3) for a in batch], now=NOW)
    assert results == [Begun(batch[0]), NumberBlockReached(1), Begun(batch[2])]
    assert await store.velocity("+12025550101", now=NOW) == Velocity(False, 0, 0)  # taken back whole
    confirmations = [attempt(to=f"+1312555020{n}", body=f"c{n}", confirmation="one") for n in range(2)]
    results = await store.begin_many([limits(a) for a in confirmations], now=NOW)
    assert results == [Begun(confirmations[0]), ConfirmationAlreadyUsed()]
    assert isinstance(await store.begin(limits(confirmations[0]), now=NOW), Begun)  # the undo freed it


async def test_concurrent_begins_to_distinct_numbers_stop_at_the_recipients_limit(open_store: StoreFactory) -> None:
    stores = [open_store() for _ in range(2)]  # two processes or replicas
    results: list[object] = []

    async def begin(n: int) -> None:
        a = attempt(to=f"+1202555{n:04d}", body=f"n{n}")
        results.append(await stores[n % 2].begin(limits(a, recipients=10), now=NOW))

    async with anyio.create_task_group() as group:
        for n in range(50):
            group.start_soon(begin, n * 100)  # each in a block of its own
    assert sum(isinstance(result, Begun) for result in results) == 10
    assert sum(isinstance(result, RecipientsPerHourReached) for result in results) == 40


async def test_a_message_id_is_claimed_once_settled_on_an_attempt(open_store: StoreFactory) -> None:
    store = open_store()
    a = attempt()
    await store.begin(begin_request(a), now=NOW)
    assert not await store.message_claimed(41)
    await store.settle(a.id, charged_micro=10_000, message_id=41, message_json='{"id": 41}')
    assert await store.message_claimed(41)
    assert not await open_store().message_claimed(42)


async def test_a_redis_store_kept_before_monthly_totals_counts_the_days_it_still_has(open_store: StoreFactory) -> None:
    """SQLite computes its totals from its rows as it opens (test_ledger_durability.py); Redis keeps no rows, so
    an older store's month starts from the daily totals it still holds."""
    store = open_store()
    if isinstance(store, SqliteStore):
        pytest.skip("Redis only: a SQLite ledger is migrated from its rows")
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    prefix = store._prefix  # type: ignore[attr-defined]
    await client.set(f"{prefix}spent:{MONTH}-14", 30_000)
    await client.set(f"{prefix}spent:{DAY}", 20_000)
    await client.set(f"{prefix}spent:2027-02-01", 99_000)  # another month
    await client.aclose()
    assert await store.spent_month_micro(MONTH) == 50_000
    assert await store.standing(DAY, MONTH) == Standing(spent_today_micro=20_000, spent_month_micro=50_000, pause=None)
    over = attempt(reserved=60_000)
    assert await store.begin(limits(over, monthly=100_000), now=NOW) == MonthlyBudgetExceeded(50_000)
    fits = attempt(body="fits", reserved=50_000)
    assert isinstance(await store.begin(limits(fits, monthly=100_000), now=NOW), Begun)
    assert (await store.spent_micro(DAY), await store.spent_month_micro(MONTH)) == (70_000, 100_000)


async def test_a_batch_key_stands_for_the_first_batch_that_claims_it_even_when_two_claim_at_once(
    open_store: StoreFactory,
) -> None:
    first, second = open_store(), open_store()
    assert await first.batch_key("batch:k", now=NOW) is None
    claims: list[str] = []

    async def claim(store: StateStore, fingerprint: str) -> None:
        claims.append(await store.claim_batch_key("batch:k", fingerprint, now=NOW))

    async with anyio.create_task_group() as group:
        group.start_soon(claim, first, "batch-a")
        group.start_soon(claim, second, "batch-b")
    assert claims[0] == claims[1]
    assert claims[0] in ("batch-a", "batch-b")
    assert await first.claim_batch_key("batch:k", "batch-c", now=NOW + 60) == claims[0]
    assert await second.batch_key("batch:k", now=NOW + 60) == claims[0]
    assert await first.claim_batch_key("batch:other", "batch-c", now=NOW) == "batch-c"
    if isinstance(first, SqliteStore):  # Redis lets the key expire after 24 hours of its own clock
        day_on = NOW + 86_400
        assert await first.batch_key("batch:k", now=day_on) is None
        assert await first.claim_batch_key("batch:k", "batch-c", now=day_on) == "batch-c"
