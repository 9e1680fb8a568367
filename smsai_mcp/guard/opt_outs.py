"""The do-not-text list as the tools and the command line change it: in the state store, each change audited.

The audit line has the masked number and what changed, never the note: a note may be personal ("asked by her
lawyer"). Whether a person agreed to a removal is the caller's business (the tool asks; the command is the person).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.state.store import OptOut, StateStore

__all__ = ["OPT_OUTS_PER_PAGE", "OptOutPage", "OptOuts"]

logger = logging.getLogger(__name__)

OPT_OUTS_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class OptOutPage:
    entries: list[OptOut]
    page: int
    has_more: bool
    total: int


class OptOuts:
    def __init__(self, store: StateStore, audit: AuditLog, clock: Callable[[], float]) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    async def add(self, number: str, note: str | None, *, by: str) -> OptOut:
        entry = await self._store.add_opt_out(number, note, now=self._clock())
        await self._record("opt_out_added", number, by)
        return entry

    async def remove(self, number: str, *, by: str) -> bool:
        removed = await self._store.remove_opt_out(number)
        if removed:
            await self._record("opt_out_removed", number, by)
        return removed

    async def find(self, number: str) -> OptOut | None:
        return await self._store.opt_out(number)

    async def page(self, page: int) -> OptOutPage:
        offset = (page - 1) * OPT_OUTS_PER_PAGE
        entries, total = await self._store.list_opt_outs(offset=offset, limit=OPT_OUTS_PER_PAGE)
        return OptOutPage(entries, page, has_more=offset + len(entries) < total, total=total)

    async def _record(self, event: str, number: str, by: str) -> None:
        try:
            await self._audit.record(event=event, recipient=number, by=by)
        except OSError:  # the list changed either way; a full disk must not make it look as if it had not
            logger.warning("the audit log could not record an opt-out change", exc_info=True)
