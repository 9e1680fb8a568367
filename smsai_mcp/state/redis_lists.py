"""The lists a person keeps in the Redis store, shared by every replica: the do-not-text list and the pause; and the
batch idempotency keys, each standing for the one batch it was first used for.

A mixin of `RedisStore` (keys under the tenant's prefix, described in redis.py). Adding an opt-out is one script,
so a number added twice at once keeps one `since`.
"""

from __future__ import annotations

from typing import Any

from smsai_mcp.state.records import IDEMPOTENCY_SECONDS
from smsai_mcp.state.redis_reachable import reachable
from smsai_mcp.state.store import OptOut, Pause, Standing

__all__ = ["RedisLists"]

# KEYS: none (the prefix is ARGV[1], as in every script); ARGV: prefix, number, now, note or "" for none.
_ADD_OPT_OUT = """
local p, number, now, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. 'optout:' .. number
redis.call('HSETNX', key, 'since', now)
if note ~= '' then redis.call('HSET', key, 'note', note) end
local since = redis.call('HGET', key, 'since')
redis.call('ZADD', p .. 'optouts', 'NX', since, number)
return {since, redis.call('HGET', key, 'note')}
"""
# ARGV: prefix, reason or "" for none, now. Pausing again keeps the first `since`.
_PAUSE = """
local key = ARGV[1] .. 'pause'
redis.call('HSETNX', key, 'since', ARGV[3])
redis.call('HSET', key, 'reason', ARGV[2])
return redis.call('HGET', key, 'since')
"""


class RedisLists:
    _redis: Any
    _prefix: str

    async def spent_month_micro(self, month: str) -> int:
        raise NotImplementedError  # RedisStore's: a month not kept yet is made from its days

    @reachable
    async def add_opt_out(self, number: str, note: str | None, *, now: float) -> OptOut:
        script = self._redis.register_script(_ADD_OPT_OUT)
        since, kept_note = await script(args=[self._prefix, number, repr(now), note or ""])
        return OptOut(number=number, since=float(since), note=kept_note or None)

    @reachable
    async def remove_opt_out(self, number: str) -> bool:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self._prefix}optout:{number}")
            pipe.zrem(f"{self._prefix}optouts", number)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    @reachable
    async def opt_out(self, number: str) -> OptOut | None:
        fields: dict[str, str] = await self._redis.hgetall(f"{self._prefix}optout:{number}")
        return _opt_out(number, fields)

    @reachable
    async def list_opt_outs(self, *, offset: int, limit: int) -> tuple[list[OptOut], int]:
        index = f"{self._prefix}optouts"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrange(index, offset, offset + limit - 1)
            pipe.zcard(index)
            numbers, total = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.hgetall(f"{self._prefix}optout:{number}")
            entries = await pipe.execute()
        found = [_opt_out(str(number), fields) for number, fields in zip(numbers, entries, strict=True)]
        return [entry for entry in found if entry is not None], int(total)

    @reachable
    async def pause(self, reason: str | None, *, now: float) -> Pause:
        script = self._redis.register_script(_PAUSE)
        since = await script(args=[self._prefix, reason or "", repr(now)])
        return Pause(reason=reason or None, since=float(since))

    @reachable
    async def resume(self) -> bool:
        return bool(await self._redis.delete(f"{self._prefix}pause"))

    @reachable
    async def pause_state(self) -> Pause | None:
        return _pause(await self._redis.hgetall(f"{self._prefix}pause"))

    @reachable
    async def standing(self, day: str, month: str) -> Standing:
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip for the three
            pipe.get(f"{self._prefix}spent:{day}")
            pipe.get(f"{self._prefix}spentm:{month}")
            pipe.hgetall(f"{self._prefix}pause")
            today, this_month, pause = await pipe.execute()
        month_micro = int(this_month) if this_month is not None else await self.spent_month_micro(month)
        return Standing(spent_today_micro=int(today or 0), spent_month_micro=month_micro, pause=_pause(pause))

    @reachable
    async def claim_batch_key(self, key: str, fingerprint: str, *, now: float) -> str:
        name = f"{self._prefix}batchkey:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:  # SET NX: of two replicas at once, one wins
            pipe.set(name, fingerprint, nx=True, ex=IDEMPOTENCY_SECONDS)
            pipe.get(name)
            _, kept = await pipe.execute()
        return str(kept)

    @reachable
    async def batch_key(self, key: str, *, now: float) -> str | None:
        kept = await self._redis.get(f"{self._prefix}batchkey:{key}")
        return None if kept is None else str(kept)


def _opt_out(number: str, fields: dict[str, str]) -> OptOut | None:
    if "since" not in fields:  # removed between the page and its read
        return None
    return OptOut(number=number, since=float(fields["since"]), note=fields.get("note") or None)


def _pause(fields: dict[str, str]) -> Pause | None:
    if "since" not in fields:
        return None
    return Pause(reason=fields.get("reason") or None, since=float(fields["since"]))
