"""The append-only audit log: one JSON line per send attempt, flushed to disk; never the token or the text.

It rotates by size: past `max_bytes`, audit.jsonl becomes audit.jsonl.1 (and .1 becomes .2, up to KEPT_FILES).
Each line goes out in one O_APPEND write, so a line lives whole in exactly one file. Several processes may share
the file: they write under a shared lock and rotate under an exclusive one (`fcntl.flock` on audit.jsonl.lock),
so no line lands in a file that is being dropped. Where `fcntl` is missing (Windows) the log does not rotate.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from smsai_mcp.sms.phone import mask_number
from smsai_mcp.state.private import private_dir, private_file

if TYPE_CHECKING:
    from smsai_mcp.sms.estimate import Estimate

try:
    import fcntl
except ImportError:  # Windows: no rotation, which needs a lock between processes
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEFAULT_AUDIT_MAX_BYTES", "KEPT_FILES", "AuditLog", "estimate_fields"]

DEFAULT_AUDIT_MAX_BYTES = 50_000_000
KEPT_FILES = 5  # audit.jsonl.1 (newest) to audit.jsonl.5 (oldest); older lines are dropped


class AuditLog:
    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_AUDIT_MAX_BYTES) -> None:
        private_dir(path.parent)
        private_file(path)  # 0600 whatever the umask, and an older, looser file tightened
        self.path = path
        self.max_bytes = max_bytes if fcntl is not None else 0  # 0: never rotate
        self._lock = threading.Lock()
        self._lock_file: int | None = None  # one descriptor per process: flock locks belong to it

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
        with self._lock:
            if not self.max_bytes:
                self._write(line, sync)
                return
            lock = self._inter_process_lock()
            fcntl.flock(lock, fcntl.LOCK_SH)
            try:
                size = self._write(line, sync)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            if size >= self.max_bytes:
                self._rotate(lock)

    def _write(self, line: bytes, sync: bool) -> int:
        """Append `line` in one write (synced, with every line before it, unless `sync` is false); the file's size."""
        # O_APPEND keeps each line whole when several processes write to the same file.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(descriptor, line)
            if sync:
                os.fsync(descriptor)
            return os.fstat(descriptor).st_size
        finally:
            os.close(descriptor)

    def _inter_process_lock(self) -> int:
        if self._lock_file is None:
            lock_path = self.path.with_name(self.path.name + ".lock")
            self._lock_file = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            private_file(lock_path)
        return self._lock_file

    def _rotate(self, lock: int) -> None:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                if os.stat(self.path).st_size < self.max_bytes:
                    return  # another process rotated it while this one waited
            except FileNotFoundError:
                return
            for number in range(KEPT_FILES - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{number}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
            _sync_file(self.path)  # an unsynced line (a reservation's) must not be left behind unsynced in .1
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
            private_file(self.path)  # the fresh file, 0600 from its first line
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def estimate_fields(estimate: Estimate | None) -> dict[str, object]:
    """What an audit line says of a message's estimate: its size and cost, never its words."""
    if estimate is None:
        return {}
    return {"segments": estimate.segments, "estimate_usd": str(estimate.estimated_cost_usd)}
