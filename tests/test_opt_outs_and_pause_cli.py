"""`smsai-mcp pause|resume|opt-outs` as an operator runs them: processes on the same state as a running stdio
server, which talks to the sandbox over loopback HTTP. Every send counts the POSTs that reached the sandbox."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from tests.conftest import posts, text_of
from tests.guard_helpers import GB, US, US_MASKED, assert_nothing_sent, send, sent, structured, upstream_env
from tests.processes import SERVER, server_env
from tests.test_state import REDIS_URL, redis_available

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # every test runs the commands as processes


def command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SERVER, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_the_commands_pause_resume_and_keep_the_list_of_a_running_server(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    env = server_env(upstream_env(sandbox_url, tmp_path / "state"))
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=env)
    with (tmp_path / "server.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="auto") as client:
            sent(await send(client, body="Before the incident"))

            paused = command(env, "pause", "--reason", "INC-7: carrier loop")
            assert paused.returncode == 0, paused.stderr
            assert "smsai-mcp resume" in paused.stdout
            text = assert_nothing_sent(await send(client, body="During"), sandbox, posts_so_far=1, says="paused")
            assert "INC-7: carrier loop" in text
            balance = structured(await client.call_tool("check_balance", {}))
            assert (balance["paused"], balance["pause_reason"]) == (True, "INC-7: carrier loop")
            assert command(env, "resume").returncode == 0
            sent(await send(client, body="After the incident"))

            added = command(env, "opt-outs", "add", US, "--note", "replied STOP")
            assert added.returncode == 0, added.stderr
            assert_nothing_sent(await send(client, body="Still there?"), sandbox, posts_so_far=2, says="do-not-text")
            listed = structured(await client.call_tool("list_opt_outs", {}))
            assert [(o["to"], o["note"]) for o in listed["opt_outs"]] == [(US, "replied STOP")]
            shown = command(env, "opt-outs", "list")
            assert shown.returncode == 0
            assert US in shown.stdout
            assert "replied STOP" in shown.stdout

            await client.call_tool("add_opt_out", {"to": GB})  # added by the server, seen by the command
            assert GB in command(env, "opt-outs", "list").stdout
            removed = command(env, "opt-outs", "remove", US)
            assert removed.returncode == 0, removed.stderr
            sent(await send(client, body="Welcome back"))
    assert posts(sandbox) == 3
    audit = (tmp_path / "state" / "audit.jsonl").read_text()
    for outcome in ("paused", "resumed", "opt_out_added", "opt_out_removed"):
        assert f'"outcome":"{outcome}"' in audit
    assert US_MASKED in audit
    assert "replied STOP" not in audit


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["opt-outs", "remove", US], 1, "not on the do-not-text list"),
        (["opt-outs", "add", "+1555"], 2, "digits"),
        (["opt-outs", "add", US, "--note", "x" * 201], 2, "200 characters"),
        (["opt-outs"], 2, "required"),
        (["pause", "--tenant", "acme"], 2, "SMSAI_TENANTS_FILE"),
    ],
    ids=["remove-unlisted", "invalid-number", "note-too-long", "no-action", "tenant-without-file"],
)
def test_the_commands_exit_1_for_nothing_to_remove_and_2_for_bad_usage(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    result = command(server_env({"SMSAI_STATE_DIR": str(tmp_path)}), *args)
    assert result.returncode == code, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_pause_with_the_state_store_out_of_reach_exits_2(tmp_path: Path) -> None:
    env = server_env({"SMSAI_STATE_DIR": str(tmp_path), "SMSAI_STATE_URL": "redis://127.0.0.1:1/0"})
    result = command(env, "pause")
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


async def test_a_tenant_paused_on_redis_stays_paused_for_its_replicas_only(
    sandbox_url: str, tmp_path: Path, tenant_on_redis: str
) -> None:
    tenant = tenant_on_redis
    tenants_file = tmp_path / "tenants.toml"
    key_hash = hashlib.sha256(b"acme-agents-key").hexdigest()
    tenants_file.write_text(f'[tenants.{tenant}]\naccess_key_sha256 = "{key_hash}"\napi_token_env = "T_TOKEN"\n')
    env = server_env(
        upstream_env(
            sandbox_url,
            tmp_path / "state",
            SMSAI_TENANTS_FILE=str(tenants_file),
            SMSAI_STATE_URL=REDIS_URL,
            T_TOKEN=SANDBOX_TOKEN,
        )
    )
    assert command(env, "pause", "--tenant", tenant, "--reason", "drill").returncode == 0
    assert command(env, "opt-outs", "add", US, "--tenant", tenant).returncode == 0
    from smsai_mcp.state.redis import RedisStore

    mine = RedisStore.from_url(REDIS_URL, prefix=f"smsai:{tenant}:")
    other = RedisStore.from_url(REDIS_URL, prefix=f"smsai:{tenant}-other:")
    try:
        pause = await mine.pause_state()
        assert pause is not None
        assert pause.reason == "drill"
        assert await mine.opt_out(US) is not None
        assert await other.pause_state() is None
    finally:
        await mine.close()
        await other.close()
    assert command(env, "resume", "--tenant", tenant).returncode == 0
    listed = command(env, "opt-outs", "list", "--tenant", tenant)
    assert US in listed.stdout


async def test_pause_with_sandbox_stops_a_sandbox_server_on_the_same_state_directory(tmp_path: Path) -> None:
    env = server_env({"SMSAI_STATE_DIR": str(tmp_path / "state"), "SMSAI_CONFIRM": "off"})
    params = StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], "--sandbox"], env=env)
    with (tmp_path / "server.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            assert command(env, "pause", "--sandbox", "--reason", "sandbox drill").returncode == 0
            result = await send(client, body="Sandbox hello")
            assert result.is_error
            assert "sandbox drill" in text_of(result)
            assert command(env, "resume", "--sandbox").returncode == 0
            sent(await send(client, body="Sandbox hello"))
