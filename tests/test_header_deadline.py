"""The header deadline, on a real uvicorn server and real sockets: a request whose headers stall is cut off, a
connection that says nothing is cut off, and a request that arrives whole is served however long it then takes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from smsai_mcp.service.header_deadline import with_header_deadline

DEADLINE_SECONDS = 0.5
pytestmark = pytest.mark.slow  # each waits out a deadline of half a second, and an answer as long

WHOLE_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers after 1.5 deadlines: a slow answer is not a slow request."""
    if scope["type"] != "http":
        return
    await anyio.sleep(DEADLINE_SECONDS * 1.5)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def serving() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        slow_app, log_config=None, access_log=False, lifespan="off", http=with_header_deadline(DEADLINE_SECONDS)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def seconds_until_closed(sock: socket.socket, limit: float = 5.0) -> float:
    """Reads (and drops) answers until the server closes the connection; the seconds that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(4096):
        pass
    return time.monotonic() - started


def answer(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    received = b""
    while not received.endswith(b"ok"):
        chunk = sock.recv(4096)
        assert chunk, f"closed before the answer: {received!r}"
        received += chunk
    return received


def test_a_connection_that_sends_nothing_is_closed_at_the_deadline() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        assert DEADLINE_SECONDS * 0.8 < seconds_until_closed(sock) < DEADLINE_SECONDS + 2


def test_a_request_stalled_half_way_through_its_headers_is_closed_at_the_deadline() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(WHOLE_REQUEST[:20])
        assert seconds_until_closed(sock) < DEADLINE_SECONDS + 2


def test_a_second_request_stalled_on_a_kept_alive_connection_is_closed_at_the_deadline() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(WHOLE_REQUEST)
        assert answer(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(WHOLE_REQUEST[:20])  # uvicorn's keep-alive timer stops at the first byte; the deadline starts
        assert seconds_until_closed(sock) < DEADLINE_SECONDS + 2


def test_a_half_request_sent_behind_a_whole_one_is_closed_at_the_deadline_after_the_answer() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(WHOLE_REQUEST + WHOLE_REQUEST[:20])  # pipelined: the rest of the second never comes
        assert answer(sock).startswith(b"HTTP/1.1 200")
        assert seconds_until_closed(sock) < DEADLINE_SECONDS + 2


def test_whole_requests_answered_slower_than_the_deadline_are_all_served_on_one_connection() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(3):  # each answer takes longer than the deadline, and the next request follows at once
            sock.sendall(WHOLE_REQUEST)
            assert answer(sock).startswith(b"HTTP/1.1 200")
