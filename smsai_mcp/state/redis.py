"""The state store in Redis, shared by every replica. Each check-and-change is one Lua script: atomic.

Keys, all under one prefix per tenant (`smsai:<tenant>:`):
    a:<id>            hash: `attempt` (the attempt as created, JSON), `status`, `charged_micro`, `message_id`,
                      `message_json`; expires after the idempotency horizon and a day's margin
    fp:<sha256>       sorted set of attempt ids by time: identical messages
    key:<key>         sorted set of attempt ids by time: idempotency keys
    to:<e164>         sorted set of attempt ids by time: the hourly limit per number
    conf:<id>         a confirmation already used
    spent:<day>       micro-dollars charged or reserved that UTC day
    spentm:<month>    micro-dollars charged or reserved that UTC month ("2026-11")
    texted            sorted set of numbers by the latest time they were texted, pruned to the last hour
    blk:<block>       the same, for the numbers of one block of 100 (the number without its last two digits)
    open              set of pending and unknown attempt ids
    claimed           sorted set of message ids matched to an attempt
    optout:<e164>     hash: `since`, `note`: a number on the do-not-text list (redis_lists.py)
    optouts           sorted set of the numbers on the list by `since`
    pause             hash: `since`, `reason`: sending is paused for every replica (redis_lists.py)
    batchkey:<key>    the fingerprint of the batch a batch idempotency key stands for, for 24 hours (redis_lists.py)
    cache:<key>       a value every replica shares (the price list), until its TTL
    cachegen:<key>    how many times a replica forgot cache:<key>, so each drops its own copy
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from smsai_mcp.state import redis_scripts as scripts
from smsai_mcp.state.records import DAY_SECONDS, HOUR_SECONDS, IDEMPOTENCY_SECONDS
from smsai_mcp.state.redis_lists import RedisLists
from smsai_mcp.state.redis_reachable import reachable as _reachable
from smsai_mcp.state.redis_replies import begin_result
from smsai_mcp.state.store import (
    Attempt,
    AttemptStatus,
    BeginRequest,
    BeginResult,
    Velocity,
    block_of,
    without_text,
)

__all__ = ["RedisStore"]

_KEEP_SECONDS = IDEMPOTENCY_SECONDS + DAY_SECONDS
# A person may be waiting on every call: connect and answer within seconds, retry a blip twice, then refuse.
_CONNECT_SECONDS = 2.0
_REPLY_SECONDS = 5.0
_RETRIES = 2
_OUTCOME_FIELDS = ("status", "charged_micro", "message_id", "message_json")
_IMMUTABLE = [field.name for field in dataclasses.fields(Attempt) if field.name not in _OUTCOME_FIELDS]


class RedisStore(RedisLists):  # the opt-outs and the pause: redis_lists.py
    """Works on any redis-py asyncio client; `prefix` keeps tenants apart."""

    def __init__(self, client: Any, *, prefix: str = "smsai:default:") -> None:
        self._redis = client
        self._prefix = prefix
        # The attempts this process began whose outcome it has not recorded yet, as created: if Redis loses one
        # while its POST is in flight, recording the outcome puts it back on the books.
        self._in_flight: dict[str, str] = {}
        self._begin = client.register_script(scripts.BEGIN)
        self._finish = client.register_script(scripts.FINISH)
        self._mark_unknown = client.register_script(scripts.MARK_UNKNOWN)
        self._find = client.register_script(scripts.FIND_EARLIER)
        self._find_unresolved = client.register_script(scripts.FIND_UNRESOLVED)
        self._recent = client.register_script(scripts.RECENT_TO_RECIPIENT)
        self._spent_month = client.register_script(scripts.SPENT_MONTH)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "smsai:default:") -> RedisStore:
        import redis.asyncio  # only when Redis is configured
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialWithJitterBackoff

        client = redis.asyncio.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=_CONNECT_SECONDS,
            socket_timeout=_REPLY_SECONDS,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), _RETRIES),
        )
        return cls(client, prefix=prefix)

    @_reachable
    async def shared_value(self, key: str, ttl_seconds: float, produce: Callable[[], Awaitable[str]]) -> str:
        name = f"{self._prefix}cache:{key}"
        cached = await self._redis.get(name)
        if cached is not None:
            return str(cached)
        value = await produce()
        await self._redis.set(name, value, px=int(ttl_seconds * 1000))
        return value

    async def shared_generation(self, key: str) -> int:
        return int(await self._redis.get(f"{self._prefix}cachegen:{key}") or 0)

    async def forget_shared(self, key: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{self._prefix}cache:{key}")
            pipe.incr(f"{self._prefix}cachegen:{key}")
            await pipe.execute()

    async def ping(self) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    @_reachable
    async def begin(self, request: BeginRequest, *, now: float) -> BeginResult:
        [result] = await self.begin_many([request], now=now)
        return result

    @_reachable
    async def begin_many(self, requests: Sequence[BeginRequest], *, now: float) -> list[BeginResult]:
        created = [json.dumps({name: getattr(r.attempt, name) for name in _IMMUTABLE}) for r in requests]
        args: list[object] = [self._prefix, repr(now), IDEMPOTENCY_SECONDS, _KEEP_SECONDS]
        for request, raw in zip(requests, created, strict=True):
            limits = {
                "budget": request.daily_budget_micro,
                "monthly": request.monthly_budget_micro,
                "per_recipient": request.max_per_recipient_per_hour,
                "recipients": request.max_recipients_per_hour,
                "block": request.max_per_number_block_per_hour,
                "window": request.duplicate_window_seconds,
                "stale_before": now - request.pending_stale_seconds,
            }
            args += [raw, json.dumps(limits)]
        replies = await self._begin(args=args)
        # An earlier attempt named by a batch that was taken back is one of its own, no longer in Redis.
        own = {r.attempt.id: r.attempt for r in requests}

        async def load(attempt_id: str) -> Attempt:
            return own[attempt_id] if attempt_id in own else await self._load(attempt_id)

        results = [
            await begin_result(request.attempt, reply, load) for request, reply in zip(requests, replies, strict=True)
        ]
        if all(reply == ["begun"] for reply in replies):
            self._in_flight.update((r.attempt.id, raw) for r, raw in zip(requests, created, strict=True))
        return results

    @_reachable
    async def find_earlier(
        self, *, fingerprint: str, idempotency_key: str | None, duplicate_window_seconds: int, now: float
    ) -> Attempt | None:
        if idempotency_key is not None:
            index, since = f"key:{idempotency_key}", now - IDEMPOTENCY_SECONDS
        elif duplicate_window_seconds > 0:
            index, since = f"fp:{fingerprint}", now - duplicate_window_seconds
        else:
            return None
        found = await self._find(args=[self._prefix, index, repr(since)])
        return None if found is None else await self._load(str(found))

    @_reachable
    async def find_unresolved(
        self, *, fingerprint: str, idempotency_key: str | None, stale_before: float
    ) -> Attempt | None:
        indexes = [f"fp:{fingerprint}"] + ([f"key:{idempotency_key}"] if idempotency_key is not None else [])
        found = await self._find_unresolved(args=[self._prefix, repr(stale_before), *indexes])
        return None if found is None else await self._load(str(found))

    @_reachable
    async def recent_to_recipient(self, recipient: str, *, now: float) -> int:
        return int(await self._recent(args=[self._prefix, recipient, repr(now - 3600)]))

    @_reachable
    async def settle(self, attempt_id: str, *, charged_micro: int, message_id: int, message_json: str) -> bool:
        settled = await self._finish(
            args=[
                self._prefix,
                attempt_id,
                "sent",
                charged_micro,
                message_id,
                without_text(message_json),
                _KEEP_SECONDS,
                self._in_flight.pop(attempt_id, ""),
            ]
        )
        return bool(int(settled))

    @_reachable
    async def release(self, attempt_id: str) -> bool:
        self._in_flight.pop(attempt_id, None)
        return bool(int(await self._finish(args=[self._prefix, attempt_id, "released"])))

    @_reachable
    async def release_refused(self, attempt_id: str) -> None:
        self._in_flight.pop(attempt_id, None)
        await self._finish(args=[self._prefix, attempt_id, "refused"])

    @_reachable
    async def mark_unknown(self, attempt_id: str) -> bool:
        created = self._in_flight.pop(attempt_id, "")
        return bool(int(await self._mark_unknown(args=[self._prefix, attempt_id, created, _KEEP_SECONDS])))

    @_reachable
    async def velocity(self, recipient: str, *, now: float) -> Velocity:
        since = now - HOUR_SECONDS
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zscore(f"{self._prefix}texted", recipient)
            pipe.zcount(f"{self._prefix}texted", f"({since!r}", "+inf")
            pipe.zcount(f"{self._prefix}blk:{block_of(recipient)}", f"({since!r}", "+inf")
            mine, everyone, block = await pipe.execute()
        return Velocity(
            already_texted=mine is not None and float(mine) > since,
            recipients=int(everyone),
            block_recipients=int(block),
        )

    @_reachable
    async def message_claimed(self, message_id: int) -> bool:
        return await self._redis.zscore(f"{self._prefix}claimed", str(message_id)) is not None

    @_reachable
    async def spent_micro(self, day: str) -> int:
        return int(await self._redis.get(f"{self._prefix}spent:{day}") or 0)

    @_reachable
    async def spent_month_micro(self, month: str) -> int:
        total = await self._redis.get(f"{self._prefix}spentm:{month}")
        if total is not None:
            return int(total)
        # Not kept yet (a new month, or a store older than the monthly total): made from the month's days.
        return int(await self._spent_month(args=[self._prefix, f"{month}-31"]))

    @_reachable
    async def unresolved(self) -> list[Attempt]:
        attempts = []
        for attempt_id in await self._redis.smembers(f"{self._prefix}open"):
            attempt = await self._load_if_kept(str(attempt_id))
            if attempt is None:  # expired long ago: nothing left to reconcile
                await self._redis.srem(f"{self._prefix}open", attempt_id)
            else:
                attempts.append(attempt)
        return sorted(attempts, key=lambda attempt: attempt.created_at)

    @_reachable
    async def claimed_message_ids(self) -> set[int]:
        return {int(member) for member in await self._redis.zrange(f"{self._prefix}claimed", 0, -1)}

    async def close(self) -> None:
        await self._redis.aclose()

    async def _load(self, attempt_id: str) -> Attempt:
        attempt = await self._load_if_kept(attempt_id)
        if attempt is None:
            raise LookupError(f"attempt {attempt_id} is not in Redis")
        return attempt

    @_reachable
    async def _load_if_kept(self, attempt_id: str) -> Attempt | None:
        fields: dict[str, str] = await self._redis.hgetall(f"{self._prefix}a:{attempt_id}")
        if "attempt" not in fields:
            return None
        created = json.loads(fields["attempt"])
        status: AttemptStatus = fields["status"]  # type: ignore[assignment]  # written only by redis_scripts
        return Attempt(
            **created,
            status=status,
            charged_micro=int(fields["charged_micro"]) if "charged_micro" in fields else None,
            message_id=int(fields["message_id"]) if "message_id" in fields else None,
            message_json=fields.get("message_json"),
        )
