"""The append-only audit log: one JSON line per send attempt, flushed to disk; never the token or the text."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread

from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.phone import mask_number
from smsai_mcp.state.private import private_dir, private_file

__all__ = ["AuditLog", "estimate_fields"]


class AuditLog:
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        private_file(path)  # 0600 whatever the umask, and an older, looser file tightened
        self.path = path
        self._lock = threading.Lock()

    async def record(self, *, event: str, recipient: str, **fields: Any) -> None:
        """Appends one line. The keyword `sync=False` (not logged) leaves it to the next synced line to reach the
        disk. (Not a named parameter: callers spread dicts of fields, which a typed keyword would conflict with.)"""
        sync = fields.pop("sync", True) is not False
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "outcome": event,
            "to": mask_number(recipient),
            **fields,
        }
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode()
        await anyio.to_thread.run_sync(self._append, line, sync)

    def _append(self, line: bytes, sync: bool = True) -> None:
        # O_APPEND keeps each line whole when several processes write to the same file.
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(descriptor, line)
                if sync:
                    os.fsync(descriptor)
            finally:
                os.close(descriptor)


def estimate_fields(estimate: Estimate | None) -> dict[str, object]:
    """What an audit line says of a message's estimate: its size and cost, never its words."""
    if estimate is None:
        return {}
    return {"segments": estimate.segments, "estimate_usd": str(estimate.estimated_cost_usd)}
