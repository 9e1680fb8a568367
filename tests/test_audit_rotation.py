"""The audit log rotates by size without losing or splitting a line, even with several processes writing."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import DEFAULT_AUDIT_MAX_BYTES, KEPT_FILES, AuditLog

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the audit log rotates only where fcntl exists")

WRITER = """
import sys
import anyio
from pathlib import Path
from smsai_mcp.guard.audit import AuditLog

async def main() -> None:
    log = AuditLog(Path(sys.argv[1]), max_bytes=int(sys.argv[2]))
    for n in range(int(sys.argv[4])):
        await log.record(event="sent", recipient="+12025551234", writer=sys.argv[3], n=n, pad="x" * 40)

anyio.run(main)
"""


def _audit_files(state_dir: Path) -> list[Path]:
    names = (path for path in state_dir.iterdir() if path.name.startswith("audit.jsonl"))
    return sorted(path for path in names if path.suffix != ".lock")


def _lines(state_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for path in _audit_files(state_dir) for line in path.read_text().splitlines()]


@pytest.mark.slow  # waits on the clock (about a second or more), not on the CPU
def test_concurrent_writers_across_rotations_lose_and_split_no_line(tmp_path: Path) -> None:
    writers, per_writer, max_bytes = 4, 150, 20_000  # about 80 kB: several rotations, fewer than KEPT_FILES
    path = tmp_path / "audit.jsonl"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(max_bytes), f"w{n}", str(per_writer)],
        )
        for n in range(writers)
    ]
    assert all(process.wait(timeout=60) == 0 for process in processes)
    lines = _lines(tmp_path)  # json.loads raises on any split or merged line
    seen = {(line["writer"], line["n"]) for line in lines}
    assert len(lines) == writers * per_writer
    assert seen == {(f"w{w}", n) for w in range(writers) for n in range(per_writer)}
    files = _audit_files(tmp_path)
    assert 3 <= len(files) <= KEPT_FILES + 1
    assert all(file.stat().st_size < max_bytes * 1.5 for file in files)  # rotated soon after passing it
    assert all(stat.S_IMODE(file.stat().st_mode) == 0o600 for file in files)


def test_rotation_keeps_five_old_files_and_drops_the_oldest_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=300)

    async def write() -> None:
        for n in range(100):
            await log.record(event="sent", recipient="+12025551234", n=n)

    anyio.run(write)
    names = [path.name for path in _audit_files(tmp_path)]
    assert names == ["audit.jsonl", *(f"audit.jsonl.{n}" for n in range(1, KEPT_FILES + 1))]
    numbers = [line["n"] for path in reversed(_audit_files(tmp_path)[1:]) for line in _read(path)]
    numbers += [line["n"] for line in _read(tmp_path / "audit.jsonl")]
    assert numbers == list(range(100 - len(numbers), 100))  # newest kept, in order, none missing in between
    assert len(numbers) < 100


def test_audit_log_of_size_zero_never_rotates(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", max_bytes=0)

    async def write() -> None:
        for n in range(50):
            await log.record(event="sent", recipient="+12025551234", n=n)

    anyio.run(write)
    assert [path.name for path in _audit_files(tmp_path)] == ["audit.jsonl"]
    assert len(_read(tmp_path / "audit.jsonl")) == 50


def test_audit_max_bytes_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).audit_max_bytes == DEFAULT_AUDIT_MAX_BYTES == 50_000_000
    assert Settings.from_env({"SMSAI_AUDIT_MAX_BYTES": "1000000"}).audit_max_bytes == 1_000_000


def _read(path: Path) -> list[dict[str, int]]:
    return [json.loads(line) for line in path.read_text().splitlines()]
