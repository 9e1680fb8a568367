"""Pause: after `smsai-mcp pause`, every send of everyone sharing the state store is refused until `resume`.

It runs before input validation (and again just before the POST, in guard/send.py): during an incident nothing
about the message matters. It is not a `Step`, since it needs no prepared send, only the store.
"""

from __future__ import annotations

from smsai_mcp.guard.refusal import Refusal, utc_time
from smsai_mcp.state.store import Pause, StateStore

__all__ = ["pause_refusal", "refuse_if_paused"]


async def refuse_if_paused(store: StateStore) -> None:
    pause = await store.pause_state()
    if pause is not None:
        raise pause_refusal(pause)


def pause_refusal(pause: Pause) -> Refusal:
    why = f": {pause.reason}" if pause.reason else " (no reason was given)"
    return Refusal(
        f"Sending is paused on this server since {utc_time(pause.since)}{why}. Reads keep working. Do not retry "
        "until the user says sending is back on; an operator resumes it with `smsai-mcp resume`.",
        code="paused",
    )
