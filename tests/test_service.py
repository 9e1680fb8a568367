"""The HTTP service as a team runs it: access keys, tenants, health checks, and replicas sharing Redis."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_EMPTY_TOKEN, SANDBOX_TOKEN, Sandbox
from tests.conftest import ERAS, posts, text_of
from tests.processes import http_server
from tests.test_state import redis_available

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

KEY_A = "tenant-a-key-5b1c0d3e9f"
KEY_B = "tenant-b-key-77aa01c2de"
SECRET = "a-shared-secret-of-at-least-32-characters!"


@asynccontextmanager
async def connect(url: str, key: str | None, era: str = "legacy", **kwargs: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=era, **kwargs) as client,
    ):
        yield client


def base_env(sandbox_url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": sandbox_url,
        "SMSAI_CONFIRM": "off",
        "SMSAI_STATE_DIR": str(state_dir),
        **extra,
    }


async def post_raw(url: str, headers: dict[str, str]) -> httpx2.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    async with httpx2.AsyncClient() as http:
        return await http.post(
            url,
            json=body,
            headers={"Accept": "application/json, text/event-stream", **headers},
        )


async def test_missing_and_wrong_keys_get_401_with_www_authenticate(sandbox_url: str, tmp_path: Path) -> None:
    env = base_env(sandbox_url, tmp_path, SMSAI_MCP_ACCESS_KEYS=KEY_A)
    with http_server([], env, tmp_path / "log") as url:
        for headers in ({}, {"Authorization": "Bearer not-the-key"}, {"Authorization": f"Basic {KEY_A}"}):
            response = await post_raw(url, headers)
            assert response.status_code == 401, headers
            assert response.headers["www-authenticate"].startswith("Bearer")
        async with connect(url, KEY_A) as client:
            assert "send_sms" in {tool.name for tool in (await client.list_tools()).tools}
    assert KEY_A not in (tmp_path / "log").read_text()


async def test_rotated_keys_both_work_during_rotation(sandbox_url: str, tmp_path: Path) -> None:
    env = base_env(sandbox_url, tmp_path, SMSAI_MCP_ACCESS_KEYS=f"{KEY_A},{KEY_B}")
    with http_server([], env, tmp_path / "log") as url:
        for key in (KEY_A, KEY_B):
            async with connect(url, key) as client:
                assert not (await client.call_tool("check_balance", {})).is_error


async def test_foreign_host_header_is_refused_dns_rebinding(sandbox_url: str, tmp_path: Path) -> None:
    env = base_env(sandbox_url, tmp_path, SMSAI_MCP_ALLOWED_HOSTS="sms.internal.example")
    with http_server([], env, tmp_path / "log") as url:
        refused = await post_raw(url, {"Host": "evil.example"})
        assert refused.status_code in (400, 403, 421)
        allowed = await post_raw(url, {"Host": "sms.internal.example"})
        assert allowed.status_code == 200, allowed.text
        shouted = await post_raw(url, {"Host": "SMS.Internal.Example"})  # host names are case-insensitive
        assert shouted.status_code == 200, shouted.text


async def test_healthz_and_readyz(sandbox_url: str, tmp_path: Path) -> None:
    with http_server([], base_env(sandbox_url, tmp_path), tmp_path / "log") as url:
        base = url.removesuffix("/mcp")
        async with httpx2.AsyncClient() as http:
            assert (await http.get(f"{base}/healthz")).status_code == 200
            ready = await http.get(f"{base}/readyz")
            assert ready.status_code == 200, ready.text


async def test_readyz_is_503_while_redis_is_down(sandbox_url: str, tmp_path: Path) -> None:
    env = base_env(sandbox_url, tmp_path, SMSAI_STATE_URL="redis://127.0.0.1:1/0")  # nothing listens there
    with http_server([], env, tmp_path / "log") as url:
        async with httpx2.AsyncClient() as http:
            base = url.removesuffix("/mcp")
            assert (await http.get(f"{base}/healthz")).status_code == 200
            ready = await http.get(f"{base}/readyz")
    assert ready.status_code == 503
    assert "state store" in ready.text


async def test_readyz_is_503_without_a_token(tmp_path: Path) -> None:
    with http_server([], {"SMSAI_STATE_DIR": str(tmp_path)}, tmp_path / "log") as url:
        async with httpx2.AsyncClient() as http:
            ready = await http.get(url.removesuffix("/mcp") + "/readyz")
    assert ready.status_code == 503
    assert "SMSAI_API_TOKEN" in ready.text


async def test_readyz_is_503_while_the_upstream_is_down(tmp_path: Path) -> None:
    env = base_env("http://127.0.0.1:1/api/v1", tmp_path)
    with http_server([], env, tmp_path / "log") as url:
        async with httpx2.AsyncClient() as http:
            ready = await http.get(url.removesuffix("/mcp") + "/readyz")
    assert ready.status_code == 503
    assert "SMS for AI API" in ready.text


async def test_readyz_names_no_tenant(sandbox_url: str, tmp_path: Path) -> None:
    """/readyz is open to anyone who can reach the port: it must not list who the service's tenants are."""
    tenants = write_tenants(
        tmp_path,
        acme={"access_key_sha256": sha256(KEY_A), "api_token_env": "ACME_TOKEN"},
        globex={"access_key_sha256": sha256(KEY_B), "api_token_env": "GLOBEX_TOKEN"},
    )
    env = base_env(sandbox_url, tmp_path, SMSAI_TENANTS_FILE=str(tenants), SMSAI_STATE_URL="redis://127.0.0.1:1/0")
    env |= {"ACME_TOKEN": SANDBOX_TOKEN, "GLOBEX_TOKEN": SANDBOX_TOKEN}
    with http_server([], env, tmp_path / "log") as url:
        async with httpx2.AsyncClient() as http:
            ready = await http.get(url.removesuffix("/mcp") + "/readyz")
    assert ready.status_code == 503
    assert "state store" in ready.text
    for name in ("acme", "globex", "tenant"):
        assert name not in ready.text


