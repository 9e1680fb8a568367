"""Review of the performance round: the lazily built send guard, the start's garbage collector switch."""

from __future__ import annotations

import gc
import socket

import pytest

from smsai_mcp import serve
from smsai_mcp.config import Settings
from smsai_mcp.guard import pipeline
from smsai_mcp.runtime import LiveRuntime
from smsai_mcp.sandbox import Sandbox
from tests.guard_helpers import assert_nothing_sent, connect, send
from tests.test_header_deadline import DEADLINE_SECONDS, answer, seconds_until_closed, serving


class _WarmUpFails(LiveRuntime):
    def warm(self) -> None:
        raise OSError("the trust store could not be read")


def test_a_warm_up_that_raises_still_turns_collections_back_on() -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # as cli.py leaves a stdio start
    try:
        serve.warm_and_resume_collections(_WarmUpFails(warm_when_listed=True))
        assert gc.isenabled()  # else a long-running stdio server never collects a cycle again
    finally:
        if was_enabled:
            gc.enable()


def _no_guard(*args: object, **kwargs: object) -> None:
    raise ImportError("the send path could not be loaded")


@pytest.mark.anyio
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


@pytest.mark.slow  # waits out a header deadline of half a second
def test_a_body_left_unfinished_after_an_early_answer_does_not_hold_the_connection_forever() -> None:
    # An answer that comes before the body is read (a 401, say); one byte of the body then cancels uvicorn's
    # keep-alive timer, and nothing else watched the connection.
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 200")  # slow_app answers without reading the body
        sock.sendall(b"x")
        assert seconds_until_closed(sock) < DEADLINE_SECONDS * 3


@pytest.mark.slow
def test_a_body_finished_after_an_early_answer_leaves_no_idle_connection_unwatched() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n")
        assert answer(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"xy")  # the body ends: the connection is idle, and no keep-alive timer runs any more
        assert seconds_until_closed(sock) < DEADLINE_SECONDS * 3
