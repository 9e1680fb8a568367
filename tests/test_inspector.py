"""A real MCP client from another SDK: the MCP Inspector CLI (TypeScript SDK) drives the server over stdio.

The Inspector declares no elicitation, so it stands for every host that cannot ask a person: with the default
SMSAI_CONFIRM=auto it must get the token flow, and with SMSAI_CONFIRM=elicit a refusal. Every call starts the
server afresh (as a host that restarts it would), so a confirmation token also has to survive a restart.

The node tools come from scripts/install-node-tools.sh (into .tools/, or SMSAI_TOOLS_DIR). Without them these
tests skip, unless SMSAI_REQUIRE_NODE_TOOLS=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox
from tests.conftest import posts

pytestmark = pytest.mark.slow  # every call starts Node, the Inspector and the server

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "tools_list.json"
SERVER = [sys.executable, "-m", "smsai_mcp"]
ERAS = ["legacy", "modern"]  # the Inspector's names for 2025-11-25 and 2026-07-28
EXIT_TOOL_ERROR = 5
INSPECTOR_TIMEOUT_SECONDS = 90
TO = "+14165550123"


def tools_bin() -> Path:
    """The node_modules/.bin of the project-local node tools, or a skip (a failure in CI) naming the fix."""
    prefix = Path(os.environ.get("SMSAI_TOOLS_DIR", ROOT / ".tools"))
    if not prefix.is_absolute():
        prefix = ROOT / prefix
    bin_dir = prefix / "node_modules" / ".bin"
    missing = [name for name in ("node", "mcp-inspector", "mcpb") if not (bin_dir / name).exists()]
    if missing:
        reason = f"node tools not installed in {prefix} ({', '.join(missing)}): run scripts/install-node-tools.sh"
        if os.environ.get("SMSAI_REQUIRE_NODE_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return bin_dir


def node_env(bin_dir: Path, home: Path) -> dict[str, str]:
    """Node 22 first on PATH, and a scratch HOME: the Inspector never reads or writes the user's own files."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SMSAI_", "MCP_"))}
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),  # the Inspector keeps its catalog and client settings under ~/.mcp-inspector
            "NO_UPDATE_NOTIFIER": "1",
            # Node keeps the code it compiled, next to the tools it came from: every Inspector call compiles
            # the same modules, and that was a third of its CPU.
            "NODE_COMPILE_CACHE": str(bin_dir.parent.parent / ".node-compile-cache"),
        }
    )
    return env


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> dict[str, Any]:
        envelope = json.loads(self.stdout)
        assert isinstance(envelope, dict), self.stdout[:500]
        assert "result" in envelope, self.stdout[:500]
        result: dict[str, Any] = envelope["result"]
        return result

    @property
    def envelope(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data


class Inspector:
    """mcp-inspector --cli, one process per call, against the server with the given SMSAI_* environment."""

    def __init__(self, bin_dir: Path, home: Path, server_env: Mapping[str, str]) -> None:
        self.bin_dir = bin_dir
        self.env = node_env(bin_dir, home)
        # Quiet hours are on by default: the test number's sends would be refused at night.
        self.server_env = {"SMSAI_QUIET_HOURS": "off", **server_env}

    def run(self, *args: str, era: str = "legacy", target: list[str] | None = None) -> Run:
        command = [str(self.bin_dir / "mcp-inspector"), "--cli", "--format", "json", "-q", "--protocol-era", era]
        for key, value in self.server_env.items():
            command += ["-e", f"{key}={value}"]
        command += list(args)
        command += ["--", *(target if target is not None else SERVER)]
        done = subprocess.run(
            command,
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=INSPECTOR_TIMEOUT_SECONDS,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def list_tools(self, *extra: str, era: str = "legacy") -> Run:
        return self.run("--method", "tools/list", *extra, era=era)

    def call(self, tool: str, arguments: Mapping[str, Any] | None = None, *, era: str = "legacy") -> Run:
        return self.run(
            "--method",
            "tools/call",
            "--tool-name",
            tool,
            "--tool-args-json",
            json.dumps(arguments or {}),
            era=era,
        )


def ok(run: Run) -> dict[str, Any]:
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    result = run.result
    assert result.get("isError") is not True, result
    return result


def tool_error(run: Run) -> str:
    """The text of a tool error: the Inspector exits 5 and still prints the result."""
    assert run.returncode == EXIT_TOOL_ERROR, f"exit {run.returncode}: {run.stdout[-1000:]} {run.stderr[-1000:]}"
    result = run.result
    assert result["isError"] is True
    return "\n".join(block["text"] for block in result["content"] if block["type"] == "text")


def structured(result: dict[str, Any], tool: str) -> dict[str, Any]:
    """structuredContent, valid against the tool's output schema in the golden tools/list."""
    [spec] = [t for t in json.loads(GOLDEN.read_text(encoding="utf-8")) if t["name"] == tool]
    content: dict[str, Any] = result["structuredContent"]
    Draft202012Validator(spec["outputSchema"]).validate(content)
    text = "\n".join(block["text"] for block in result["content"] if block["type"] == "text")
    assert json.loads(text) == content
    return content


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    return tools_bin()


@pytest.fixture
def upstream(sandbox: Sandbox, sandbox_url: str, tmp_path: Path) -> dict[str, str]:
    """The server against the test's sandbox over loopback HTTP, so that POSTs can be counted."""
    return {
        "SMSAI_API_TOKEN": SANDBOX_TOKEN,
        "SMSAI_BASE_URL": sandbox_url,
        "SMSAI_STATE_DIR": str(tmp_path / "state"),
    }


@pytest.fixture
def inspector(bin_dir: Path, tmp_path: Path, upstream: dict[str, str]) -> Inspector:
    return Inspector(bin_dir, tmp_path / "home", upstream)


@pytest.fixture
def embedded(bin_dir: Path, tmp_path: Path) -> Inspector:
    """`smsai-mcp --sandbox`: no token, no network."""
    return Inspector(bin_dir, tmp_path / "home", {"SMSAI_STATE_DIR": str(tmp_path / "state")})


def test_node_is_22_or_newer(bin_dir: Path, tmp_path: Path) -> None:
    version = subprocess.run(
        [str(bin_dir / "node"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        env=node_env(bin_dir, tmp_path),
    ).stdout.strip()
    major, minor, _ = (int(part) for part in version.lstrip("v").split("."))
    assert (major, minor) >= (22, 19), version


@pytest.mark.parametrize("era", ERAS)
def test_tools_list_is_the_golden_file(embedded: Inspector, era: str) -> None:
    """What a TypeScript client receives is exactly what tests/golden/tools_list.json holds."""
    target = [*SERVER, "--sandbox"]
    result = ok(embedded.run("--method", "tools/list", era=era, target=target))
    assert result["tools"] == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_strict_schema_lint_finds_nothing(embedded: Inspector) -> None:
    """--strict exits 6 on a portability error; we also want no warning at all (the envelope lists findings)."""
    run = embedded.run("--method", "tools/list", "--strict", target=[*SERVER, "--sandbox"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert "schemaFindings" not in run.envelope, json.dumps(run.envelope.get("schemaFindings"), indent=1)


@pytest.mark.parametrize("era", ERAS)
def test_check_balance(inspector: Inspector, era: str) -> None:
    balance = structured(ok(inspector.call("check_balance", era=era)), "check_balance")
    assert balance["credits_usd"] == 25.0
    assert balance["daily_budget_usd"] == 10.0
    assert balance["spent_today_usd"] == 0.0
    assert balance["daily_budget_remaining_usd"] == 10.0
    assert balance["max_cost_per_message_usd"] == 1.0


@pytest.mark.parametrize("era", ERAS)
def test_estimate_sms(inspector: Inspector, sandbox: Sandbox, era: str) -> None:
    estimate = structured(
        ok(inspector.call("estimate_sms", {"to": TO, "body": "Your table is ready ☕"}, era=era)), "estimate_sms"
    )
    assert estimate["country_code"] == "CA"
    assert estimate["encoding"] == "UCS-2"
    assert estimate["non_gsm_characters"] == ["☕"]
    assert estimate["segments"] == 1
    assert estimate["estimated_cost_usd"] == estimate["unit_price_usd"]
    assert posts(sandbox) == 0


def test_the_embedded_sandbox_needs_no_token(embedded: Inspector) -> None:
    result = embedded.run("--method", "tools/call", "--tool-name", "check_balance", target=[*SERVER, "--sandbox"])
    assert structured(ok(result), "check_balance")["credits_usd"] == 25.0


@pytest.mark.parametrize(
    ("first_era", "second_era"), [("legacy", "legacy"), ("modern", "modern"), ("legacy", "modern")]
)
def test_token_confirmation_flow(
    bin_dir: Path, tmp_path: Path, upstream: dict[str, str], sandbox: Sandbox, first_era: str, second_era: str
) -> None:
    """SMSAI_CONFIRM=auto and a client that cannot elicit: estimate and token first, send on the second call."""
    # No duplicate window, so that a replay is stopped by the consumed token itself, not by duplicate detection.
    inspector = Inspector(bin_dir, tmp_path / "home", {**upstream, "SMSAI_DUPLICATE_WINDOW_SECONDS": "0"})
    message = {"to": TO, "body": "Your table is ready"}

    first = structured(ok(inspector.call("send_sms", message, era=first_era)), "send_sms")
    assert first["status"] == "confirmation_required"
    assert first["estimate"]["estimated_cost_usd"] > 0
    assert first["expires_at"].endswith("Z")
    token = first["confirmation_token"]
    assert token
    assert posts(sandbox) == 0, "asking for confirmation must not send"

    # A token is bound to its message: another text with it sends nothing.
    refused = tool_error(inspector.call("send_sms", {**message, "body": "Something else", "confirmation_token": token}))
    assert refused.startswith("Nothing was sent.")
    assert posts(sandbox) == 0

    sent = structured(
        ok(inspector.call("send_sms", {**message, "confirmation_token": token}, era=second_era)), "send_sms"
    )
    assert sent["status"] == "sent"
    assert sent["message"]["to"] == TO
    assert posts(sandbox) == 1

    # Single use: the same confirmation presented again (in either era) sends nothing more.
    for era in ERAS:
        replay = tool_error(inspector.call("send_sms", {**message, "confirmation_token": token}, era=era))
        assert replay.startswith("Nothing was sent.")
        assert "already used" in replay
    assert posts(sandbox) == 1


def test_elicit_mode_refuses_a_client_that_cannot_ask(
    bin_dir: Path, tmp_path: Path, upstream: dict[str, str], sandbox: Sandbox
) -> None:
    inspector = Inspector(bin_dir, tmp_path / "home", {**upstream, "SMSAI_CONFIRM": "elicit"})
    for era in ERAS:
        text = tool_error(inspector.call("send_sms", {"to": TO, "body": "hello"}, era=era))
        assert text.startswith("Nothing was sent.")
        assert "elicitation" in text
    assert posts(sandbox) == 0


def test_invalid_arguments_are_a_tool_error_that_says_nothing_was_sent(inspector: Inspector, sandbox: Sandbox) -> None:
    text = tool_error(inspector.call("send_sms", {"to": "not a number", "body": "hello"}))
    assert text.startswith("Nothing was sent.")
    assert posts(sandbox) == 0


@pytest.mark.parametrize("config", ["claude-desktop/claude_desktop_config.json", "cursor/mcp.json"])
def test_host_config_files_are_read_by_a_real_client(
    bin_dir: Path, tmp_path: Path, upstream: dict[str, str], config: str
) -> None:
    """The shipped `mcpServers` files, as the Inspector's --config reads them, start a working server.

    Only what cannot run here changes: `uvx smsai-mcp` (from PyPI) becomes this checkout's interpreter, and
    the token placeholder becomes the sandbox's token and URL.
    """
    data = json.loads((ROOT / "manifests" / config).read_text(encoding="utf-8"))
    [(name, entry)] = data["mcpServers"].items()
    assert (entry["command"], entry["args"]) == ("uvx", ["smsai-mcp"])
    entry["command"], entry["args"] = SERVER[0], SERVER[1:]
    assert set(upstream) >= set(entry["env"])
    entry["env"] = {**entry["env"], **upstream}
    written = tmp_path / "host-config.json"
    written.write_text(json.dumps(data), encoding="utf-8")

    env = node_env(bin_dir, tmp_path / "home")
    command = [str(bin_dir / "mcp-inspector"), "--cli", "--format", "json", "-q", "--config", str(written)]
    done = subprocess.run(
        [*command, "--server", name, "--method", "tools/call", "--tool-name", "check_balance"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=INSPECTOR_TIMEOUT_SECONDS,
        check=False,
    )
    result = ok(Run(done.returncode, done.stdout, done.stderr))
    assert structured(result, "check_balance")["credits_usd"] == 25.0
