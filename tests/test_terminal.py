"""Started by hand in a terminal, the stdio server says on stderr what it is and how to try it, Ctrl-C stops it,
and stdout still carries nothing but protocol. Started by a host (stdin a pipe), it says nothing of the kind."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from tests.processes import SERVER, server_env

pytestmark = pytest.mark.slow  # each test starts the server as a process

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
DEADLINE_SECONDS = 20


def read_until(stream: IO[bytes], wanted: bytes) -> bytes:
    """Read from a child's pipe until `wanted` has arrived (or the pipe closes, or the deadline passes)."""
    seen = b""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.2)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
    return seen


def json_lines(data: bytes) -> list[Any]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


@contextmanager
def server_in_a_terminal(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`smsai-mcp --sandbox` with a pseudo-terminal as stdin, as typed at a shell prompt; yields it and the
    terminal's controlling end, to type into."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*SERVER, "--sandbox"],
        env=server_env({"SMSAI_STATE_DIR": str(tmp_path / "state")}),
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    try:
        yield process, controller
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
        os.close(controller)


def test_started_by_hand_in_a_terminal_it_says_on_stderr_how_to_try_it(tmp_path: Path) -> None:
    with server_in_a_terminal(tmp_path) as (process, controller):
        assert process.stdout is not None
        assert process.stderr is not None
        text = read_until(process.stderr, b"Ctrl-C").decode()
        assert "speaks MCP on stdin and stdout" in text, text
        assert "MCP host" in text
        assert "npx @modelcontextprotocol/inspector smsai-mcp --sandbox" in text
        assert "Ctrl-C" in text
        # The note changes nothing for the protocol: a request typed into the terminal is answered on stdout.
        os.write(controller, json.dumps(INITIALIZE).encode() + b"\n")
        stdout = read_until(process.stdout, b"\n")
        [answer] = json_lines(stdout)
        assert answer["id"] == 1
        assert answer["result"]["serverInfo"]["name"]


def test_ctrl_c_stops_a_server_started_in_a_terminal(tmp_path: Path) -> None:
    with server_in_a_terminal(tmp_path) as (process, _):
        assert process.stderr is not None
        read_until(process.stderr, b"Ctrl-C")  # up and waiting for input
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            stdout, stderr = process.communicate(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError("Ctrl-C did not stop the server") from None
    assert stdout == b"", "nothing but protocol on stdout, and no request came"
    assert b"Traceback" not in stderr


def test_started_by_a_host_on_a_pipe_it_prints_no_terminal_note(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SERVER, "--sandbox"],
        env=server_env({"SMSAI_STATE_DIR": str(tmp_path / "state")}),
        input=json.dumps(INITIALIZE).encode() + b"\n",  # then stdin closes, which stops the server
        capture_output=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    [answer] = json_lines(done.stdout)
    assert answer["id"] == 1
    assert b"inspector" not in done.stderr.lower()
    assert b"Ctrl-C" not in done.stderr
