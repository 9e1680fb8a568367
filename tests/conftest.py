"""Shared fixtures: one sandbox served over real loopback HTTP, reset before every test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp.types import CallToolResult, Tool
from pydantic import SecretStr

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_TOKEN, Sandbox, SandboxConfig, create_app, running

SEND_PATH = "/api/v1/sms/send"
ERAS = ["legacy", "auto"]  # 2025-11-25 handshake, 2026-07-28 stateless


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _meta_schema_check_once_per_schema() -> Iterator[None]:
    """The SDK's client checks a tool's output schema against the JSON Schema meta-schema in every session that
    calls it (20 ms of CPU for send_sms's, a third of a quick test); a schema that passed once always passes."""
    check = Draft202012Validator.check_schema
    passed: set[str] = set()

    def check_once(schema: Any, *args: Any, **kwargs: Any) -> None:
        key = json.dumps(schema, sort_keys=True)
        if args or kwargs or key not in passed:
            check(schema, *args, **kwargs)  # raises SchemaError, every time, for a schema that fails
            if not (args or kwargs):
                passed.add(key)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Draft202012Validator, "check_schema", staticmethod(check_once))
        yield


@pytest.fixture(scope="session")
def _served_sandbox() -> Iterator[tuple[Sandbox, str]]:
    app = create_app(SandboxConfig(delivery_seconds=0.5))
    with running(app) as base_url:
        yield app, base_url


@pytest.fixture
def sandbox(_served_sandbox: tuple[Sandbox, str]) -> Sandbox:
    app, _ = _served_sandbox
    app.state.reset()
    return app


@pytest.fixture
def sandbox_url(sandbox: Sandbox, _served_sandbox: tuple[Sandbox, str]) -> str:
    return _served_sandbox[1]


@pytest.fixture
def settings(sandbox_url: str, tmp_path: Path) -> Settings:
    return Settings(
        api_token=SecretStr(SANDBOX_TOKEN),
        base_url=sandbox_url,
        confirm="off",
        max_per_recipient_per_hour=1000,  # the guard's own tests set the limits they test
        max_recipients_per_hour=1000,
        max_per_number_block_per_hour=1000,
        quiet_hours=None,  # on by default: a test that sends at night would fail; quiet-hours tests fix the clock
        state_dir=tmp_path / "state",
        timeout_seconds=5.0,
    )


def posts(sandbox: Sandbox) -> int:
    """How many send requests reached the upstream."""
    return sandbox.state.count("POST", SEND_PATH)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def assert_matches_output_schema(tool: Tool, result: CallToolResult) -> dict[str, Any]:
    """A successful result carries structuredContent valid against the tool's schema, and the same as JSON text."""
    assert not result.is_error, text_of(result)
    assert tool.output_schema is not None
    assert result.structured_content is not None
    Draft202012Validator(tool.output_schema).validate(result.structured_content)
    assert json.loads(text_of(result)) == result.structured_content
    content: dict[str, Any] = result.structured_content
    return content
