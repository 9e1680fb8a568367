"""The SDK's own messages that smsai-mcp rewords (server/arguments.py, server/asking.py), provoked on a bare
MCPServer without the project's middleware: when the SDK changes their wording, these fail first."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitRequestParams, ElicitResult
from pydantic import BaseModel

from smsai_mcp.server.arguments import _RESOLVER_NAME
from tests.conftest import ERAS, text_of

pytestmark = pytest.mark.anyio


class Box(BaseModel):
    confirm: bool = False


async def broken_resolver(ctx: Context[Any]) -> str:
    raise RuntimeError("the resolver broke")


async def ask(ctx: Context[Any]) -> Elicit[Box]:
    return Elicit("Send it?", Box)


def bare_server() -> MCPServer[Any]:
    mcp: MCPServer[Any] = MCPServer(name="bare")

    @mcp.tool(name="fails")
    async def fails() -> str:
        raise RuntimeError("an internal detail")

    @mcp.tool(name="resolves")
    async def resolves(value: Annotated[str, Resolve(broken_resolver)]) -> str:
        return value

    @mcp.tool(name="asks")
    async def asks(answer: Annotated[ElicitationResult[Box], Resolve(ask)]) -> str:
        return "asked"

    return mcp


@pytest.mark.parametrize("era", ERAS)
async def test_sdk_still_words_a_tool_failure_as_error_executing_tool(era: str) -> None:
    async with Client(bare_server(), mode=era) as client:
        result = await client.call_tool("fails", {})
    assert result.is_error
    assert text_of(result) == "Error executing tool fails"  # the prefix ArgumentCheck rewords


@pytest.mark.parametrize("era", ERAS)
async def test_sdk_still_hides_what_a_resolver_raised(era: str) -> None:
    # Why send_sms's resolvers never raise: the reason would reach no one (the tool body raises it instead).
    async with Client(bare_server(), mode=era) as client:
        result = await client.call_tool("resolves", {})
    assert result.is_error
    assert text_of(result) == "Error executing tool resolves"


async def test_sdk_still_names_the_resolver_of_an_unreadable_answer_after_the_prefix() -> None:
    async def confused_person(context: Any, params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": "perhaps"})

    async with Client(bare_server(), mode="legacy", elicitation_callback=confused_person) as client:
        result = await client.call_tool("asks", {})
    text = text_of(result)
    assert result.is_error
    assert text.startswith("Error executing tool asks: "), text  # ArgumentCheck and AskingFailures reword it
    assert _RESOLVER_NAME.match(text.removeprefix("Error executing tool asks: ")), text  # the name taken out


async def test_sdk_still_turns_a_failed_2025_elicitation_into_a_protocol_error() -> None:
    async def failing_person(context: Any, params: ElicitRequestParams) -> ElicitResult:
        raise RuntimeError("the client's elicitation handler failed")

    # AskingFailures catches exactly this MCPError (a JSON-RPC error, not a tool result) and refuses instead.
    async with Client(bare_server(), mode="legacy", elicitation_callback=failing_person) as client:
        with pytest.raises(MCPError):
            await client.call_tool("asks", {})
