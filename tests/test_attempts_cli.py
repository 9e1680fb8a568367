"""`smsai-mcp attempts list|resolve` as a person runs it: a subprocess on the same state as the server, talking
to the sandbox over loopback HTTP. Unknown sends are made through a real MCP client; every POST is counted."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from smsai_mcp.config import Settings
from smsai_mcp.guard.reconcile import body_sha256
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.state.redis import RedisStore
from smsai_mcp.state.store import Attempt, BeginRequest, Begun
from tests.conftest import SEND_PATH, posts
from tests.guard_helpers import (
    US,
    US_MASKED,
    assert_outcome_unknown,
    connect,
    ledger,
    send,
    sent,
    structured,
    upstream_env,
)
from tests.processes import SERVER, server_env
from tests.test_state import REDIS_URL, redis_available

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # every test runs the command as a process

BODY = "Gate code 4821"


def attempts(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVER, "attempts", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def environment(sandbox_url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    return server_env(upstream_env(sandbox_url, state_dir, **extra))


async def unknown_send(settings: Settings, sandbox: Sandbox, **arguments: str) -> str:
    """A send whose answer was lost and whose message never shows up: the id of its open attempt."""
    sandbox.state.add_fault(Fault(method="POST", path=SEND_PATH, status=500))
    async with connect(settings, "auto") as client:
        assert_outcome_unknown(await send(client, **{"body": BODY, **arguments}))
    assert settings.state_dir is not None
    return str(ledger(settings.state_dir)[-1]["id"])


async def test_attempts_list_shows_an_unknown_send_and_not_sent_releases_it(
    settings: Settings, sandbox: Sandbox, sandbox_url: str
) -> None:
    assert settings.state_dir is not None
    attempt_id = await unknown_send(settings, sandbox)
    env = environment(sandbox_url, settings.state_dir)

    listed = attempts(env, "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(attempt_id)]
    assert row.split()[-3:] == [US_MASKED, "$0.0100", "unknown"]
    assert "attempts resolve ID --sent MESSAGE_ID" in listed.stdout
    everything = listed.stdout + listed.stderr
    assert BODY not in everything
    assert SANDBOX_TOKEN not in everything
    assert US not in everything

    released = attempts(env, "resolve", attempt_id[:8], "--not-sent")
    assert released.returncode == 0, released.stderr
    assert "given back" in released.stdout
    assert "No open sends" in attempts(env, "list").stdout
    again = attempts(env, "resolve", attempt_id, "--not-sent")
    assert again.returncode == 1
    assert "no open send" in again.stderr

    async with connect(settings, "auto") as client:
        assert sent(await send(client, body=BODY))["message"]["to"] == US  # it never went out: now it may, once
    audit = [json.loads(line) for line in (settings.state_dir / "audit.jsonl").read_text().splitlines()]
    assert any({"outcome": "released", "attempt": attempt_id, "by": "person"}.items() <= e.items() for e in audit)
    assert posts(sandbox) == 2


async def test_attempts_resolve_sent_books_the_charge_and_never_claims_a_message_twice(
    settings: Settings, sandbox: Sandbox, sandbox_url: str
) -> None:
    assert settings.state_dir is not None
    first = await unknown_send(settings, sandbox, sender_id="Acme")
    second = await unknown_send(settings, sandbox, sender_id="Bistro")  # the same text: either could be it
    # It went out after all (the API answered 500 once the gateway had it), at a price above the estimate.
    late = sandbox.state.send(sandbox.state.accounts[SANDBOX_TOKEN], US, BODY, "Acme", Decimal("0.0200"), 2)
    env = environment(sandbox_url, settings.state_dir)

    settled = attempts(env, "resolve", first, "--sent", str(late.id))
    assert settled.returncode == 0, settled.stderr
    assert "$0.0200 booked" in settled.stdout
    twice = attempts(env, "resolve", second, "--sent", str(late.id))
    assert twice.returncode == 2
    assert "already matched" in twice.stderr
    missing = attempts(env, "resolve", second, "--sent", "999")
    assert missing.returncode == 2
    assert "no message 999" in missing.stderr

    outcomes = {row["id"]: row for row in ledger(settings.state_dir)}
    assert (outcomes[first]["status"], outcomes[first]["message_id"], outcomes[first]["charged_micro"]) == (
        "sent",
        late.id,
        20_000,
    )
    assert outcomes[second]["status"] == "unknown"
    async with connect(settings, "auto") as client:
        duplicate = structured(await send(client, body=BODY, sender_id="Acme"))
    assert (duplicate["status"], duplicate["message"]["id"]) == ("duplicate", late.id)
    assert posts(sandbox) == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(["resolve", "abc123"], "one of the arguments --sent --not-sent is required", id="no-verdict"),
        pytest.param(["resolve", "abc123", "--sent", "x"], "a message id is a whole number", id="bad-message-id"),
        pytest.param(["resolve", "abc123", "--sent", "1", "--not-sent"], "not allowed with", id="both-verdicts"),
        pytest.param(["list", "--tenant", "acme"], "--tenant needs SMSAI_TENANTS_FILE", id="tenant-without-file"),
        pytest.param([], "required", id="no-subcommand"),
    ],
)
def test_attempts_bad_usage_exits_2(tmp_path: Path, args: list[str], says: str) -> None:
    result = attempts(server_env({"SMSAI_STATE_DIR": str(tmp_path)}), *args)
    assert result.returncode == 2
    assert says in result.stderr
    assert result.stdout == ""


def test_attempts_with_a_state_store_out_of_reach_exit_2(tmp_path: Path) -> None:
    result = attempts(
        server_env({"SMSAI_STATE_DIR": str(tmp_path), "SMSAI_STATE_URL": "redis://127.0.0.1:1/0"}), "list"
    )
    assert result.returncode == 2
    assert "the state store cannot be used" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
async def tenant_on_redis() -> AsyncIterator[str]:
    """A tenant name of its own, so its Redis keys (smsai:<tenant>:) are this test's alone."""
    if not redis_available():
        pytest.skip("no Redis on 127.0.0.1:6379")
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"smsai:{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_attempts_with_a_tenants_file_settle_that_tenants_sends(
    sandbox_url: str, tmp_path: Path, tenant_on_redis: str
) -> None:
    tenant = tenant_on_redis
    tenants_file = tmp_path / "tenants.toml"
    key_hash = hashlib.sha256(b"acme-agents-key").hexdigest()
    tenants_file.write_text(
        f'[tenants.{tenant}]\naccess_key_sha256 = "{key_hash}"\napi_token_env = "TENANT_SMSAI_TOKEN"\n'
    )
    store = RedisStore.from_url(REDIS_URL, prefix=f"smsai:{tenant}:")
    now = time.time()
    attempt = Attempt(
        id=uuid.uuid4().hex,
        day="2026-11-29",
        created_at=now - 1200,
        recipient=US,
        fingerprint="a-message",
        body_sha256=body_sha256(BODY),
        idempotency_key=None,
        confirmation_id=None,
        owner="elsewhere:1:0",
        status="pending",
        reserved_micro=10_000,
    )
    request = BeginRequest(attempt, daily_budget_micro=10**9, max_per_recipient_per_hour=10, duplicate_window_seconds=0)
    assert isinstance(await store.begin(request, now=now - 1200), Begun)
    await store.mark_unknown(attempt.id)
    env = environment(
        sandbox_url,
        tmp_path / "state",
        SMSAI_TENANTS_FILE=str(tenants_file),
        SMSAI_STATE_URL=REDIS_URL,
        TENANT_SMSAI_TOKEN=SANDBOX_TOKEN,
    )
    try:
        unnamed = attempts(env, "list")
        assert unnamed.returncode == 2
        assert f"its tenants: {tenant}" in unnamed.stderr
        assert attempts(env, "list", "--tenant", "someone-else").returncode == 2
        listed = attempts(env, "list", "--tenant", tenant)
        assert listed.returncode == 0, listed.stderr
        assert attempt.id in listed.stdout
        assert "20 min" in listed.stdout
        in_flight = dataclasses.replace(attempt, id=uuid.uuid4().hex, fingerprint="another", created_at=now)
        assert isinstance(await store.begin(BeginRequest(in_flight, 10**9, 10, 0), now=now), Begun)
        too_soon = attempts(env, "resolve", in_flight.id, "--not-sent", "--tenant", tenant)
        assert too_soon.returncode == 2
        assert "may still be in flight" in too_soon.stderr
        released = attempts(env, "resolve", attempt.id, "--not-sent", "--tenant", tenant)
        assert released.returncode == 0, released.stderr
        assert [open_attempt.id for open_attempt in await store.unresolved()] == [in_flight.id]
        assert await store.spent_micro("2026-11-29") == in_flight.reserved_micro
    finally:
        await store.close()