async def test_readyz_asks_the_upstream_at_most_once_per_10_seconds(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    """Probes from every load balancer and orchestrator must not turn into a flood at the upstream."""
    with http_server([], base_env(sandbox_url, tmp_path), tmp_path / "log") as url:
        readyz = url.removesuffix("/mcp") + "/readyz"
        async with httpx2.AsyncClient() as http:
            answers = []

            async def probe() -> None:
                answers.append((await http.get(readyz)).status_code)

            started = time.monotonic()
            async with anyio.create_task_group() as group:
                for _ in range(25):
                    group.start_soon(probe)
            for _ in range(25):
                await probe()
            elapsed = time.monotonic() - started
    assert answers == [200] * 50
    assert elapsed < 10
    assert sandbox.state.count("GET", "/api/v1") <= 1


async def test_readyz_reuses_the_upstream_verdict_for_10_seconds_then_asks_again(
    sandbox: Sandbox, settings: Settings
) -> None:
    from smsai_mcp.runtime import open_runtime
    from smsai_mcp.sandbox import Fault
    from smsai_mcp.service.readiness import Readiness
    from smsai_mcp.tenants import DEFAULT_TENANT, Tenant

    now = 1000.0
    readiness = Readiness(clock=lambda: now)
    async with open_runtime({DEFAULT_TENANT: Tenant(DEFAULT_TENANT, (), settings)}, timeout_seconds=5) as runtime:
        assert await readiness.problems(runtime) == []
        sandbox.state.add_fault(Fault(method="GET", path="/api/v1", status=503, times=None))
        now += 9.9
        assert await readiness.problems(runtime) == []  # the verdict of 9.9 s ago still stands
        now += 0.2
        problems = await readiness.problems(runtime)
    assert len(problems) == 1
    assert "SMS for AI API" in problems[0]
    assert sandbox.state.count("GET", "/api/v1") == 2  # one probe each time the verdict was renewed, no retries


async def test_logs_are_json_with_request_id_and_tenant_never_token_or_text(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    env = base_env(sandbox_url, tmp_path, SMSAI_MCP_ACCESS_KEYS=KEY_A)
    body = "a private message body 7731"
    with http_server([], env, tmp_path / "log") as url:
        async with connect(url, KEY_A) as client:
            await client.call_tool("send_sms", {"to": "+12025551234", "body": body})
            await client.call_tool("send_sms", {"to": "+19005551234", "body": body})  # refused: logged by the SDK
    log = (tmp_path / "log").read_text()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert entries
    assert any(entry.get("tenant") == "default" and entry.get("request_id") for entry in entries)
    tool_calls = [entry for entry in entries if entry["message"] == "tool call"]
    assert [entry["tool"] for entry in tool_calls] == ["send_sms", "send_sms"]
    assert [entry["outcome"] for entry in tool_calls] == ["ok", "error"]
    ids = [entry["request_id"] for entry in tool_calls]
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"[0-9a-f]{16}", request_id) for request_id in ids)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]) for entry in entries)
    for secret in (SANDBOX_TOKEN, KEY_A, body):
        assert secret not in log
    assert posts(sandbox) == 1


