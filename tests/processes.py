"""Start the installed server as a user would: a child process speaking stdio or HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVER = [sys.executable, "-m", "smsai_mcp"]


def server_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment: no SMSAI_* variables of the developer's leak into a test."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSAI_")}
    env["SMSAI_STATE_DIR"] = tempfile.mkdtemp(prefix="smsai-test-state-")  # never the user's own ledger
    env["SMSAI_QUIET_HOURS"] = "off"  # on by default: a test that sends at night would fail; set it to test it
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stdio_server(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """The server over stdio, its stdin and stdout piped as bytes and its log dropped: the test speaks raw JSON-RPC."""
    return subprocess.Popen(
        [*SERVER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(env),
    )


@contextmanager
def http_server(args: list[str], env: Mapping[str, str], log: Path, *, keep_process: bool = False) -> Iterator[Any]:
    """Serve MCP over Streamable HTTP on a free loopback port; yields the /mcp URL (and the process, if asked)."""
    port = free_port()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*SERVER, "--transport", "http", "--port", str(port), *args],
            env=server_env(env),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited early: {log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            url = f"http://127.0.0.1:{port}/mcp"
            yield (url, process) if keep_process else url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
