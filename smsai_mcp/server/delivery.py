"""Waiting for delivery: poll one message, with backoff, until its status is final or the wait runs out.

Polls at 0 s, then after 1 s, 1.5 s, 2.25 s ... growing to 5 s between reads, never sleeping past the deadline.
Nothing is kept between polls, so a cancelled wait leaves nothing behind. A tenant waits on at most
MAX_WAITS_PER_TENANT calls at once: each wait reads the upstream every few seconds under the account's rate limit,
which its sends need too; a call past that answers at once with the status it has.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import anyio
from mcp.server.mcpserver import Context

from smsai_mcp.client.models import Message
from smsai_mcp.runtime import Runtime
from smsai_mcp.server.dependencies import tenant
from smsai_mcp.server.messages import is_final, read_own_message
from smsai_mcp.server.results import MessageResult

__all__ = [
    "FIRST_POLL_SECONDS",
    "LONGEST_POLL_SECONDS",
    "MAX_WAITS_PER_TENANT",
    "Waited",
    "get_message_waiting",
    "poll_delays",
    "wait_until_final",
]

FIRST_POLL_SECONDS = 1.0
LONGEST_POLL_SECONDS = 5.0
POLL_GROWTH = 1.5
MAX_WAITS_PER_TENANT = 20
_waiting: Counter[int] = Counter()  # calls waiting now, by tenant (its runtime's id: one server's tenants apart)

ReportProgress = Callable[[float, float, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Waited:
    message: Message
    final: bool  # False: the wait ran out first, and `message` carries the status it still had


def poll_delays() -> Iterator[float]:
    """1 s, then half as long again each time, up to 5 s: quick for the usual few seconds, light after."""
    delay = FIRST_POLL_SECONDS
    while True:
        yield delay
        delay = min(delay * POLL_GROWTH, LONGEST_POLL_SECONDS)


async def wait_until_final(
    read: Callable[[], Awaitable[Message]],
    wait_seconds: float,
    report: ReportProgress | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Waited:
    """Read the message until its status is final or `wait_seconds` have passed; `report(elapsed, total, text)`
    hears of every status read that is not final yet."""
    started = clock()
    deadline = started + wait_seconds
    message = await read()
    delays = poll_delays()
    while not is_final(message.status):
        now = clock()
        if now >= deadline:
            return Waited(message, final=False)
        if report is not None:
            elapsed = now - started
            await report(elapsed, wait_seconds, f"Message {message.id} is still {message.status} after {elapsed:.0f} s")
        await anyio.sleep(min(next(delays), deadline - now))
        message = await read()
    return Waited(message, final=True)


async def get_message_waiting(ctx: Context[Runtime], message_id: int, wait_seconds: float) -> MessageResult:
    """get_message: the caller's message now, or once final, or with a `wait_note` when the wait ran out."""
    runtime, caller = ctx.request_context.lifespan_context, tenant(ctx)

    async def read() -> Message:
        return await read_own_message(runtime, caller, message_id)

    if wait_seconds <= 0:
        return MessageResult.of(await read())
    if _waiting[id(caller)] >= MAX_WAITS_PER_TENANT:
        message = await read()
        if is_final(message.status):
            return MessageResult.of(message)
        note = (
            f"Not final yet: the message is {message.status}. This server did not wait, as {MAX_WAITS_PER_TENANT} "
            "calls of yours are already waiting; call get_message again once one has answered."
        )
        return MessageResult.model_validate(MessageResult.of(message).model_dump() | {"wait_note": note})
    _waiting[id(caller)] += 1
    try:
        waited = await wait_until_final(read, wait_seconds, ctx.report_progress)
    finally:
        _waiting[id(caller)] -= 1
        if not _waiting[id(caller)]:
            del _waiting[id(caller)]
    result = MessageResult.of(waited.message)
    if waited.final:
        return result
    note = (
        f"Not final yet: the message is still {waited.message.status} after waiting {wait_seconds:g} s. "
        "Call get_message again with wait_seconds to wait longer."
    )
    return MessageResult.model_validate(result.model_dump() | {"wait_note": note})
