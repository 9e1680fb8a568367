"""Serving MCP over stdio so that closing stdin does not swallow answers.

The SDK treats the end of stdin as the end of the connection and cancels every handler still running, so a
send whose POST is already in flight would go out with nobody told. Here the SDK serves, through its public
`run_stdio_async`, a pipe in place of stdin and another in place of stdout; two threads copy the real streams
through them, noting each request read and each answer written, and the end of stdin reaches the SDK only once
every request read so far has been answered (or a grace period has passed).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from mcp.server import MCPServer

__all__ = ["STDIN_CLOSE_GRACE_SECONDS", "Unanswered", "serve_stdio", "serve_stdio_async"]

logger = logging.getLogger(__name__)

# How long answers may still be awaited after stdin closes: a send's upstream timeout, with room to spare.
STDIN_CLOSE_GRACE_SECONDS = 60.0
_CHUNK = 65_536
_DRAIN_SECONDS = 10.0  # how long the last answers may take to reach the real stdout once the SDK has stopped
# Written after the SDK's last answer: JSON text never holds a raw NUL, and a pipe keeps order, so the writer
# that reaches it has copied everything (the SDK keeps its own copy of stdout, so the pipe never reports its end).
_END_MARK = b"\0"
# A 2026-07-28 listen is a stream that lasts until its client goes: waiting for its answer held every exit.
_NEVER_ANSWERED = frozenset({"subscriptions/listen"})
# The SDK reads stdin as UTF-8 text with universal newlines: a lone CR ends a line as LF does.
_LINE_END = re.compile(rb"\r\n|\r|\n")
RequestKey = tuple[type, int | str]  # the id's type too: 1 and "1" are different requests


class Unanswered:
    """The ids of the client's requests that have not been answered yet; read and written from two threads."""

    def __init__(self, after_first_answer: Callable[[], None] | None = None) -> None:
        # Counted, not a set: a client may reuse an id, and the SDK answers each request it ran.
        self._ids: Counter[RequestKey] = Counter()
        self._listens: Counter[RequestKey] = Counter()  # never in flight; an answer to one is not a call's
        self._changed = threading.Condition()
        self._awaited: set[RequestKey] = set()  # the requests past `initialize`, until one is answered
        self._after_first_answer = after_first_answer

    def read(self, line: bytes) -> None:
        for message in _messages(line):
            request = _key(message.get("id"))
            method = message.get("method")
            if not isinstance(method, str):  # a list for a method would end this thread; the SDK runs no such request
                continue
            if method in _NEVER_ANSWERED:
                if request is not None:
                    with self._changed:
                        self._listens[request] += 1
            elif request is not None:
                with self._changed:
                    self._ids[request] += 1
                    if method != "initialize" and self._after_first_answer is not None:
                        self._awaited.add(request)
            elif method == "notifications/cancelled":
                params = message.get("params")
                cancelled = _key(params.get("requestId") if isinstance(params, dict) else None)
                if cancelled is not None:  # a cancelled request is never answered
                    self._forget(cancelled)

    def written(self, line: bytes) -> None:
        for message in _messages(line):
            answered = _key(message.get("id"))
            if "method" not in message and ("result" in message or "error" in message) and answered is not None:
                self._forget(answered)
                self._first_answer(answered)

    def _first_answer(self, key: RequestKey) -> None:
        with self._changed:
            after = self._after_first_answer
            if after is None or key not in self._awaited:
                return
            self._after_first_answer = None
            self._awaited.clear()
        # Once, on its own thread: the copy to stdout goes on while the send path loads.
        threading.Thread(target=after, name="smsai-after-first-answer", daemon=True).start()

    def _forget(self, key: RequestKey) -> None:
        # An id a listen shares is taken as the listen's first: at worst a call's answer is awaited past its time.
        with self._changed:
            if not _take_one(self._listens, key):
                _take_one(self._ids, key)
            self._changed.notify_all()

    def wait_until_none(self, timeout: float) -> bool:
        """Whether every request was answered within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._ids, timeout=timeout)

    def __len__(self) -> int:
        with self._changed:
            return self._ids.total()


def _take_one(counts: Counter[RequestKey], key: RequestKey) -> bool:
    if counts[key] <= 0:
        counts.pop(key, None)
        return False
    counts[key] -= 1
    if not counts[key]:
        del counts[key]
    return True


def _key(value: object) -> RequestKey | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return (type(value), value)


def _messages(line: bytes) -> list[dict[str, Any]]:
    try:
        # As the SDK reads it: a byte that is not UTF-8 replaced, so a request it runs is never one missed here.
        parsed = json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # nested past the stack: the SDK refuses it too (at far less depth)
        return []  # not JSON-RPC: the SDK answers what it can of it
    items = parsed if isinstance(parsed, list) else [parsed]
    return [item for item in items if isinstance(item, dict)]


def _lines(pending: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    *complete, rest = _LINE_END.split(pending + chunk)
    return complete, rest


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _copy_stdin(wire: int, to_sdk: int, unanswered: Unanswered, grace: float) -> None:
    """Real stdin into the SDK's pipe, noting requests before the SDK can see them; its end held back."""
    pending = b""
    last = b"\n"
    try:
        while chunk := os.read(wire, _CHUNK):
            complete, pending = _lines(pending, chunk)
            for line in complete:
                unanswered.read(line)
            _write_all(to_sdk, chunk)
            last = chunk[-1:]
        unanswered.read(pending)
        if last != b"\n":
            # The SDK takes a last line, or one ended by a lone CR, only once it reads past it: it is ended here,
            # since stdin's end reaches the SDK only once that line is answered.
            _write_all(to_sdk, b"\n")
        if len(unanswered):
            logger.info("stdin closed with %d request(s) in flight; answering them first", len(unanswered))
            if not unanswered.wait_until_none(grace):
                logger.warning("stdin closed: %d request(s) unanswered after %.0fs", len(unanswered), grace)
    except OSError:  # the SDK stopped reading: nothing more to hand it
        pass
    finally:
        os.close(to_sdk)


