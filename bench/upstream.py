"""The sandbox as the benchmark's upstream, in a process of its own with no access log, so neither the bench's
own Python nor a log line per request sits on the path being measured.

    python bench/upstream.py PORT
"""

from __future__ import annotations

import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from smsai_mcp.sandbox import SandboxConfig, create_app, running

if __name__ == "__main__":
    config = SandboxConfig(
        rate_limit_per_minute=10**9,
        credits_usd=Decimal(1_000_000),
        history_limit=2_000,
        first_message_id=int(time.time() * 1000),  # as SandboxConfig.from_env: ids no ledger has booked
    )
    with running(create_app(config), port=int(sys.argv[1])) as url:
        print(url, flush=True)  # noqa: T201 - the bench reads the URL from here
        threading.Event().wait()
