"""A stdio start answers `initialize` and `tools/list` without loading the send path; it loads once the tools are
listed, on a thread of its own, and the first call finds it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from smsai_mcp import cli
from smsai_mcp.runtime import LazyGuard
from smsai_mcp.sandbox import SANDBOX_TOKEN
from tests.processes import server_env

# Run as the server's process: notes which of the package's modules are loaded as the first tools/list answer
# reaches the wire (the moment the send path starts loading), and whether the garbage collector runs then and
# after; then serves as `python -m smsai_mcp` does.
_NOTING_SERVER = """
import gc, sys, threading
from smsai_mcp.cli import main
start = threading.Thread.start
def noting(self):
    if self.name == "smsai-after-first-answer":
        loaded = sorted(name for name in sys.modules if name.startswith("smsai_mcp"))
        print("LOADED " + " ".join(loaded), file=sys.stderr, flush=True)
        print(f"COLLECTING {gc.isenabled()}", file=sys.stderr, flush=True)
        run = self.run
        def then():
            run()
            print(f"COLLECTING {gc.isenabled()}", file=sys.stderr, flush=True)
        self.run = then
    start(self)
threading.Thread.start = noting
raise SystemExit(main())
"""
SEND_PATH = (
    "smsai_mcp.guard.pipeline",
    "smsai_mcp.guard.stages",
    "smsai_mcp.guard.batch",
    "smsai_mcp.guard.batch_stages",
    "smsai_mcp.guard.question",
    "smsai_mcp.guard.reconcile",
    "smsai_mcp.guard.send",
    "smsai_mcp.guard.steps.quiet_hours",
    "smsai_mcp.sms.content_rules",
    "smsai_mcp.sms.estimate",
)


def _request(request_id: int | None, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params is not None:
        message["params"] = params
    return (json.dumps(message) + "\n").encode()


def _answer(process: subprocess.Popen[bytes], request_id: int) -> dict[str, Any]:
    assert process.stdout is not None
    while line := process.stdout.readline():
        message: dict[str, Any] = json.loads(line)
        if message.get("id") == request_id:
            return message
    raise AssertionError(f"no answer to request {request_id}")


def test_tools_are_listed_before_the_send_path_loads_and_a_first_call_finds_it() -> None:
    env = server_env({"SMSAI_API_TOKEN": SANDBOX_TOKEN, "SMSAI_BASE_URL": "http://127.0.0.1:9/api/v1"})
    process = subprocess.Popen(
        [sys.executable, "-c", _NOTING_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    try:
        hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        process.stdin.write(_request(1, "initialize", hello))
        process.stdin.write(_request(None, "notifications/initialized"))
        process.stdin.write(_request(2, "tools/list"))
        process.stdin.flush()
        assert "send_sms" in {tool["name"] for tool in _answer(process, 2)["result"]["tools"]}
        process.stdin.write(_request(3, "tools/call", {"name": "list_opt_outs", "arguments": {}}))
        process.stdin.flush()
        assert not _answer(process, 3)["result"].get("isError")  # the guard, built once the tools were listed
    finally:
        _, stderr = process.communicate(timeout=60)  # closes stdin: the server stops
    collecting = [line for line in stderr.decode().splitlines() if line.startswith("COLLECTING ")]
    assert collecting == ["COLLECTING False", "COLLECTING True"]  # off for the start, on once it is over
    noted = [line for line in stderr.decode().splitlines() if line.startswith("LOADED ")]
    assert len(noted) == 1, stderr.decode()
    loaded = set(noted[0].split()[1:])
    assert "smsai_mcp.server" in loaded
    assert loaded.isdisjoint(SEND_PATH), sorted(loaded.intersection(SEND_PATH))


def test_no_arguments_mean_what_the_parser_makes_of_none() -> None:
    assert vars(cli._parser().parse_args([])) == cli.NO_ARGUMENTS


def test_a_lazy_guard_is_built_once_when_asked_from_two_threads() -> None:
    built: list[object] = []
    ready = threading.Barrier(2)

    def build() -> Any:
        built.append(object())
        return built[-1]

    guard = LazyGuard(build)
    seen: list[object] = []

    def ask() -> None:
        ready.wait()
        seen.append(guard.get())

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert seen == [built[0], built[0]]


def test_the_state_commands_load_without_the_mcp_sdk() -> None:
    """`opt-outs`, `pause`, `resume` and `attempts` touch only the state: importing the MCP SDK cost each of them
    about a second before it printed anything."""
    check = (
        "import sys\n"
        "import smsai_mcp.attempts, smsai_mcp.opt_outs_cli, smsai_mcp.pause_cli\n"
        "print(sorted(name for name in sys.modules if name == 'mcp' or name.startswith(('mcp.', 'mcp_types'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60)
    assert loaded.stdout.strip() == "[]", loaded.stdout
