"""The baseline: a bare MCPServer with one tool that makes the same single pooled GET as check_balance.

Its logging matches smsai-mcp's: stderr only, no access log line per request (uvicorn's default prints one, which
smsai-mcp does not), and the same h11 HTTP protocol uvicorn picks when httptools is absent.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context


@asynccontextmanager
async def lifespan(_: MCPServer[httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(headers={"Accept": "application/json"}) as http:
        yield http


# As smsai-mcp's cli does, before the server is built (the SDK's own Rich set-up then finds logging configured).
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("httpx2").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)
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


def serve_http(port: int) -> None:
    import uvicorn

    app = mcp.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on", http="h11")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        serve_http(int(sys.argv[2]))
    else:
        import anyio

        anyio.run(mcp.run_stdio_async)
