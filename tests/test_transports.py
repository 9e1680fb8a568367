"""The installed server as hosts run it: a child process over stdio, and over Streamable HTTP, in both eras."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from tests.conftest import ERAS, assert_matches_output_schema, posts, text_of
from tests.processes import SERVER, http_server, server_env, stdio_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # every test starts the server as a process


def upstream_env(sandbox_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": sandbox_url,
        "SMSAI_CONFIRM": "off",
        "SMSAI_STATE_DIR": str(tmp_path / "state"),
    }


async def exercise(client: Client, sandbox: Sandbox | None) -> None:
    """List the tools, read the balance, send once: what every host does first."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert "send_sms" in tools
    balance = await client.call_tool("check_balance", {})
    assert_matches_output_schema(tools["check_balance"], balance)
    sent = await client.call_tool("send_sms", {"to": "+14165550123", "body": "over the wire"})
    result = assert_matches_output_schema(tools["send_sms"], sent)
    assert result["status"] == "sent"
    assert result["estimate"]["country_code"] == "CA"
    refused = await client.call_tool("send_sms", {"to": "not a number", "body": "x"})
    assert refused.is_error
    assert text_of(refused).startswith("Nothing was sent.")
    if sandbox is not None:
        assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_stdio_server_against_the_sandbox_over_http(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    errlog = tmp_path / "stderr.log"
    params = StdioServerParameters(
        command=SERVER[0], args=SERVER[1:], env=server_env(upstream_env(sandbox_url, tmp_path))
    )
    with errlog.open("w") as stderr:
        async with Client(stdio_client(params, errlog=stderr), mode=era) as client:
            await exercise(client, sandbox)
    assert SANDBOX_TOKEN not in errlog.read_text()


@pytest.mark.parametrize("era", ERAS)
async def test_stdio_server_on_the_embedded_sandbox_needs_no_token(tmp_path: Path, era: str) -> None:
    params = StdioServerParameters(
        command=SERVER[0],
        args=[*SERVER[1:], "--sandbox"],
        env=server_env({"SMSAI_CONFIRM": "off", "SMSAI_STATE_DIR": str(tmp_path / "state")}),
    )
    async with Client(params, mode=era) as client:
        await exercise(client, None)


@pytest.mark.parametrize("era", ERAS)
async def test_http_server_against_the_sandbox(sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str) -> None:
    with http_server([], upstream_env(sandbox_url, tmp_path), tmp_path / "http.log") as url:
        async with Client(url, mode=era) as client:
            await exercise(client, sandbox)
    assert SANDBOX_TOKEN not in (tmp_path / "http.log").read_text()


@pytest.mark.parametrize("era", ERAS)
async def test_http_server_on_the_embedded_sandbox(tmp_path: Path, era: str) -> None:
    env = {"SMSAI_CONFIRM": "off", "SMSAI_STATE_DIR": str(tmp_path / "state")}
    with http_server(["--sandbox"], env, tmp_path / "http.log") as url:
        async with Client(url, mode=era) as client:
            await exercise(client, None)


def test_stdout_carries_nothing_but_protocol(sandbox_url: str, tmp_path: Path) -> None:
    """A stray print would corrupt the stream a host reads: every stdout line must be a JSON-RPC message."""
    requests: list[dict[str, Any]] = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "check_balance", "arguments": {}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "get_message", "arguments": {"id": 1}}},
    ]
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as stderr:
        process = subprocess.Popen(
            SERVER,
            env=server_env(upstream_env(sandbox_url, tmp_path)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        for request in requests:
            process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        messages: list[dict[str, Any]] = []
        # Keep stdin open until every answer is in: closing it tells the server to stop.
        while {message.get("id") for message in messages} < {1, 2, 3, 4}:
            line = process.stdout.readline()
            assert line, errlog.read_text()
            messages.append(json.loads(line))  # a non-JSON line fails here
        process.stdin.close()
        rest = process.stdout.read()
        process.wait(timeout=30)
    messages.extend(json.loads(line) for line in rest.splitlines() if line.strip())
    assert all(message["jsonrpc"] == "2.0" for message in messages)
    assert SANDBOX_TOKEN not in json.dumps(messages) + errlog.read_text()


# What a 2026-07-28 request carries in place of the handshake.
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _stdio_requests(era: str, call: dict[str, Any]) -> list[dict[str, Any]]:
    """Raw JSON-RPC lines that open a stdio connection in `era` and make one tool call with id 2."""
    if era == "legacy":
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        return [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call},
        ]
    return [{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {**call, "_meta": MODERN_META}}]


@pytest.mark.parametrize("era", ERAS)
def test_stdin_closed_while_a_send_is_in_flight_still_gets_its_answer(
    sandbox: Sandbox, sandbox_url: str, tmp_path: Path, era: str
) -> None:
    """A host that closes stdin right after a send must still read that send's answer: the message went out."""
    from smsai_mcp.sandbox import Fault

    sandbox.state.add_fault(Fault(method="POST", path="/api/v1/sms/send", response="normal", delay_seconds=1.5))
    call = {"name": "send_sms", "arguments": {"to": "+12025551234", "body": "stdin closes mid-send"}}
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as stderr:
        process = subprocess.Popen(
            SERVER,
            env=server_env(upstream_env(sandbox_url, tmp_path)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        for request in _stdio_requests(era, call):
            process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        deadline = time.monotonic() + 20
        while posts(sandbox) == 0:  # the POST is in flight at the sandbox, held for 1.5 s
            assert time.monotonic() < deadline, errlog.read_text()
            time.sleep(0.02)
        process.stdin.close()
        answers = [json.loads(line) for line in process.stdout.read().splitlines() if line.strip()]
        process.wait(timeout=30)
    [answer] = [message for message in answers if message.get("id") == 2]
    assert answer["result"]["structuredContent"]["status"] == "sent", answer
    assert posts(sandbox) == 1
    assert process.returncode == 0


@pytest.mark.slow
def test_stdio_server_exits_promptly_when_its_host_closes_stdin(tmp_path: Path) -> None:
    """A host that closes stdin sees the process end at once, not after the stdout copier's drain limit."""
    process = stdio_server(["--sandbox"], {"SMSAI_STATE_DIR": str(tmp_path / "state")})
    time.sleep(1.5)
    assert process.stdin is not None
    closed = time.monotonic()
    process.stdin.close()
    process.wait(timeout=30)
    assert time.monotonic() - closed < 5
    assert process.returncode == 0


@pytest.mark.slow
async def test_a_restarted_sandbox_server_sends_again_on_the_same_state(tmp_path: Path) -> None:
    """Hosts restart the server with every session: the new embedded sandbox must not hand out an id that the kept
    sandbox ledger already booked for another message, or the send would be taken for someone else's."""
    env = server_env({"SMSAI_STATE_DIR": str(tmp_path / "state"), "SMSAI_CONFIRM": "off"})
    params = StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], "--sandbox"], env=env)
    for session in range(2):
        async with Client(params, mode=ERAS[session % 2]) as client:
            result = await client.call_tool("send_sms", {"to": "+14155550123", "body": f"Session {session} says hi"})
            assert not result.is_error, text_of(result)
            assert (result.structured_content or {}).get("status") == "sent"