def write_tenants(tmp_path: Path, **policies: dict[str, Any]) -> Path:
    lines = []
    for name, policy in policies.items():
        lines.append(f"[tenants.{name}]")
        for key, value in policy.items():
            lines.append(f"{key} = {json.dumps(value)}")
    path = tmp_path / "tenants.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_tenants_are_isolated_tokens_budgets_and_ledgers(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    sandbox.state.set_credits(SANDBOX_EMPTY_TOKEN, Decimal("5"))
    tenants = write_tenants(
        tmp_path,
        acme={"access_key_sha256": sha256(KEY_A), "api_token_env": "ACME_TOKEN", "daily_budget_usd": 0.02},
        globex={"access_key_sha256": sha256(KEY_B), "api_token_env": "GLOBEX_TOKEN", "allowed_countries": ["CA"]},
    )
    env = base_env(sandbox_url, tmp_path, SMSAI_TENANTS_FILE=str(tenants), ACME_TOKEN=SANDBOX_TOKEN)
    env["GLOBEX_TOKEN"] = SANDBOX_EMPTY_TOKEN
    env["SMSAI_API_TOKEN"] = "smsai_process_token_never_used"
    with http_server([], env, tmp_path / "log") as url:
        async with connect(url, KEY_A) as acme:
            for n in range(3):
                await acme.call_tool("send_sms", {"to": "+12025551234", "body": f"acme {n}"})
            acme_balance = (await acme.call_tool("check_balance", {})).structured_content
        async with connect(url, KEY_B) as globex:
            us = await globex.call_tool("send_sms", {"to": "+12025551234", "body": "globex"})
            ca = await globex.call_tool("send_sms", {"to": "+14165550123", "body": "globex"})
            globex_balance = (await globex.call_tool("check_balance", {})).structured_content
    assert acme_balance is not None
    assert globex_balance is not None
    assert acme_balance["spent_today_usd"] == pytest.approx(0.02)  # two of three: acme's budget
    assert us.is_error
    assert "SMSAI_ALLOWED_COUNTRIES" in text_of(us)  # globex's own policy
    assert not ca.is_error
    assert globex_balance["spent_today_usd"] == pytest.approx(0.01)  # acme's spend is not globex's
    assert {m.to for m in sandbox.state.messages_of(SANDBOX_TOKEN)} == {"+12025551234"}
    assert [m.to for m in sandbox.state.messages_of(SANDBOX_EMPTY_TOKEN)] == ["+14165550123"]  # globex's own token
    assert not any(r.authorized is False for r in sandbox.state.requests)  # the process token was never tried


async def test_a_tenant_holding_its_share_of_sessions_cannot_take_the_rest(sandbox_url: str, tmp_path: Path) -> None:
    """Four sessions for two tenants: one tenant's agents must not be able to hold all four."""
    tenants = write_tenants(
        tmp_path,
        acme={"access_key_sha256": sha256(KEY_A), "api_token_env": "ACME_TOKEN"},
        globex={"access_key_sha256": sha256(KEY_B), "api_token_env": "GLOBEX_TOKEN"},
    )
    env = base_env(sandbox_url, tmp_path, SMSAI_TENANTS_FILE=str(tenants), SMSAI_MCP_MAX_SESSIONS="4")
    env |= {"ACME_TOKEN": SANDBOX_TOKEN, "GLOBEX_TOKEN": SANDBOX_TOKEN}
    with http_server([], env, tmp_path / "log") as url:
        acme = [await post_raw(url, {"Authorization": f"Bearer {KEY_A}"}) for _ in range(3)]
        globex = [await post_raw(url, {"Authorization": f"Bearer {KEY_B}"}) for _ in range(2)]
        async with httpx2.AsyncClient() as http:
            ended = await http.delete(
                url, headers={"Authorization": f"Bearer {KEY_A}", "Mcp-Session-Id": acme[0].headers["mcp-session-id"]}
            )
        acme_again = await post_raw(url, {"Authorization": f"Bearer {KEY_A}"})
    assert [response.status_code for response in acme] == [200, 200, 503]  # its share: 4 // 2 tenants
    refusal = acme[2].text
    assert len(refusal.splitlines()) == 1
    assert "session" in json.loads(refusal)["error"]["message"]
    assert "globex" not in refusal
    assert [response.status_code for response in globex] == [200, 200]  # the other tenant still gets its own
    assert ended.status_code < 300
    assert acme_again.status_code == 200  # a session ended frees its place


