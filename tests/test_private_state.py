"""State privacy (CONTRACT section 4): the state directory 0700 and its files 0600 whatever the umask, no message
text in the ledger, and a signing secret that no process can read before it is whole."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smsai_mcp.config import ConfigError, Settings
from smsai_mcp.guard.secret import load_or_create_secret
from smsai_mcp.guard.stages import fingerprint
from smsai_mcp.guard.tokens import ConfirmationTokens
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sandbox.faults import Fault
from tests.conftest import ERAS, SEND_PATH, posts
from tests.guard_helpers import US, confirmation_token, connect, ledger, send, sent, structured

pytestmark = pytest.mark.anyio

SECRET_TEXT = "The vault code is 918273"


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    mask = int(request.param, 8)
    before = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_state(state_dir: Path) -> bytes:
    """Every byte the state directory holds, the ledger's write-ahead log included."""
    return b"".join(path.read_bytes() for path in sorted(state_dir.rglob("*")) if path.is_file())


@pytest.mark.parametrize("umask", ["022", "000"], indirect=True)
async def test_state_files_are_private_under_umask(settings: Settings, sandbox: Sandbox, umask: int) -> None:
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    assert not state_dir.exists()
    async with connect(settings.model_copy(update={"confirm": "token"}), "legacy") as client:
        token = confirmation_token(await send(client, body="Private, please"))
        sent(await send(client, body="Private, please", confirmation_token=token))
        files = sorted(path.name for path in state_dir.iterdir())
        assert {"state.db", "state.db-wal", "state.db-shm", "audit.jsonl", "secret"} <= set(files)
        assert mode(state_dir) == 0o700
        for path in state_dir.iterdir():
            assert mode(path) == 0o600, (path.name, oct(mode(path)))
    assert posts(sandbox) == 1


def _loose_old_install(state_dir: Path) -> None:
    """What an older version left: a world-readable directory and files."""
    state_dir.mkdir(parents=True)
    os.chmod(state_dir, 0o755)
    for name, content in (("audit.jsonl", b""), ("secret", os.urandom(32))):
        (state_dir / name).write_bytes(content)
        os.chmod(state_dir / name, 0o644)


async def test_existing_default_state_dir_is_tightened(
    settings: Settings, sandbox: Sandbox, platformdirs_isolated: Path
) -> None:
    settings = settings.model_copy(update={"state_dir": None})
    state_dir = settings.resolved_state_dir()
    assert platformdirs_isolated in state_dir.parents
    _loose_old_install(state_dir)
    async with connect(settings, "legacy") as client:
        sent(await send(client, body="Tighten up"))
        assert mode(state_dir) == 0o700
        for path in state_dir.iterdir():
            assert mode(path) == 0o600, (path.name, oct(mode(path)))


@pytest.mark.parametrize("chosen_mode", [0o750, 0o700], ids=["group-readable", "private"])
@pytest.mark.parametrize("umask", ["000"], indirect=True)
async def test_chosen_existing_state_dir_is_never_loosened_or_taken_over(
    settings: Settings, sandbox: Sandbox, umask: int, chosen_mode: int
) -> None:
    """A directory the user chose (it may be shared with other things) keeps its mode; the files are still 0600."""
    assert settings.state_dir is not None
    settings.state_dir.mkdir()
    os.chmod(settings.state_dir, chosen_mode)
    async with connect(settings, "legacy") as client:
        sent(await send(client, body="Leave my directory alone"))
        assert mode(settings.state_dir) == chosen_mode
        for path in settings.state_dir.iterdir():
            assert mode(path) == 0o600, (path.name, oct(mode(path)))


async def test_ledger_keeps_no_message_text_after_a_send_or_a_reconciliation(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    lost_answer_text = "The alarm code is 5566"
    async with connect(settings.model_copy(update={"timeout_seconds": 0.5}), era) as client:
        first = sent(await send(client, body=SECRET_TEXT))
        assert SECRET_TEXT.encode() not in raw_state(state_dir)
        # The answer is lost after the upstream took the message: found by a lookup, settled from the list.
        sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=500, process=True))
        reconciled = sent(await send(client, body=lost_answer_text))
        # Duplicates are still recognised and answered from the ledger.
        for body, earlier in ((SECRET_TEXT, first), (lost_answer_text, reconciled)):
            duplicate = structured(await send(client, body=body))
            assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", earlier["message"]["id"])
        raw = raw_state(state_dir)
    for text in (SECRET_TEXT, lost_answer_text):
        assert text.encode() not in raw
        assert text.split()[-1].encode() not in raw
    assert [row["status"] for row in ledger(state_dir)] == ["sent", "sent"]
    assert posts(sandbox) == 2