def test_a_stdio_server_exits_within_half_a_second_of_its_stdin_closing(sandbox_url: str, tmp_path: Path) -> None:
    """Hosts close stdin and give the server a moment before they kill it (the SDK's client, 2 s): the collection
    Python runs at exit used to take all of that, after the last answer had gone out."""
    with (tmp_path / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            SERVER,
            env=server_env(upstream_env(sandbox_url, tmp_path)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        }
        process.stdin.write(json.dumps(hello).encode() + b"\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 1
        closing = time.monotonic()
        process.stdin.close()
        exit_code = process.wait(timeout=10)
        took = time.monotonic() - closing
        process.stdout.close()
    assert exit_code == 0, (tmp_path / "stderr.log").read_text()
    assert took < 0.5, f"the server took {took:.2f} s to exit"


@pytest.mark.slow
def test_requests_written_with_stdin_closed_at_once_are_all_answered(tmp_path: Path) -> None:
    """A host (or a script) may write its requests and close stdin before the server has read a line: each request,
    one of them split across writes, still gets its answer, and nothing but those answers reaches stdout."""
    lines = [json.dumps(message) + "\n" for message in _stdio_requests("legacy", {"name": "check_balance"})]
    lines.insert(2, json.dumps({"jsonrpc": "2.0", "id": "list", "method": "tools/list"}) + "\n")
    wire = "".join(lines).encode()
    process = stdio_server(["--sandbox"], {"SMSAI_STATE_DIR": str(tmp_path / "state")})
    assert process.stdin is not None
    assert process.stdout is not None
    middle = len(wire) - 20  # inside the last request: its line reaches the server in two pieces
    process.stdin.write(wire[:middle])
    process.stdin.flush()
    time.sleep(0.2)
    process.stdin.write(wire[middle:])
    process.stdin.close()
    answers = [json.loads(line) for line in process.stdout.read().splitlines()]
    process.wait(timeout=30)
    assert [answer.get("id") for answer in answers] == [1, "list", 2], answers
    assert "tools" in answers[1]["result"]
    assert "credits_usd" in answers[2]["result"]["structuredContent"]
    assert process.returncode == 0


@pytest.mark.slow
def test_a_stdio_server_listened_to_exits_when_its_host_closes_stdin(tmp_path: Path) -> None:
    """A 2026-07-28 host that listens for updates and then closes stdin sees the process end at once: a listen is
    never answered, so counting it as in flight kept every such server alive until its host killed it."""
    listen = {"notifications": {"toolsListChanged": True}, "_meta": MODERN_META}
    process = stdio_server(["--sandbox"], {"SMSAI_STATE_DIR": str(tmp_path / "state")})
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen", "params": listen}).encode() + b"\n"
    )
    process.stdin.flush()
    acknowledged = json.loads(process.stdout.readline())  # the stream is open once the server acknowledges it
    assert acknowledged.get("method") == "notifications/subscriptions/acknowledged", acknowledged
    closed = time.monotonic()
    process.stdin.close()
    process.wait(timeout=30)
    assert time.monotonic() - closed < 1.5
    assert process.returncode == 0
