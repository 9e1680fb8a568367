"""The do-not-text list and the pause keep the same promises on both state stores (the shared suite's fixture:
stores made by one factory share one state, like processes sharing a directory or replicas sharing Redis)."""

from __future__ import annotations

import anyio
import pytest

from smsai_mcp.state.store import OptOut, Pause
from tests.test_state import NOW, StoreFactory, open_store

pytestmark = pytest.mark.anyio

__all__ = ["open_store"]  # the parametrised fixture (SQLite and Redis), used here by name

US = "+12025551234"
GB = "+447400123456"


async def test_an_opt_out_added_by_one_process_is_seen_by_another(open_store: StoreFactory) -> None:
    one, other = open_store(), open_store()
    assert await other.opt_out(US) is None
    added = await one.add_opt_out(US, "replied STOP", now=NOW)
    assert added == OptOut(US, NOW, "replied STOP")
    assert await other.opt_out(US) == added
    assert await other.opt_out(GB) is None


async def test_adding_an_opt_out_again_keeps_its_first_since_and_takes_a_new_note(open_store: StoreFactory) -> None:
    store = open_store()
    await store.add_opt_out(US, "replied STOP", now=NOW)
    assert await store.add_opt_out(US, None, now=NOW + 60) == OptOut(US, NOW, "replied STOP")
    assert await store.add_opt_out(US, "asked by phone", now=NOW + 120) == OptOut(US, NOW, "asked by phone")
    assert await store.list_opt_outs(offset=0, limit=10) == ([OptOut(US, NOW, "asked by phone")], 1)


async def test_removing_an_opt_out_says_whether_it_was_listed(open_store: StoreFactory) -> None:
    one, other = open_store(), open_store()
    await one.add_opt_out(US, None, now=NOW)
    assert await other.remove_opt_out(US) is True
    assert await one.opt_out(US) is None
    assert await one.remove_opt_out(US) is False
    assert await one.list_opt_outs(offset=0, limit=10) == ([], 0)


async def test_opt_outs_list_by_pages_oldest_first_with_the_total(open_store: StoreFactory) -> None:
    store = open_store()
    numbers = [f"+1202555{n:04d}" for n in range(5)]
    for n, number in enumerate(numbers):
        await store.add_opt_out(number, f"note {n}" if n % 2 else None, now=NOW + n)
    first, total = await store.list_opt_outs(offset=0, limit=2)
    second, _ = await store.list_opt_outs(offset=2, limit=2)
    last, _ = await store.list_opt_outs(offset=4, limit=2)
    assert total == 5
    assert [entry.number for entry in first + second + last] == numbers
    assert first[1] == OptOut(numbers[1], NOW + 1, "note 1")
    assert await store.list_opt_outs(offset=5, limit=2) == ([], 5)


async def test_concurrent_adds_of_one_number_keep_one_entry(open_store: StoreFactory) -> None:
    stores = [open_store() for _ in range(3)]

    async def add(store_index: int, at: float) -> None:
        await stores[store_index].add_opt_out(US, None, now=at)

    async with anyio.create_task_group() as group:
        for n in range(12):
            group.start_soon(add, n % 3, NOW + n)
    entries, total = await stores[0].list_opt_outs(offset=0, limit=10)
    assert total == 1
    assert [entry.number for entry in entries] == [US]


async def test_a_pause_set_by_one_process_stops_every_other_until_resumed(open_store: StoreFactory) -> None:
    one, other = open_store(), open_store()
    assert await other.pause_state() is None
    assert await one.pause(reason="incident 42", now=NOW) == Pause("incident 42", NOW)
    assert await other.pause_state() == Pause("incident 42", NOW)
    assert await other.resume() is True
    assert await one.pause_state() is None
    assert await one.resume() is False


async def test_pausing_again_keeps_since_and_takes_the_new_reason(open_store: StoreFactory) -> None:
    store = open_store()
    await store.pause(reason=None, now=NOW)
    assert await store.pause_state() == Pause(None, NOW)
    assert await store.pause(reason="still looking", now=NOW + 30) == Pause("still looking", NOW)
    assert await store.pause_state() == Pause("still looking", NOW)
