"""Listening to a message (2026-07-28 `subscriptions/listen` on `sms://messages/{id}`): who may, and the polls.

    ListenAccess   middleware: a listen to a message URI is refused unless the caller may read that message, and
                   while the stream is open its messages are watched
    DeliveryWatch  one poll per (tenant, message) however many listen to it, only while someone does, ending
                   once the status is final; a change is published as `ResourceUpdated`
    TenantBus      the subscription bus: an update reaches the listeners of the tenant whose message changed only

Replicas need no shared bus: the replica that holds a listener's stream polls the upstream itself.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import anyio.abc
import anyio.lowlevel
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS

from smsai_mcp.client.models import Message
from smsai_mcp.runtime import Runtime, ToolRefusal
from smsai_mcp.server.delivery import poll_delays
from smsai_mcp.server.failures import failure_text
from smsai_mcp.server.messages import is_final, message_uri, read_own_message

__all__ = [
    "LISTEN_STREAMS",
    "MAX_POLLED_PER_TENANT",
    "DeliveryWatch",
    "ListenAccess",
    "TenantBus",
    "TooManyFollowed",
    "listening_as",
]

logger = logging.getLogger(__name__)

MESSAGE_URI_PREFIX = "sms://messages/"
# Each message listened to costs its tenant one upstream read every few seconds: bound what a tenant may follow.
MAX_MESSAGES_PER_LISTEN = 100
MAX_POLLED_PER_TENANT = 200
# The SDK's ListenHandler serves at most this many streams in all (its default): each tenant gets its share of them.
LISTEN_STREAMS = 1024
# The tenant whose listen request is being served: the bus files the stream's listener under it.
_listening_tenant: ContextVar[str | None] = ContextVar("smsai_listening_tenant", default=None)

Listener = Callable[[ServerEvent], None]


@contextmanager
def listening_as(tenant: str | None) -> Iterator[None]:
    """Streams opened inside this block (their bus listeners) belong to `tenant`."""
    token = _listening_tenant.set(tenant)
    try:
        yield
    finally:
        _listening_tenant.reset(token)


ReadMessage = Callable[[int], Awaitable[Message]]


class TenantBus:
    """A `SubscriptionBus` whose listeners belong to the tenant that opened their stream."""

    def __init__(self) -> None:
        self._listeners: dict[object, tuple[str | None, Listener]] = {}

    async def publish(self, event: ServerEvent) -> None:
        """To every listener (the SDK's own list-changed events concern all tenants alike)."""
        await self._deliver(event, lambda _: True)

    async def publish_to(self, tenant: str, event: ServerEvent) -> None:
        await self._deliver(event, lambda owner: owner == tenant)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        token = object()
        self._listeners[token] = (_listening_tenant.get(), listener)

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def _deliver(self, event: ServerEvent, reaches: Callable[[str | None], bool]) -> None:
        for owner, listener in list(self._listeners.values()):
            if reaches(owner):
                try:
                    listener(event)
                except Exception:  # one broken stream must not starve the others
                    logger.exception("a subscription listener failed")
        await anyio.lowlevel.checkpoint()


class TooManyFollowed(Exception):
    """The listen would make its tenant follow more messages than a tenant may at once."""


@dataclass(eq=False)
class _Poll:
    listeners: int = 0
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


class DeliveryWatch:
    """The polls of the messages someone listens to; they run in the task group of `running()`."""

    def __init__(self, bus: TenantBus) -> None:
        self._bus = bus
        self._polls: dict[tuple[str, int], _Poll] = {}
        self._tasks: anyio.abc.TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None
                tasks.cancel_scope.cancel()

    @asynccontextmanager
    async def watching(self, tenant: str, read: ReadMessage, messages: Sequence[Message]) -> AsyncIterator[None]:
        """Poll each message not final yet while the caller's stream is open; join a poll another started."""
        joined: list[tuple[tuple[str, int], _Poll]] = []
        new_polls = {m.id for m in messages if not is_final(m.status) and (tenant, m.id) not in self._polls}
        polled = sum(1 for owner, _ in self._polls if owner == tenant)
        if polled + len(new_polls) > MAX_POLLED_PER_TENANT:
            raise TooManyFollowed(
                f"Not listening: this tenant already follows {polled} messages not yet final, and at most "
                f"{MAX_POLLED_PER_TENANT} are followed at once. Close a listen first, or wait for one message with "
                "get_message's wait_seconds."
            )
        for message in messages:
            if is_final(message.status) or self._tasks is None:
                continue  # a final status never changes again: nothing to poll
            key = (tenant, message.id)
            poll = self._polls.get(key)
            if poll is None:
                poll = self._polls[key] = _Poll()
                self._tasks.start_soon(self._poll, key, poll, read, message.status)
            poll.listeners += 1
            joined.append((key, poll))
        try:
            yield
        finally:
            for key, poll in joined:
                poll.listeners -= 1
                if poll.listeners == 0:  # the last listener left: stop asking the upstream
                    poll.scope.cancel()
                    self._forget(key, poll)

    async def _poll(self, key: tuple[str, int], poll: _Poll, read: ReadMessage, status: str) -> None:
        tenant, message_id = key
        try:
            with poll.scope:
                for delay in poll_delays():
                    await anyio.sleep(delay)
                    try:
                        message = await read(message_id)
                    except Exception:  # the next poll tries again; listeners lose nothing but time
                        logger.warning("could not read message %d for its listeners", message_id, exc_info=True)
                        continue
                    if message.status != status:
                        status = message.status
                        await self._bus.publish_to(tenant, ResourceUpdated(uri=message_uri(message_id)))
                    if is_final(status):
                        return
        finally:
            self._forget(key, poll)

    def _forget(self, key: tuple[str, int], poll: _Poll) -> None:
        if self._polls.get(key) is poll:
            del self._polls[key]


class ListenAccess:
    """Server middleware for `subscriptions/listen`: the caller listens only to messages it may read."""

    def __init__(self, watch: DeliveryWatch) -> None:
        self._watch = watch
        self._open: Counter[str] = Counter()  # listen streams open, by tenant

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "subscriptions/listen":
            return await call_next(ctx)
        message_ids = _message_ids(ctx.params)
        if len(message_ids) > MAX_MESSAGES_PER_LISTEN:
            too_many = f"Not listening: one listen follows at most {MAX_MESSAGES_PER_LISTEN} messages; open another."
            raise MCPError(INVALID_PARAMS, too_many)
        runtime = cast(Runtime, ctx.lifespan_context)
        try:
            caller = runtime.for_request()
            messages = [await read_own_message(runtime, caller, message_id) for message_id in message_ids]
            api, _ = caller.require_api() if message_ids else (None, None)
        except ToolRefusal as exc:
            if not message_ids:
                return await call_next(ctx)  # nothing of ours asked for: the SDK serves the rest
            raise MCPError(INVALID_PARAMS, f"Not listening: {exc}") from None
        except Exception as exc:
            raise MCPError(INTERNAL_ERROR, f"Not listening: {failure_text(exc, sending=False)}") from None
        share = max(1, LISTEN_STREAMS // max(1, len(runtime.tenants)))
        if self._open[caller.name] >= share:  # else one tenant's streams could take every other tenant's
            raise MCPError(
                INVALID_PARAMS,
                f"Not listening: {share} listens of this tenant are open, the most it may "
                "have at once. Close one first.",
            )
        self._open[caller.name] += 1
        try:
            with listening_as(caller.name):
                if api is None:
                    return await call_next(ctx)
                try:
                    async with self._watch.watching(caller.name, api.get_message, messages):
                        return await call_next(ctx)
                except TooManyFollowed as exc:  # raised on entering, before the stream opens
                    raise MCPError(INVALID_PARAMS, str(exc)) from None
        finally:
            self._open[caller.name] -= 1


def _message_ids(params: Any) -> list[int]:
    """The message ids among the URIs a listen asks for; a malformed message URI is refused by name."""
    notifications = params.get("notifications") if isinstance(params, Mapping) else None
    uris = notifications.get("resourceSubscriptions") if isinstance(notifications, Mapping) else None
    ids: list[int] = []
    for uri in uris if isinstance(uris, list) else []:
        if isinstance(uri, str) and uri.startswith(MESSAGE_URI_PREFIX):
            ids.append(parse_message_id(uri.removeprefix(MESSAGE_URI_PREFIX), uri))
    return list(dict.fromkeys(ids))


def parse_message_id(text: str, uri: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 2**53 - 1:
        raise MCPError(INVALID_PARAMS, f"{uri} names no message: the id must be a whole number from 1, as given.")
    return int(text)