async def test_a_client_dribbling_its_headers_is_cut_off_while_others_are_served(
    sandbox_url: str, tmp_path: Path
) -> None:
    """A connection that sends a header byte every half second must not stay open: enough of them exhaust the
    server's sockets (slowloris)."""
    import socket

    def dribble(port: int) -> float:
        """Seconds until the server closed a connection that never finishes its headers (30 if it never does)."""
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(0.5)
            for byte in head:
                if time.monotonic() - started > 30:
                    break
                try:
                    sock.sendall(bytes([byte]))
                    if sock.recv(1024) == b"":
                        return time.monotonic() - started
                except TimeoutError:
                    continue  # the server is still waiting for the rest: keep dribbling
                except OSError:
                    return time.monotonic() - started
        return 30.0

    with http_server([], base_env(sandbox_url, tmp_path), tmp_path / "log") as url:
        port = int(url.split(":")[2].split("/")[0])
        healthy: list[int] = []

        async def meanwhile() -> None:
            async with httpx2.AsyncClient() as http:
                for _ in range(5):
                    healthy.append((await http.get(url.removesuffix("/mcp") + "/healthz")).status_code)
                    await anyio.sleep(0.5)

        async with anyio.create_task_group() as group:
            group.start_soon(meanwhile)
            cut_after = await anyio.to_thread.run_sync(dribble, port)
    assert cut_after < 10
    assert healthy == [200] * 5


needs_redis = pytest.mark.skipif(not redis_available() and not os.environ.get("CI"), reason="no Redis on loopback")


def worker_database() -> str:
    """A Redis database of this pytest-xdist worker's own (gw0: 1, gw1: 2, ...), for servers whose keys are fixed."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"redis://127.0.0.1:6379/{1 + int(worker.removeprefix('gw')) % 15}"


def forget_server_keys(url: str) -> None:
    """The servers' keys only (`smsai:<tenant>:...`): never FLUSHDB on a Redis that others may be using."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match="smsai:*", count=1000):
            client.delete(key)
    finally:
        client.close()


@contextmanager
def replicas(sandbox_url: str, tmp_path: Path, count: int = 2, **extra: str) -> Iterator[list[str]]:
    """Several server processes with separate state directories, sharing one Redis and one secret."""
    prefix_db = worker_database()
    forget_server_keys(prefix_db)  # a run stopped midway leaves its keys behind
    with ExitStack() as stack:
        urls = [
            stack.enter_context(
                http_server(
                    [],
                    base_env(
                        sandbox_url,
                        tmp_path / f"replica{n}",
                        SMSAI_STATE_URL=prefix_db,
                        SMSAI_STATE_SECRET=SECRET,
                        **extra,
                    ),
                    tmp_path / f"replica{n}.log",
                )
            )
            for n in range(count)
        ]
        yield urls
    forget_server_keys(prefix_db)


