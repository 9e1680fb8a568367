"""What a stdio client sees: spawn to `tools/list`, the first tool call, sequential latency, and memory."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).parent
Call = tuple[str, dict[str, object]]


def stdio(name: str, env: Mapping[str, str]) -> StdioServerParameters:
    command = [sys.executable, str(HERE / "bare_server.py")] if name == "bare" else [sys.executable, "-m", "smsai_mcp"]
    return StdioServerParameters(command=command[0], args=command[1:], env=dict(env))


def connect(params: StdioServerParameters) -> Client:
    """A client of a fresh server process whose log lines are dropped, so the terminal shows only results."""
    return Client(stdio_client(params, errlog=_DEVNULL), mode="legacy")


_DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - for the life of the bench


def balance(_: int) -> Call:
    return "check_balance", {}


async def timed_calls(client: Client, calls: int, arguments: Callable[[int], Call]) -> list[float]:
    timings = []
    for n in range(calls):
        tool, args = arguments(n)
        started = time.perf_counter()
        result = await client.call_tool(tool, args)
        timings.append(time.perf_counter() - started)
        assert not result.is_error, result
    return timings


async def startup(params: StdioServerParameters) -> float:
    started = time.perf_counter()
    async with connect(params) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def first_call(params: StdioServerParameters, pause: float = 0.0) -> float:
    """The first tools/call of a fresh process, `pause` seconds after tools/list is answered (a host lists the tools
    at start; the model's first call comes a turn later)."""
    async with connect(params) as client:
        await client.list_tools()
        await anyio.sleep(pause)
        call: Call = ("check_balance", {})
        return (await timed_calls(client, 1, lambda _: call))[0]


async def latency(params: StdioServerParameters, calls: int) -> list[float]:
    async with connect(params) as client:
        await client.list_tools()
        await anyio.sleep(1.0)  # as a host: the tools listed at start, the model's calls a turn later
        await client.call_tool("check_balance", {})  # warm: the pool, first-use imports
        return await timed_calls(client, calls, balance)


async def memory(params: StdioServerParameters, calls: int) -> tuple[int, int]:
    """Resident KiB of the server after 1,000 calls and after `calls`."""
    async with connect(params) as client:
        await timed_calls(client, 1000, balance)
        after_1k = child_rss_kib(params.args[-1])
        await timed_calls(client, calls - 1000, balance)
        return after_1k, child_rss_kib(params.args[-1])


def child_rss_kib(command_part: str) -> int:
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
