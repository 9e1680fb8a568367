"""Review of the performance round: the lazily built send guard, the start's garbage collector switch."""

from __future__ import annotations

import gc

import pytest

from smsai_mcp import serve
from smsai_mcp.config import Settings
from smsai_mcp.guard import pipeline
from smsai_mcp.runtime import LiveRuntime
from smsai_mcp.sandbox import Sandbox
from tests.guard_helpers import assert_nothing_sent, connect, send

pytestmark = pytest.mark.anyio


class _WarmUpFails(LiveRuntime):
    def warm(self) -> None:
        raise OSError("the trust store could not be read")


def test_a_warm_up_that_raises_still_turns_collections_back_on() -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # as cli.py leaves a stdio start
    try:
        serve.warm_then_collect(_WarmUpFails(warm_when_listed=True))
        assert gc.isenabled()  # else a long-running stdio server never collects a cycle again
    finally:
        if was_enabled:
            gc.enable()


def _no_guard(*args: object, **kwargs: object) -> None:
    raise ImportError("the send path could not be loaded")


@pytest.mark.parametrize("era", ["legacy", "auto"])
async def test_a_guard_that_cannot_be_built_says_nothing_was_sent(
    era: str, settings: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline.SendGuard, "__init__", _no_guard)
    async with connect(settings, era) as client:  # the warm-up at start fails too: the server keeps serving
        first = await send(client)
        again = await send(client)
        balance = await client.call_tool("list_opt_outs", {})
    assert_nothing_sent(first, sandbox, posts_so_far=0, says="could not load")
    assert_nothing_sent(again, sandbox, posts_so_far=0, says="could not load")
    assert balance.is_error
