"""The resource template `sms://messages/{id}`: one message as JSON, for the caller's tenant only."""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from smsai_mcp.runtime import Runtime
from smsai_mcp.server.dependencies import tenant
from smsai_mcp.server.failures import failure_text
from smsai_mcp.server.messages import MESSAGE_URI, UnknownMessage, read_own_message
from smsai_mcp.server.results import MessageResult
from smsai_mcp.server.texts import MESSAGE_RESOURCE_DESCRIPTION

__all__ = ["add_message_resource"]

MAX_SAFE_INTEGER = 2**53 - 1


def add_message_resource(mcp: MCPServer[Runtime]) -> None:
    @mcp.resource(
        MESSAGE_URI,
        name="message",
        title="An SMS and its delivery status",
        description=MESSAGE_RESOURCE_DESCRIPTION,
        mime_type="application/json",
    )
    async def message(id: str, ctx: Context[Runtime]) -> str:
        if not id.isascii() or not id.isdigit() or not 1 <= int(id) <= MAX_SAFE_INTEGER:
            raise ResourceNotFoundError(f"sms://messages/{id} names no message: the id must be a whole number from 1.")
        try:
            found = await read_own_message(ctx.request_context.lifespan_context, tenant(ctx), int(id))
        except UnknownMessage as exc:
            raise ResourceNotFoundError(str(exc)) from None
        except Exception as exc:  # the same sentence a tool would give, as the read's error
            raise ResourceError(failure_text(exc, sending=False)) from None
        return MessageResult.of(found).model_dump_json()