@needs_redis
async def test_replicas_sharing_redis_never_overshoot_the_budget(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    with replicas(sandbox_url, tmp_path, SMSAI_DAILY_BUDGET_USD="0.10", SMSAI_MAX_PER_RECIPIENT_PER_HOUR="100") as urls:
        refusals = 0

        async def send_through(url: str, n: int) -> None:
            nonlocal refusals
            async with connect(url, None) as client:
                result = await client.call_tool("send_sms", {"to": "+12025551234", "body": f"message {n}"})
                if result.is_error:
                    assert "daily budget" in text_of(result)
                    refusals += 1

        async with anyio.create_task_group() as group:
            for n in range(30):
                group.start_soon(send_through, urls[n % 2], n)
    assert posts(sandbox) == 10
    assert refusals == 20
    assert sandbox.state.count("GET", "/api/v1/countries") <= 2  # the price list is shared through Redis


@needs_redis
@pytest.mark.parametrize("era", ERAS)
async def test_token_confirmation_begun_on_one_replica_finishes_on_the_other_once(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    with replicas(sandbox_url, tmp_path, SMSAI_CONFIRM="token", SMSAI_DUPLICATE_WINDOW_SECONDS="0") as (one, two):
        arguments = {"to": "+12025551234", "body": "confirm me across replicas"}
        async with connect(one, None, era) as client:
            first = (await client.call_tool("send_sms", arguments)).structured_content
        assert first is not None
        assert first["status"] == "confirmation_required"
        confirmed = {**arguments, "confirmation_token": first["confirmation_token"]}
        async with connect(two, None, era) as client:
            sent = await client.call_tool("send_sms", confirmed)
        async with connect(one, None, era) as client:
            replayed = await client.call_tool("send_sms", confirmed)
    assert not sent.is_error, text_of(sent)
    assert replayed.is_error
    assert "already used" in text_of(replayed)
    assert posts(sandbox) == 1


@needs_redis
async def test_2026_elicitation_begun_on_one_replica_finishes_on_the_other_once(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    from mcp.types import ElicitResult, InputRequiredResult, InputResponses

    with replicas(sandbox_url, tmp_path, SMSAI_CONFIRM="elicit", SMSAI_DUPLICATE_WINDOW_SECONDS="0") as (one, two):
        arguments = {"to": "+12025551234", "body": "elicit me across replicas"}

        async def accept(*_: Any) -> ElicitResult:
            return ElicitResult(action="accept", content={"confirm": True})

        async with connect(one, None, "auto", elicitation_callback=accept) as first:
            asked = await first.session.call_tool("send_sms", arguments, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        [key] = list(asked.input_requests or {})
        answers: InputResponses = {key: ElicitResult(action="accept", content={"confirm": True})}
        async with connect(two, None, "auto", elicitation_callback=accept) as second:
            done = await second.session.call_tool(
                "send_sms",
                arguments,
                input_responses=answers,
                request_state=asked.request_state,
                allow_input_required=True,
            )
            again = await second.session.call_tool(
                "send_sms",
                arguments,
                input_responses=answers,
                request_state=asked.request_state,
                allow_input_required=True,
            )
    assert not getattr(done, "is_error", True), done
    # The replay sends nothing: refused as a used confirmation, or asked afresh since the balance moved.
    assert getattr(again, "is_error", False) or isinstance(again, InputRequiredResult)
    assert posts(sandbox) == 1


async def test_oversized_request_is_refused_before_it_reaches_a_tool(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path
) -> None:
    env = base_env(sandbox_url, tmp_path, SMSAI_MCP_MAX_REQUEST_BYTES="4096")
    with http_server([], env, tmp_path / "log") as url:
        async with httpx2.AsyncClient() as http:
            response = await http.post(
                url,
                content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 10_000}}),
                headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
            )
    assert response.status_code == 413
    assert posts(sandbox) == 0


async def test_graceful_stop_lets_an_in_flight_send_finish(sandbox: Sandbox, sandbox_url: str, tmp_path: Path) -> None:
    import signal

    from smsai_mcp.sandbox import Fault

    sandbox.state.add_fault(Fault(method="POST", path="/api/v1/sms/send", response="normal", delay_seconds=1.5))
    env = base_env(sandbox_url, tmp_path)
    with http_server([], env, tmp_path / "log", keep_process=True) as (url, process):
        result: dict[str, Any] = {}

        async def send() -> None:
            async with connect(url, None) as client:
                outcome = await client.call_tool("send_sms", {"to": "+12025551234", "body": "in flight at shutdown"})
                result["error"] = outcome.is_error
                result["text"] = text_of(outcome)

        async with anyio.create_task_group() as group:
            group.start_soon(send)
            with anyio.fail_after(10):
                while posts(sandbox) == 0:  # noqa: ASYNC110 - the sandbox is another thread; polling it is the way
                    await anyio.sleep(0.05)
            process.send_signal(signal.SIGTERM)  # mid-POST: the send must still complete and be recorded
        exit_code = process.wait(timeout=30)
    assert exit_code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped cleanly
    assert [m.body for m in sandbox.state.messages] == ["in flight at shutdown"]
    assert result == {"error": False, "text": result["text"]}, result
    ledger = (tmp_path / "audit.jsonl").read_text()
    assert '"outcome":"sent"' in ledger


async def test_an_idle_server_stops_within_half_a_second_of_sigterm(sandbox_url: str, tmp_path: Path) -> None:
    """No call in flight and none answered lately: a stop has nothing to wait for (it used to wait a full second)."""
    import signal

    env = base_env(sandbox_url, tmp_path)
    with http_server([], env, tmp_path / "log", keep_process=True) as (url, process):
        async with connect(url, None) as client:  # served a call, long enough ago that its answer is written
            assert not (await client.call_tool("check_balance", {})).is_error
        await anyio.sleep(1.0)
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        exit_code = await anyio.to_thread.run_sync(lambda: process.wait(timeout=10))
        took = time.monotonic() - stopping
    assert exit_code in (0, -signal.SIGTERM)
    assert took < 0.5, f"an idle stop took {took:.2f} s"
