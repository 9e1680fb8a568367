"""smsai-mcp against a bare MCPServer baseline, side by side in one run, alternating, medians and ratios.

    python bench/bench.py [--runs 15] [--calls 300] [--memory-calls 10000] [--http-clients 20]

1. spawn until `tools/list` is answered over stdio;
2. sequential `check_balance` latency against the sandbox over loopback HTTP (the baseline makes the same
   single pooled GET);
3. upstream requests per `send_sms` in steady state (must be 1);
4. the same latency over Streamable HTTP with many concurrent clients, and the throughput;
5. resident memory of the server after 1,000 and after `--memory-calls` calls.
The baseline is bench/bare_server.py. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from smsai_mcp.sandbox import SANDBOX_TOKEN, SandboxConfig, create_app, running
from tests.processes import free_port

HERE = Path(__file__).parent
NAMES = ("bare", "smsai-mcp")


def _env(base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": base_url,
        "SMSAI_CONFIRM": "off",
        "SMSAI_MAX_PER_RECIPIENT_PER_HOUR": "1000000",
        "SMSAI_DAILY_BUDGET_USD": "1000000",
        "SMSAI_STATE_DIR": tempfile.mkdtemp(prefix="smsai-bench-"),
    }


def _command(name: str) -> list[str]:
    return [sys.executable, str(HERE / "bare_server.py")] if name == "bare" else [sys.executable, "-m", "smsai_mcp"]


def _stdio(name: str, base_url: str) -> StdioServerParameters:
    command = _command(name)
    return StdioServerParameters(command=command[0], args=command[1:], env=_env(base_url))


async def _startup(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        await client.list_tools()
        return time.perf_counter() - started


async def _timed_calls(
    client: Client, calls: int, arguments: Callable[[int], tuple[str, dict[str, object]]]
) -> list[float]:
    timings = []
    for n in range(calls):
        tool, args = arguments(n)
        started = time.perf_counter()
        result = await client.call_tool(tool, args)
        timings.append(time.perf_counter() - started)
        assert not result.is_error, result
    return timings


def _balance(_: int) -> tuple[str, dict[str, object]]:
    return "check_balance", {}


def _child_rss_kib(command_part: str) -> int:
    """Resident memory of this process's child that runs `command_part` (Linux /proc)."""
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == me and command_part in cmdline:
            return int(fields["VmRSS"].split()[0])
    raise RuntimeError(f"no child process running {command_part}")


def _report(title: str, samples: dict[str, list[float]], unit: str = "ms", scale: float = 1000) -> None:
    bare, ours = statistics.median(samples["bare"]), statistics.median(samples["smsai-mcp"])
    print(f"{title}: bare {bare * scale:.1f} {unit}, smsai-mcp {ours * scale:.1f} {unit}, ratio {ours / bare:.2f}x")  # noqa: T201


async def _http_round(name: str, base_url: str, clients: int, calls: int) -> tuple[list[float], float]:
    port = free_port()
    command = (
        [*_command(name), "--port", str(port)]
        if name == "bare"
        else [*_command(name), "--transport", "http", "--port", str(port)]
    )
    # Started once per round, before any timing, so a blocking spawn costs the measurement nothing.
    process = subprocess.Popen(command, env=_env(base_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603, ASYNC220
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        async with httpx2.AsyncClient() as probe:
            for _ in range(200):
                try:
                    await probe.get(url.removesuffix("/mcp") + "/healthz")
                    break
                except httpx2.TransportError:
                    await anyio.sleep(0.05)
        timings: list[float] = []

        async def one_client() -> None:
            async with (
                httpx2.AsyncClient(timeout=60) as http,
                Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
            ):
                await client.call_tool("check_balance", {})
                timings.extend(await _timed_calls(client, calls, _balance))

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(clients):
                group.start_soon(one_client)
        return timings, clients * calls / (time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=10)


async def main(runs: int, calls: int, memory_calls: int, http_clients: int) -> None:
    app = create_app(SandboxConfig(rate_limit_per_minute=10**9, credits_usd=__import__("decimal").Decimal("1000000")))
    with running(app) as base_url:
        startup: dict[str, list[float]] = {name: [] for name in NAMES}
        for _ in range(runs):  # alternate, so drift on the machine hits both alike
            for name in NAMES:
                startup[name].append(await _startup(_stdio(name, base_url)))
        _report("startup (spawn to tools/list, stdio)", startup)

        latency: dict[str, list[float]] = {name: [] for name in NAMES}
        for _ in range(3):
            for name in NAMES:
                async with Client(_stdio(name, base_url), mode="legacy") as client:
                    await client.call_tool("check_balance", {})  # warm: the pool, first-use imports
                    latency[name].extend(await _timed_calls(client, calls // 3, _balance))
        _report("check_balance latency (stdio)", latency)

        async with Client(_stdio("smsai-mcp", base_url), mode="legacy") as client:
            await client.call_tool("send_sms", {"to": "+12025551234", "body": "warm"})
            before = len(app.state.requests)
            sends = 50
            await _timed_calls(client, sends, lambda n: ("send_sms", {"to": "+12025551234", "body": f"bench {n}"}))
            print(f"upstream requests per send_sms (steady state): {(len(app.state.requests) - before) / sends:.2f}")  # noqa: T201

        http_latency: dict[str, list[float]] = {}
        throughput: dict[str, list[float]] = {}
        for name in NAMES:
            timings, per_second = await _http_round(name, base_url, http_clients, max(calls // 10, 10))
            http_latency[name], throughput[name] = timings, [per_second]
        _report(f"check_balance latency (HTTP, {http_clients} concurrent clients)", http_latency)
        _report("check_balance throughput (HTTP)", throughput, unit="calls/s", scale=1)

        for name in NAMES:
            async with Client(_stdio(name, base_url), mode="legacy") as client:
                await _timed_calls(client, 1000, _balance)
                after_1k = _child_rss_kib("bare_server.py" if name == "bare" else "smsai_mcp")
                await _timed_calls(client, memory_calls - 1000, _balance)
                after_all = _child_rss_kib("bare_server.py" if name == "bare" else "smsai_mcp")
            print(  # noqa: T201
                f"memory {name}: {after_1k / 1024:.1f} MiB after 1,000 calls, {after_all / 1024:.1f} MiB after "
                f"{memory_calls:,}, growth {(after_all - after_1k) / 1024:.2f} MiB"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--memory-calls", type=int, default=10_000)
    parser.add_argument("--http-clients", type=int, default=20)
    arguments = parser.parse_args()
    anyio.run(main, arguments.runs, arguments.calls, arguments.memory_calls, arguments.http_clients)
