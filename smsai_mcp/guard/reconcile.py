"""What became of a send whose answer never came: looked up in the sent list, and settled only on evidence.

An open attempt is settled when a listed message is its own: the same number and the same text as the API keeps
it, not claimed by another attempt. It is released only when a full lookup (every page back to before the
attempt, none failing, no candidate whose text the API would not say) made at least 15 minutes after it finds
nothing. Anything less leaves it unknown: its reservation counts and the same message or key is refused.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio

from smsai_mcp.client.api import SmsApi
from smsai_mcp.client.errors import ApiError
from smsai_mcp.client.models import Message, MessagePage
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.guard.stages import from_another_sender
from smsai_mcp.sms.phone import same_number
from smsai_mcp.sms.text import as_the_api_keeps_it
from smsai_mcp.state.store import Attempt, StateStore

__all__ = [
    "IN_FLIGHT_MARGIN_SECONDS",
    "OWNER",
    "SETTLE_AFTER_SECONDS",
    "Listing",
    "Lookup",
    "Reconciler",
    "body_sha256",
    "how_it_is_settled",
    "list_since",
    "owner_may_run",
]

logger = logging.getLogger(__name__)

# A send is bounded by the upstream timeout; a pending attempt older than that and this margin is not in flight.
IN_FLIGHT_MARGIN_SECONDS = 120
# A full lookup this long after an attempt that finds nothing shows it never went out: the API is done by then.
SETTLE_AFTER_SECONDS = 900
# How far back (seconds) a listed message may be dated before the attempt and still be it: clock skew.
LOOKUP_SKEW_SECONDS = 300
# A lookup gives up (and decides nothing) past this many pages: a runaway list, not an answer.
MAX_PAGES = 2_000
# host:pid:nonce of this process; the nonce tells a restarted process from an earlier one that had its pid.
OWNER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

Settle = Callable[[Attempt, Message], Awaitable[bool]]  # whether this call settled it


def how_it_is_settled(attempt_id: str) -> str:
    """The sentence that tells what settles an unknown outcome, for the model to pass on to a person."""
    return (
        "smsai-mcp settles it by itself once the sent list shows the message (or, 15 minutes on, shows that it "
        f"never went out), or a person can: `smsai-mcp attempts resolve {attempt_id} --sent MESSAGE_ID` or "
        "`--not-sent`."
    )


def body_sha256(body: str) -> str:
    return hashlib.sha256(as_the_api_keeps_it(body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Listing:
    messages: list[Message]  # every message listed since the time asked for, each once, oldest first
    complete: bool  # every page back to before that time was read, and none failed


@dataclass(frozen=True, slots=True)
class Lookup:
    found: Message | None
    conclusive: bool  # the listing was complete and every candidate's text was known


async def list_since(api: SmsApi, since: float, *, deadline: float = math.inf) -> Listing:
    """Every message the API lists from `since` on, reading pages newest first whichever order it lists in; a
    listing still unread at `deadline` (anyio's clock) is cut short, and so not complete."""
    read: dict[int, Message] = {}
    complete = False
    with anyio.CancelScope(deadline=deadline):
        try:
            complete = await _read_pages(api, since, read)
        except ApiError as exc:
            logger.info("a lookup could not read the sent list: %s", type(exc).__name__)
    return Listing(sorted(read.values(), key=lambda message: message.id), complete)


async def _read_pages(api: SmsApi, since: float, read: dict[int, Message]) -> bool:
    """Whether every page back to before `since` was read (keeping what they list in `read`)."""
    first = await api.list_messages(page=1)
    if not first.has_more:
        _keep(first, since, read)
        return True
    second = await api.list_messages(page=2)
    oldest_first = bool(first.data and second.data and first.data[0].id < second.data[0].id)
    if not oldest_first:  # newest first: forward, until a page all older than `since`
        return _keep(first, since, read) or await _forward(api, second, since, read, stop_when_older=True)
    _keep(first, since, read)
    last = max(first.meta.last_page, second.meta.last_page)
    if last <= 2:  # oldest first, but how many pages is not said: read them all
        return await _forward(api, second, since, read, stop_when_older=False)
    # Oldest first: back from the last page (earlier pages do not move as new messages arrive).
    _keep(second, since, read)
    lowest = max(2, last - MAX_PAGES)
    for number in range(last, lowest, -1):
        if _keep(await api.list_messages(page=number), since, read):
            return True
    return lowest == 2  # down to the two pages already read


async def _forward(
    api: SmsApi, page: MessagePage, since: float, read: dict[int, Message], *, stop_when_older: bool
) -> bool:
    number = 2
    while True:
        if _keep(page, since, read) and stop_when_older:
            return True
        if not page.data or not page.has_more:
            return True
        number += 1
        if number > MAX_PAGES:
            return False
        page = await api.list_messages(page=number)


def _keep(page: MessagePage, since: float, read: dict[int, Message]) -> bool:
    """Keep the page's messages; whether every one of them is dated before `since` (so older pages are too)."""
    read.update((message.id, message) for message in page.data)
    return bool(page.data) and all(_created_at(message) < since for message in page.data)


def _created_at(message: Message) -> float:
    if not message.created_at:
        return float("inf")  # undated: cannot rule it out by time
    try:
        moment = datetime.fromisoformat(message.created_at)
    except ValueError:
        return float("inf")
    # Without a zone it is the API's own time, UTC as Laravel keeps it; never this host's local time.
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


class Reconciler:
    """Looks open attempts up and settles them on evidence; one per tenant, shared by its guard."""

    def __init__(
        self,
        *,
        api: SmsApi,
        store: StateStore,
        audit: AuditLog,
        settle: Settle,
        clock: Callable[[], float],
        in_flight_seconds: float,
        look_up_seconds: float = math.inf,
    ) -> None:
        self._api = api
        self._store = store
        self._audit = audit
        self._settle = settle
        self._clock = clock
        self._in_flight_seconds = in_flight_seconds  # a pending attempt older than this is no longer in flight
        self._look_up_seconds = look_up_seconds  # how long a lookup right after a lost answer may take

    async def look_up(self, attempt: Attempt) -> Lookup:
        """The attempt's message in the sent list, if it is there (right after a lost answer, so no longer than one
        upstream request may take: a list that never ends is left to the background passes)."""
        claimed = await self._store.claimed_message_ids()
        deadline = anyio.current_time() + self._look_up_seconds
        listing = await list_since(self._api, attempt.created_at - LOOKUP_SKEW_SECONDS, deadline=deadline)
        with anyio.CancelScope(deadline=deadline):  # a listed message with its text matches even with no time left
            return await self._match(attempt, listing, claimed, {})
        return Lookup(None, conclusive=False)

    async def reconcile(self) -> int:
        """Settle what evidence allows of the open attempts; returns how many it settled or released."""
        now = self._clock()  # before the listing: a release needs a listing begun 15 minutes after the attempt
        due: list[Attempt] = []
        for attempt in await self._store.unresolved():
            if attempt.status == "pending":
                if not self.no_longer_in_flight(attempt, now):
                    continue
                if await self._store.mark_unknown(attempt.id):  # another process sharing the store may have
                    await self._record("unknown", attempt)
            due.append(attempt)
        if not due:
            return 0
        listing = await list_since(self._api, min(attempt.created_at for attempt in due) - LOOKUP_SKEW_SECONDS)
        claimed = await self._store.claimed_message_ids()
        shown: dict[int, Message | None] = {}  # messages asked for by id in this pass, for their text
        resolved = 0
        for attempt in due:
            lookup = await self._match(attempt, listing, claimed, shown)
            # Another process sharing the store may settle it first: its outcome is recorded once, by whoever did.
            if lookup.found is not None:
                claimed.add(lookup.found.id)
                if not await self._settle(attempt, lookup.found):
                    continue
                await self._record("sent", attempt, message_id=lookup.found.id)
            elif lookup.conclusive and now - attempt.created_at >= SETTLE_AFTER_SECONDS:
                if not await self._store.release(attempt.id):
                    continue
                await self._record("released", attempt)
            else:
                continue
            resolved += 1
        return resolved

    async def _record(self, event: str, attempt: Attempt, **fields: object) -> None:
        await self._audit.record(
            event=event, recipient=attempt.recipient, attempt=attempt.id, reconciled=True, **fields
        )

    def no_longer_in_flight(self, attempt: Attempt, now: float) -> bool:
        """Whether a pending attempt can no longer be in flight: its process died, or it is older than a send."""
        orphaned = attempt.owner != OWNER and _owner_is_dead(attempt.owner)
        return orphaned or now - attempt.created_at >= self._in_flight_seconds

    async def _match(
        self, attempt: Attempt, listing: Listing, claimed: set[int], shown: dict[int, Message | None]
    ) -> Lookup:
        """The listed message that is this attempt's: its number and its text; one the API will not say the
        text of may be it, so it makes the lookup inconclusive rather than being claimed. One of the same text from
        another sender is another send's, which may be one of ours that the API has not listed yet."""
        since = attempt.created_at - LOOKUP_SKEW_SECONDS
        undecided = False
        for message in listing.messages:
            if message.id in claimed or not same_number(message.to, attempt.recipient) or _created_at(message) < since:
                continue
            candidate = message if message.body is not None else await self._with_text(message, shown)
            if candidate is None or candidate.body is None:
                undecided = True
            elif body_sha256(candidate.body) == attempt.body_sha256:
                if not from_another_sender(candidate, attempt):
                    return Lookup(candidate, conclusive=True)
                undecided = True
        return Lookup(None, conclusive=listing.complete and not undecided)

    async def _with_text(self, message: Message, shown: dict[int, Message | None]) -> Message | None:
        if message.id not in shown:
            try:
                record = await self._api.get_message(message.id)
            except ApiError:
                record = None
            # A show answer that is another message's record says nothing of this one, and must not be claimed.
            same = record is not None and record.id == message.id and same_number(record.to, message.to)
            shown[message.id] = record if same else None
        return shown[message.id]


def owner_may_run(owner: str) -> bool:
    """Whether another process that made an attempt may still run (its POST in flight): it runs on this host, or
    it ran on another, where only the attempt's age can tell."""
    return owner != OWNER and not _owner_is_dead(owner)


def _owner_is_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: only age can tell
    if int(pid) == os.getpid():
        return True  # an earlier process that had this pid (OWNER differs): this one is its successor
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A process that died but that its parent has not waited for yet still answers kill(pid, 0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc here: only age can tell
    return stat.rpartition(")")[2].split()[:1] == ["Z"]  # the state follows the command name in parentheses
