"""HTTP throughput of a server under load: wrk with bench/mcp_call.lua when installed, else a Python fallback.

wrk (Debian's `wrk` package) is a C load generator, so it is not the bottleneck; the fallback is, on a small
machine, and the bench says so when it uses it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2

HERE = Path(__file__).parent
HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "Mcp-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
}
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Load:
    calls_per_second: float
    p50_ms: float
    errors: int
    generator: str


def http_command(name: str, port: int) -> list[str]:
    if name == "bare":
        return [sys.executable, str(HERE / "bare_server.py"), "--port", str(port)]
    return [sys.executable, "-m", "smsai_mcp", "--transport", "http", "--port", str(port)]


@contextmanager
def serving(command: list[str], env: Mapping[str, str], port: int) -> Iterator[str]:
    """The server started before any timing, stopped after; yields its /mcp URL once it answers."""
    process = subprocess.Popen(command, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx2.post(url, json={}, headers=HEADERS, timeout=2)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def load(url: str, tool: str, clients: int, seconds: float) -> Load:
    wrk = shutil.which("wrk")
    if wrk is None:
        return anyio.run(_python_load, url, tool, clients, seconds)
    threads = min(clients, 2)
    run = subprocess.run(  # noqa: S603
        [
            wrk,
            f"-t{threads}",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(HERE / "mcp_call.lua"),
            url,
        ],
        env={**os.environ, "MCP_TOOL": tool},
        capture_output=True,
        text=True,
        check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", run.stdout).group(1))  # type: ignore[union-attr]
    errors = int(re.search(r"MCP_ERRORS (\d+)", run.stdout).group(1))  # type: ignore[union-attr]
    errors += int(match.group(1)) if (match := re.search(r"Non-2xx or 3xx responses: (\d+)", run.stdout)) else 0
    p50 = float(re.search(r"MCP_P50_MS ([\d.]+)", run.stdout).group(1))  # type: ignore[union-attr]
    return Load(rate, p50, errors, "wrk")


async def _python_load(url: str, tool: str, clients: int, seconds: float) -> Load:
    print("wrk is not installed (apt-get install wrk): using a Python load generator, which may be the bottleneck")  # noqa: T201
    timings: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def one_client(n: int) -> None:
        nonlocal errors
        async with httpx2.AsyncClient(timeout=60, headers={**HEADERS, "Mcp-Name": tool}) as http:
            count = 0
            while time.monotonic() < deadline:
                count += 1
                arguments = {"to": "+12025551234", "body": f"bench {n}-{count}"} if tool == "send_sms" else {}
                body = {
                    "jsonrpc": "2.0",
                    "id": count,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": arguments, "_meta": META},
                }
                started = time.perf_counter()
                answer = await http.post(url, json=body)
                timings.append(time.perf_counter() - started)
                errors += answer.status_code != 200 or '"isError":true' in answer.text

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for n in range(clients):
            group.start_soon(one_client, n)
    timings.sort()
    return Load(len(timings) / (time.monotonic() - started), timings[len(timings) // 2] * 1000, errors, "python")