def _copy_stdout(from_sdk: int, wire: int, unanswered: Unanswered) -> None:
    """The SDK's pipe onto real stdout, up to the end mark; an answer counts once it is on the wire."""
    pending = b""
    try:
        while chunk := os.read(from_sdk, _CHUNK):
            chunk, end, _ = chunk.partition(_END_MARK)
            _write_all(wire, chunk)
            if end:
                break
            complete, pending = _lines(pending, chunk)
            for line in complete:
                unanswered.written(line)
    finally:
        os.close(from_sdk)


async def serve_stdio_async(
    mcp: MCPServer[Any],
    *,
    grace_seconds: float = STDIN_CLOSE_GRACE_SECONDS,
    after_first_answer: Callable[[], None] | None = None,
) -> None:
    """`after_first_answer` runs once, on a thread of its own, when the first answer to a request past
    `initialize` is on the wire: a host's `tools/list`, at start."""
    unanswered = Unanswered(after_first_answer)
    sys.stdout.flush()
    wire_in, wire_out = os.dup(0), os.dup(1)
    sdk_in, into_sdk = os.pipe()
    from_sdk, sdk_out = os.pipe()
    os.dup2(sdk_in, 0)
    os.dup2(sdk_out, 1)
    os.close(sdk_in)
    reader = threading.Thread(
        target=_copy_stdin, args=(wire_in, into_sdk, unanswered, grace_seconds), name="stdin", daemon=True
    )
    writer = threading.Thread(target=_copy_stdout, args=(from_sdk, wire_out, unanswered), name="stdout", daemon=True)
    reader.start()
    writer.start()
    try:
        await mcp.run_stdio_async()
    finally:
        sys.stdout.flush()
        os.dup2(wire_in, 0)  # the real streams back; the SDK's pipe ends close, so the writer drains and stops
        os.dup2(wire_out, 1)
        _write_all(sdk_out, _END_MARK)
        os.close(sdk_out)
        await anyio.to_thread.run_sync(writer.join, _DRAIN_SECONDS)
        os.close(wire_out)


def serve_stdio(mcp: MCPServer[Any], *, after_first_answer: Callable[[], None] | None = None) -> None:
    """MCPServer.run() for stdio, except that closing stdin lets the calls in flight answer first."""
    anyio.run(functools.partial(serve_stdio_async, mcp, after_first_answer=after_first_answer))