def _start_together(state_dir: Path, count: int) -> list[bytes]:
    barrier = threading.Barrier(count)

    def load(_: int) -> bytes:
        barrier.wait()
        return load_or_create_secret(state_dir)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(load, range(count)))


def test_secret_read_while_being_written_is_never_empty(tmp_path: Path) -> None:
    for attempt in range(40):  # the race is narrow: many fresh directories, many threads each
        secrets = _start_together(tmp_path / f"fresh-{attempt}", 16)
        assert {len(secret) for secret in secrets} == {32}, [len(secret) for secret in secrets]
        assert len(set(secrets)) == 1


_MINT = """
import pathlib, sys, time
from smsai_mcp.guard.secret import load_or_create_secret
from smsai_mcp.guard.tokens import ConfirmationTokens
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
secret = load_or_create_secret(pathlib.Path(sys.argv[1]))
token, _ = ConfirmationTokens(secret).issue(sys.argv[3], now=time.time())
print(secret.hex(), token)
"""


@pytest.mark.slow  # starts six interpreters
def test_processes_starting_together_share_one_secret_and_accept_each_others_tokens(tmp_path: Path) -> None:
    state_dir, go = tmp_path / "fresh", tmp_path / "go"
    message_fingerprint = fingerprint(US, "Approve the invoice", None)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MINT, str(state_dir), str(go), message_fingerprint],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    time.sleep(1.0)  # every interpreter up and waiting
    go.touch()
    outputs = [process.communicate(timeout=60)[0].split() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    secrets = {bytes.fromhex(secret) for secret, _ in outputs}
    assert len(secrets) == 1
    [secret] = secrets
    assert len(secret) == 32
    for _, token in outputs:
        ConfirmationTokens(secret).verify(token, message_fingerprint, now=time.time())
    assert mode(state_dir / "secret") == 0o600


def test_a_secret_still_being_written_is_waited_for(tmp_path: Path) -> None:
    tmp_path.joinpath("secret").write_bytes(b"")  # an older version's writer, between create and write
    whole = os.urandom(32)
    writer = threading.Timer(0.3, lambda: tmp_path.joinpath("secret").write_bytes(whole))
    writer.start()
    try:
        assert load_or_create_secret(tmp_path) == whole
    finally:
        writer.join()


@pytest.mark.slow  # a secret of the wrong length is waited for 2 s before it is refused
def test_a_secret_of_the_wrong_length_is_refused_not_used(tmp_path: Path) -> None:
    tmp_path.joinpath("secret").write_bytes(b"short")
    with pytest.raises(ConfigError, match="secret"):
        load_or_create_secret(tmp_path)


async def test_text_an_older_version_kept_in_the_ledger_is_scrubbed_at_start(
    settings: Settings, sandbox: Sandbox
) -> None:
    assert settings.state_dir is not None
    state_dir = settings.state_dir
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, response="status", status=500, process=True))
    async with connect(settings.model_copy(update={"timeout_seconds": 0.5}), "legacy") as client:
        message_id = sent(await send(client, body=SECRET_TEXT))["message"]["id"]
    # What an older version wrote: the record of a reconciled message, text and all.
    older = sqlite3.connect(state_dir / "state.db", isolation_level=None)
    [row] = older.execute("SELECT id, message_json FROM attempts").fetchall()
    record = {**json.loads(row[1]), "body": SECRET_TEXT}
    older.execute("UPDATE attempts SET message_json = ? WHERE id = ?", (json.dumps(record), row[0]))
    older.close()
    assert SECRET_TEXT.encode() in raw_state(state_dir)
    async with connect(settings, "legacy") as client:
        duplicate = structured(await send(client, body=SECRET_TEXT))
        assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", message_id)
    [kept] = ledger(state_dir)
    assert "body" not in json.loads(kept["message_json"])
    assert SECRET_TEXT.encode() not in raw_state(state_dir)
