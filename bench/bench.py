"""smsai-mcp against a bare MCPServer baseline, side by side in one run, alternating, medians and ratios.

    python bench/bench.py [--runs 10] [--calls 300] [--seconds 5] [--http-rounds 3] [--ledger-rows 100000,1000000]
        [--memory-calls 5000] [--only ledger|http]

The upstream is the sandbox in a process of its own (bench/upstream.py); the baseline is bench/bare_server.py,
logging as smsai-mcp does (nothing per request). HTTP load comes from wrk (bench/mcp_call.lua, 2026-07-28
requests, no session) when installed. Prints a Markdown table in the README's format; stops by itself.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import anyio
import anyio.to_thread
import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_measures
import ledger_growth
import stdio_measures

from smsai_mcp.sandbox import SANDBOX_TOKEN
from tests.processes import free_port

HERE = Path(__file__).parent
NAMES = ("bare", "smsai-mcp")
Row = tuple[str, str, str, str, str]


def server_env(base_url: str, state_dir: str | None = None) -> dict[str, str]:
    # Both servers start as an installed one does: from compiled bytecode (see compile_both), never recompiling.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SMSAI_") and key != "PYTHONDONTWRITEBYTECODE"
    }
    return {
        **env,
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": base_url,
        "SMSAI_CONFIRM": "off",
        "SMSAI_QUIET_HOURS": "off",
        "SMSAI_DUPLICATE_WINDOW_SECONDS": "0",
        "SMSAI_MAX_PER_RECIPIENT_PER_HOUR": "1000000",
        "SMSAI_MAX_RECIPIENTS_PER_HOUR": "1000000",
        "SMSAI_MAX_PER_NUMBER_BLOCK_PER_HOUR": "1000000",
        "SMSAI_DAILY_BUDGET_USD": "1000000",
        "SMSAI_STATE_DIR": state_dir or tempfile.mkdtemp(prefix="smsai-bench-"),
    }


@contextmanager
def upstream() -> Iterator[str]:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(HERE / "upstream.py"), str(free_port())], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=15)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def compared(title: str, samples: dict[str, list[float]], target: str) -> Row:
    bare, ours = statistics.median(samples["bare"]), statistics.median(samples["smsai-mcp"])
    return shown_now((title, ms(bare), ms(ours), f"{ours / bare:.2f}x", target))


def paired(title: str, rates: dict[str, list[float]], target: str) -> Row:
    """Throughputs measured in back-to-back pairs: the ratio is the median of each pair's own ratio, so a slow spell
    of the machine that spans one pair does not move it (the medians of the rates are shown beside it)."""
    bare, ours = statistics.median(rates["bare"]), statistics.median(rates["smsai-mcp"])
    ratio = statistics.median(mine / theirs for mine, theirs in zip(rates["smsai-mcp"], rates["bare"], strict=True))
    return shown_now((title, f"{bare:.0f} calls/s", f"{ours:.0f} calls/s", f"{ratio:.2f}x", target))


def shown_now(row: Row) -> Row:
    """A row on stderr as soon as it is measured, so a long run that fails later still tells what it found."""
    print("| " + " | ".join(row) + " |", file=sys.stderr, flush=True)  # noqa: T201
    return row


async def stdio_rows(base_url: str, runs: int, calls: int, memory_calls: int) -> list[Row]:
    params = {name: stdio_measures.stdio(name, server_env(base_url)) for name in NAMES}
    start: dict[str, list[float]] = {name: [] for name in NAMES}
    first: dict[str, list[float]] = {name: [] for name in NAMES}
    first_at_once: dict[str, list[float]] = {name: [] for name in NAMES}
    steady: dict[str, list[float]] = {name: [] for name in NAMES}
    for _ in range(runs):  # alternate, so drift on the machine hits both alike
        for name in NAMES:
            start[name].append(await stdio_measures.startup(params[name]))
            first[name].append(await stdio_measures.first_call(params[name], pause=1.0))
            first_at_once[name].append(await stdio_measures.first_call(params[name]))
    for _ in range(3):
        for name in NAMES:
            steady[name].extend(await stdio_measures.latency(params[name], calls // 3))
    rows = [
        compared("spawn to `tools/list` answered (stdio)", start, "1.05x or less"),
        compared("first `tools/call`, 1 s after `tools/list` (stdio)", first, "2x or less"),
        compared("first `tools/call`, at once after `tools/list` (stdio)", first_at_once, ""),
        compared("`check_balance` latency (stdio, sequential)", steady, "1.05x or less"),
    ]
    growth = {}
    for name in NAMES:
        after_1k, after_all = await stdio_measures.memory(params[name], memory_calls)
        growth[name] = f"{(after_all - after_1k) / 1024:.2f} MiB"
    rows.append(
        shown_now((f"memory growth from 1,000 to {memory_calls:,} calls", growth["bare"], growth["smsai-mcp"], "", ""))
    )
    return rows


async def upstream_posts_per_send(base_url: str) -> float:
    async with (
        stdio_measures.connect(stdio_measures.stdio("smsai-mcp", server_env(base_url))) as client,
        httpx2.AsyncClient() as http,
    ):
        counts_url = base_url.removesuffix("/api/v1") + "/_sandbox/requests"
        await client.call_tool("send_sms", {"to": "+12025551234", "body": "warm"})
        before = sum((await http.get(counts_url)).json()["counts"].values())
        sends = 50
        await stdio_measures.timed_calls(
            client, sends, lambda n: ("send_sms", {"to": "+12025551234", "body": f"posts {n}"})
        )
        return (sum((await http.get(counts_url)).json()["counts"].values()) - before) / sends


async def http_rows(base_url: str, seconds: float, rounds: int) -> list[Row]:
    rows: list[Row] = []
    generators = set()
    for clients in (1, 10, 50):
        rate: dict[str, list[float]] = {name: [] for name in NAMES}
        async with AsyncExitStack() as servers:
            urls = {}
            for name in NAMES:  # both up at once, loaded in turn: an idle server costs the other nothing
                port = free_port()
                command = http_measures.http_command(name, port)
                urls[name] = servers.enter_context(http_measures.serving(command, server_env(base_url), port))
                await anyio.to_thread.run_sync(http_measures.load, urls[name], "check_balance", clients, 2)  # warm
            for round_number in range(rounds):  # in pairs, each round in the other order: drift hits both alike
                for name in NAMES if round_number % 2 == 0 else NAMES[::-1]:
                    result = await anyio.to_thread.run_sync(
                        http_measures.load, urls[name], "check_balance", clients, seconds
                    )
                    assert result.errors == 0, f"{name}: {result.errors} failed calls"
                    rate[name].append(result.calls_per_second)
                    generators.add(result.generator)
        rows.append(paired(f"`check_balance` throughput (HTTP, {clients} clients)", rate, "0.95x or more"))
    port = free_port()
    with http_measures.serving(http_measures.http_command("smsai-mcp", port), server_env(base_url), port) as url:
        await anyio.to_thread.run_sync(http_measures.load, url, "send_sms", 10, 2)
        sends = await anyio.to_thread.run_sync(http_measures.load, url, "send_sms", 10, seconds)
    assert sends.errors == 0, f"{sends.errors} failed sends"
    rows.append(
        shown_now(("`send_sms` throughput (HTTP, 10 clients)", "", f"{sends.calls_per_second:.0f} calls/s", "", ""))
    )
    print(f"HTTP load generator: {', '.join(sorted(generators))}", file=sys.stderr)  # noqa: T201
    return rows


async def ledger_rows(base_url: str, sizes: list[int], sends: int) -> list[Row]:
    """One server per ledger size, all running at once, timed in turn send by send, so that the machine's load
    weighs on every size alike."""
    timings: dict[int, list[float]] = {}
    async with AsyncExitStack() as servers:
        clients = {}
        for rows in [0, *sizes]:
            state_dir = tempfile.mkdtemp(prefix="smsai-bench-ledger-")
            started = time.perf_counter()
            if rows:
                await ledger_growth.seed_ledger(Path(state_dir), rows)
            print(f"ledger of {rows:,} rows written in {time.perf_counter() - started:.1f} s", file=sys.stderr)  # noqa: T201
            params = stdio_measures.stdio("smsai-mcp", server_env(base_url, state_dir))
            clients[rows] = await servers.enter_async_context(stdio_measures.connect(params))
            await clients[rows].call_tool("send_sms", {"to": "+12025551234", "body": "warm"})
            timings[rows] = []
        for n in range(sends):
            for rows, client in clients.items():
                arguments = {"to": f"+1202555{n % 10000:04d}", "body": f"ledger {n}"}
                started = time.perf_counter()
                result = await client.call_tool("send_sms", arguments)
                timings[rows].append(time.perf_counter() - started)
                assert not result.is_error, result
    medians = {rows: statistics.median(times) for rows, times in timings.items()}
    return [
        (
            f"`send_sms` latency after {rows:,} rows of the day (stdio)",
            "",
            ms(medians[rows]),
            f"{medians[rows] / medians[0]:.2f}x of empty ({ms(medians[0])})",
            "1.15x or less",
        )
        for rows in sizes
    ]


def compile_both() -> None:
    """Bytecode for smsai-mcp and the baseline, as pip writes it on install: where PYTHONDONTWRITEBYTECODE is set, or
    for an editable checkout, a start would otherwise compile the package anew every time."""
    for folder in (HERE.parent / "smsai_mcp", HERE):
        compileall.compile_dir(folder, quiet=1)


async def main(arguments: argparse.Namespace) -> None:
    compile_both()
    rows: list[Row] = []
    only = arguments.only
    with upstream() as base_url:
        if only is None:
            rows += await stdio_rows(base_url, arguments.runs, arguments.calls, arguments.memory_calls)
        if only in (None, "http"):
            rows += await http_rows(base_url, arguments.seconds, arguments.http_rounds)
        if only is None:
            posts = await upstream_posts_per_send(base_url)
            rows.append(shown_now(("upstream requests per `send_sms` (steady state)", "", f"{posts:.2f}", "", "1")))
        if only in (None, "ledger"):
            sizes = [int(size) for size in arguments.ledger_rows.split(",") if size]
            rows += await ledger_rows(base_url, sizes, arguments.sends)
    print("| measure | bare MCPServer | smsai-mcp | ratio | target |")  # noqa: T201
    print("|---|---|---|---|---|")  # noqa: T201
    for row in rows:
        print("| " + " | ".join(row) + " |")  # noqa: T201


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--http-rounds", type=int, default=3, help="loads of --seconds per server and client count")
    parser.add_argument("--sends", type=int, default=30)
    parser.add_argument("--ledger-rows", default="100000,1000000")
    parser.add_argument("--memory-calls", type=int, default=5_000)
    parser.add_argument("--only", choices=["ledger", "http"], help="time only the ledger growth, or only HTTP")
    anyio.run(main, parser.parse_args())
