"""The baseline: a bare MCPServer with one tool that makes the same single pooled GET as check_balance."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context


@asynccontextmanager
async def lifespan(_: MCPServer[httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(headers={"Accept": "application/json"}) as http:
        yield http


mcp: MCPServer[httpx2.AsyncClient] = MCPServer("bare", lifespan=lifespan)


@mcp.tool()
async def check_balance(ctx: Context[httpx2.AsyncClient]) -> dict[str, float]:
    """Read the balance."""
    base = os.environ.get("SMSAI_BASE_URL", "http://127.0.0.1:8787/api/v1")
    token = os.environ.get("SMSAI_API_TOKEN", "")
    response = await ctx.request_context.lifespan_context.get(
        f"{base}/balance", headers={"Authorization": f"Bearer {token}"}
    )
    return {"credits_usd": float(response.json()["credits_usd"])}


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        mcp.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[2]), streamable_http_path="/mcp")
    else:
        mcp.run()
