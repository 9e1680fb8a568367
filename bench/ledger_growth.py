"""Send latency against a ledger that already holds ROWS rows of the day, beside one on an empty ledger: the
medians of sequential sends through in-memory clients, to each server in turn. The full ledger is made as an
older version left it (its running totals are computed as it opens).

    python bench/ledger_growth.py [ROWS=1000000] [SENDS=300]
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


def settings_for(base_url: str, state_dir: Path) -> Settings:
    return Settings(
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


async def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    sends = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    root = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    fill(root / "full" / "state.db", rows)
    latencies: dict[str, list[float]] = {"empty": [], "full": []}
    # One server on an empty ledger and one on a full one, sent to in turn: the machine's load weighs on both alike.
    with (
        running(create_app(SandboxConfig(delivery_seconds=0.5))) as url_a,
        running(create_app(SandboxConfig(delivery_seconds=0.5))) as url_b,
    ):
        started = time.perf_counter()
        async with (
            Client(build_server(settings_for(url_a, root / "empty")), mode="legacy") as empty,
            Client(build_server(settings_for(url_b, root / "full")), mode="legacy") as full,
        ):
            print(f"opened in {time.perf_counter() - started:.1f} s", flush=True)  # noqa: T201
            for n in range(sends + 10):
                for name, client in (("empty", empty), ("full", full)):
                    began = time.perf_counter()
                    result = await client.call_tool("send_sms", {"to": "+12025551234", "body": f"bench {n}"})
                    assert not result.is_error, result
                    if n >= 10:
                        latencies[name].append(time.perf_counter() - began)
    empty_ms, full_ms = (statistics.median(latencies[name]) * 1000 for name in ("empty", "full"))
    print(  # noqa: T201
        f"send median: empty ledger {empty_ms:.2f} ms, {rows:,} rows of the day {full_ms:.2f} ms: "
        f"{full_ms / empty_ms:.2f}x"
    )


if __name__ == "__main__":
    import logging

    logging.disable(logging.INFO)
    anyio.run(main)
