"""Send latency against a ledger that already holds N rows of the day: the median of 200 sequential sends
through an in-memory client, on a ledger left by an older version (its running totals are made as it opens).

    python bench/ledger_growth.py 0 1000000 0 1000000   # sizes, alternated so the machine's load weighs alike
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_TOKEN, SandboxConfig, create_app, running
from smsai_mcp.server import build_server

OLD_SCHEMA = """
CREATE TABLE attempts (
    id TEXT PRIMARY KEY, day TEXT NOT NULL, created_at REAL NOT NULL, recipient TEXT NOT NULL,
    fingerprint TEXT NOT NULL, body_sha256 TEXT NOT NULL, idempotency_key TEXT, confirmation_id TEXT UNIQUE,
    owner TEXT NOT NULL, status TEXT NOT NULL, reserved_micro INTEGER NOT NULL, charged_micro INTEGER,
    message_id INTEGER, message_json TEXT
);
"""


def fill(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(OLD_SCHEMA)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    start = time.time() - 3700
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, 'sha', ?, NULL, 'bench:1', 'sent', 10, 1, ?, '{}')",
        ((f"old{n}", day, start - n * 0.01, f"+1303{n:07d}", f"fp{n}", f"key{n}", 10**9 + n) for n in range(rows)),
    )
    db.execute("COMMIT")
    db.close()


async def measure(base_url: str, rows: int, sends: int) -> float:
    state_dir = Path(tempfile.mkdtemp(prefix="ledger-bench-")) / "state"
    if rows:
        fill(state_dir / "state.db", rows)
    settings = Settings(
        api_token=SecretStr(SANDBOX_TOKEN),
        base_url=base_url,
        confirm="off",
        state_dir=state_dir,
        max_per_recipient_per_hour=10**6,
        max_recipients_per_hour=10**6,
        max_per_number_block_per_hour=10**6,
        daily_budget_usd=1000,
        quiet_hours=None,
    )
    opened = time.perf_counter()
    async with Client(build_server(settings), mode="legacy") as client:
        await client.call_tool("check_balance", {})
        open_seconds = time.perf_counter() - opened
        latencies = []
        for n in range(sends + 5):
            started = time.perf_counter()
            result = await client.call_tool("send_sms", {"to": "+12025551234", "body": f"bench {rows} {n}"})
            assert not result.is_error, result
            if n >= 5:
                latencies.append(time.perf_counter() - started)
    median = statistics.median(latencies)
    print(f"rows={rows:>9,}  open={open_seconds:6.2f}s  send median={median * 1000:6.2f} ms", flush=True)  # noqa: T201
    return median


async def main() -> None:
    sizes = [int(size) for size in sys.argv[1:]] or [0, 100_000, 1_000_000]
    results: dict[int, list[float]] = {}
    for size in sizes:  # alternated, so that the machine's load weighs on each alike
        with running(create_app(SandboxConfig(delivery_seconds=0.5))) as base_url:  # its own rate limit
            results.setdefault(size, []).append(await measure(base_url, size, 200))
    base = statistics.median(results[sizes[0]])
    for size, medians in results.items():
        median = statistics.median(medians)
        print(f"{size:>9,} rows: {median * 1000:6.2f} ms, {median / base:.2f}x of {sizes[0]:,}")  # noqa: T201


if __name__ == "__main__":
    import logging

    logging.disable(logging.INFO)
    anyio.run(main)
