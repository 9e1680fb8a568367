"""smsai-mcp against a bare MCPServer baseline, side by side in one run, alternating, medians and ratios.

    python bench/bench.py [--runs 15] [--calls 200]

Measures (1) spawn until `tools/list` is answered over stdio, and (2) sequential `check_balance` latency
against the sandbox over loopback HTTP, where the baseline makes the same single pooled GET.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from smsai_mcp.sandbox import SANDBOX_TOKEN, SandboxConfig, create_app, running

HERE = Path(__file__).parent


def _servers(base_url: str) -> dict[str, StdioServerParameters]:
    env = {
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": base_url,
        "SMSAI_CONFIRM": "off",
        "SMSAI_STATE_DIR": tempfile.mkdtemp(prefix="smsai-bench-"),
    }
    return {
        "bare": StdioServerParameters(command=sys.executable, args=[str(HERE / "bare_server.py")], env=env),
        "smsai-mcp": StdioServerParameters(command=sys.executable, args=["-m", "smsai_mcp"], env=env),
    }


async def _startup(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with Client(params, mode="legacy") as client:
        await client.list_tools()
        return time.perf_counter() - started


async def _call_latency(params: StdioServerParameters, calls: int) -> list[float]:
    timings: list[float] = []
    async with Client(params, mode="legacy") as client:
        await client.call_tool("check_balance", {})  # warm: pool, price of imports on first use
        for _ in range(calls):
            started = time.perf_counter()
            result = await client.call_tool("check_balance", {})
            timings.append(time.perf_counter() - started)
            assert not result.is_error
    return timings


def _report(title: str, samples: dict[str, list[float]]) -> None:
    bare, ours = statistics.median(samples["bare"]), statistics.median(samples["smsai-mcp"])
    print(f"{title}: bare {bare * 1000:.1f} ms, smsai-mcp {ours * 1000:.1f} ms, ratio {ours / bare:.2f}x")  # noqa: T201


async def main(runs: int, calls: int) -> None:
    app = create_app(SandboxConfig(rate_limit_per_minute=1_000_000))
    with running(app) as base_url:
        servers = _servers(base_url)
        startup: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(runs):  # alternate, so drift on the machine hits both alike
            for name, params in servers.items():
                startup[name].append(await _startup(params))
        _report("startup (spawn to tools/list)", startup)
        latency: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(3):
            for name, params in servers.items():
                latency[name].extend(await _call_latency(params, calls // 3))
        _report("check_balance latency", latency)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    arguments = parser.parse_args()
    anyio.run(main, arguments.runs, arguments.calls)
