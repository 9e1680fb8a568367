"""A bounded load test of the HTTP service: many concurrent clients mixing reads and sends, on loopback only.

    python bench/load.py [--clients 20] [--seconds 20] [--replicas 1] [--redis]

Starts the sandbox and the service (one or more replicas; with --redis they share the Redis on
127.0.0.1:6379), drives them, and stops by itself. Prints throughput, p50/p99 latency per tool and errors,
then checks that the ledger balances: what the sandbox charged equals what the guard recorded as spent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from smsai_mcp.sandbox import SANDBOX_TOKEN, SandboxConfig, create_app, running
from tests.processes import http_server

READS = [
    ("check_balance", {}),
    ("list_countries", {"query": "ca"}),
    ("estimate_sms", {"to": "+14165550123", "body": "Load test: how much?"}),
    ("list_messages", {}),
]


async def client_loop(url: str, deadline: float, n: int, timings: dict[str, list[float]], errors: list[str]) -> None:
    counter = itertools.count()
    async with (
        httpx2.AsyncClient(timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        while time.monotonic() < deadline:
            if random.random() < 0.25:  # noqa: S311 - a workload mix, not security
                tool, arguments = "send_sms", {"to": f"+1202555{n % 10000:04d}", "body": f"load {n}-{next(counter)}"}
            else:
                tool, arguments = random.choice(READS)  # noqa: S311
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            timings[tool].append(time.perf_counter() - started)
            if result.is_error:
                errors.append(f"{tool}: {result.content[0].text if result.content else '?'}")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(clients: int, seconds: float, replicas: int, use_redis: bool) -> int:
    app = create_app(SandboxConfig(credits_usd=__import__("decimal").Decimal("100000"), rate_limit_per_minute=10**9))
    work = Path(tempfile.mkdtemp(prefix="smsai-load-"))
    env = {
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_CONFIRM": "off",
        "SMSAI_DAILY_BUDGET_USD": "100000",
        "SMSAI_MAX_PER_RECIPIENT_PER_HOUR": "100000",
        "SMSAI_STATE_SECRET": "load-test-secret-load-test-secret-000",
    }
    if use_redis:
        env["SMSAI_STATE_URL"] = "redis://127.0.0.1:6379/15"
        import redis

        redis.Redis.from_url(env["SMSAI_STATE_URL"]).flushdb()
    elif replicas > 1:
        env["SMSAI_STATE_DIR"] = str(work / "shared")  # replicas on one machine may share SQLite
    with running(app) as base_url, ExitStack() as stack:
        env["SMSAI_BASE_URL"] = base_url
        urls = []
        for n in range(replicas):
            replica_env = {"SMSAI_STATE_DIR": str(work / f"replica{n}"), **env}
            urls.append(stack.enter_context(http_server([], replica_env, work / f"replica{n}.log")))
        timings: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        started = time.monotonic()
        deadline = started + seconds
        async with anyio.create_task_group() as group:
            for n in range(clients):
                group.start_soon(client_loop, urls[n % replicas], deadline, n, timings, errors)
        elapsed = time.monotonic() - started
        calls = sum(len(samples) for samples in timings.values())
        async with httpx2.AsyncClient() as http, Client(streamable_http_client(urls[0], http_client=http)) as client:
            balance = (await client.call_tool("check_balance", {})).structured_content or {}
    charged = sum(message.price_usd for message in app.state.messages)
    report = {
        "clients": clients,
        "replicas": replicas,
        "state": "redis" if use_redis else "sqlite",
        "seconds": round(elapsed, 1),
        "calls": calls,
        "throughput_per_second": round(calls / elapsed, 1),
        "errors": len(errors),
        "sends": len(app.state.messages),
        "posts": app.state.count("POST", "/api/v1/sms/send"),
        "charged_usd": float(charged),
        "ledger_spent_usd": balance.get("spent_today_usd"),
        "latency_ms": {
            tool: {
                "p50": round(statistics.median(samples) * 1000, 1),
                "p99": round(percentile(samples, 0.99) * 1000, 1),
                "n": len(samples),
            }
            for tool, samples in sorted(timings.items())
        },
    }
    print(json.dumps(report, indent=2))  # noqa: T201
    balanced = abs(float(charged) - float(balance.get("spent_today_usd", -1))) < 1e-6
    one_post_per_send = report["posts"] == report["sends"]
    if errors:
        print("first errors:", errors[:5], file=sys.stderr)  # noqa: T201
    return 0 if not errors and balanced and one_post_per_send else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--redis", action="store_true")
    arguments = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(anyio.run(main, arguments.clients, arguments.seconds, arguments.replicas, arguments.redis))
