"""tools/list is a public interface: what hosts show people and what models read to choose a tool.

tests/golden/tools_list.json holds it exactly as a client receives it (camelCase wire JSON). Any change to a
name, description, schema or annotation fails here until the golden file is regenerated on purpose:

    SMSAI_UPDATE_GOLDEN=1 pytest tests/test_tools_golden.py

and the diff of tests/golden/tools_list.json is then reviewed with the change. The checks below the golden
comparison say what a good description is, so that a regenerated file cannot quietly lose them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from smsai_mcp.config import Settings
from smsai_mcp.server import build_server
from tests.conftest import ERAS

pytestmark = pytest.mark.anyio

GOLDEN = Path(__file__).parent / "golden" / "tools_list.json"
UPDATE = os.environ.get("SMSAI_UPDATE_GOLDEN") == "1"
REGENERATE = "SMSAI_UPDATE_GOLDEN=1 pytest tests/test_tools_golden.py"

# Limits that the strictest common hosts and model APIs put on tools.
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_DESCRIPTION_CHARS = 1024
MAX_DESCRIPTION_LINES = 6
SENDING_TOOLS = ["send_sms", "send_sms_batch"]
TOOL_NAMES = [
    *SENDING_TOOLS,
    "estimate_sms",
    "check_balance",
    "list_countries",
    "get_message",
    "list_messages",
    "add_opt_out",
    "list_opt_outs",
    "remove_opt_out",
]
# Tools that change only this server's own state (the do-not-text list): free, and they send nothing.
LOCAL_WRITERS = ["add_opt_out", "remove_opt_out"]


def wire_tools(tools: list[Any]) -> list[dict[str, Any]]:
    """The tools as JSON on the wire, in the order the server lists them."""
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]


def load_golden() -> list[dict[str, Any]]:
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


async def listed(settings: Settings, era: str) -> list[dict[str, Any]]:
    async with Client(build_server(settings), mode=era) as client:
        return wire_tools((await client.list_tools()).tools)


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    # No token: tools/list must not depend on the account, so a host can list tools before setup.
    return Settings(state_dir=tmp_path / "state")


@pytest.mark.parametrize("era", ERAS)
async def test_tools_list_matches_the_golden_file(plain_settings: Settings, era: str) -> None:
    tools = await listed(plain_settings, era)
    if UPDATE and era == ERAS[0]:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(tools, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    assert tools == load_golden(), f"tools/list changed; if on purpose, run `{REGENERATE}` and review the diff"


async def test_read_only_mode_lists_the_golden_tools_without_send_sms(tmp_path: Path) -> None:
    tools = await listed(Settings(state_dir=tmp_path / "state", read_only=True), "legacy")
    assert tools == [tool for tool in load_golden() if tool["name"] not in SENDING_TOOLS]


def test_golden_file_is_canonical_json() -> None:
    """Stable formatting, so a diff shows only real changes."""
    text = GOLDEN.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def golden_tool(name: str) -> dict[str, Any]:
    [tool] = [tool for tool in load_golden() if tool["name"] == name]
    return tool


def test_golden_file_lists_the_contract_tools() -> None:
    assert sorted(tool["name"] for tool in load_golden()) == sorted(TOOL_NAMES)


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_each_tool_is_portable(name: str) -> None:
    tool = golden_tool(name)
    assert NAME.match(tool["name"])
    assert tool.get("title"), "hosts show the title to people"
    assert tool["inputSchema"]["type"] == "object"
    assert tool["outputSchema"]["type"] == "object"
    for argument, schema in tool["inputSchema"].get("properties", {}).items():
        assert schema.get("description"), f"{tool['name']}.{argument} has no description"
    assert "$ref" not in json.dumps(tool["inputSchema"]), "some hosts do not resolve $ref in arguments"


@pytest.mark.parametrize("name", TOOL_NAMES)
def test_each_description_states_side_effects_and_cost_in_a_few_lines(name: str) -> None:
    tool = golden_tool(name)
    description: str = tool["description"]
    assert len(description) <= MAX_DESCRIPTION_CHARS
    assert len(description.splitlines()) <= MAX_DESCRIPTION_LINES
    annotations = tool["annotations"]
    if annotations["readOnlyHint"]:
        # A read: it must say that it is free and changes (or sends) nothing.
        assert annotations["destructiveHint"] is False
        assert "Free;" in description
        assert "changes nothing" in description or "sends nothing" in description
    elif not annotations["openWorldHint"]:
        # A change to this server's own lists: it must say that it is free and sends nothing.
        assert name in LOCAL_WRITERS
        assert "Free; sends nothing" in description
        assert annotations["idempotentHint"] is True
    else:
        # A send: cost, real-world effect and irreversibility come first, before any detail.
        first_line = description.splitlines()[0]
        assert "costs the user money" in first_line
        assert "real person" in first_line
        assert "cannot be undone" in first_line
        assert annotations["destructiveHint"] is True
        assert annotations["idempotentHint"] is False
        assert "whether anything was sent" in description
        assert "Never retry" in description


def test_only_send_sms_has_side_effects_outside_this_server() -> None:
    writers = [tool["name"] for tool in load_golden() if not tool["annotations"]["readOnlyHint"]]
    assert [name for name in writers if name not in LOCAL_WRITERS] == SENDING_TOOLS
