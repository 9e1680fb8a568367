"""Serving: MCP over stdio or Streamable HTTP, on the real API or the embedded sandbox, or the sandbox alone."""

from __future__ import annotations

import gc
import logging
from typing import TYPE_CHECKING

import httpx2

from smsai_mcp.config import Settings

if TYPE_CHECKING:
    from smsai_mcp.runtime import LiveRuntime

__all__ = ["serve_mcp", "serve_sandbox_alone", "warm_and_resume_collections"]

logger = logging.getLogger("smsai_mcp")


def serve_sandbox_alone(host: str, port: int) -> int:
    from smsai_mcp.embedded import sandbox_config
    from smsai_mcp.sandbox import serve

    serve(host=host, port=port, config=sandbox_config())
    return 0


def serve_mcp(settings: Settings, *, transport: str, host: str, port: int, sandbox: bool) -> int:
    upstream: httpx2.AsyncBaseTransport | None = None  # None: the network, to the real API
    if sandbox:
        from smsai_mcp.embedded import embedded_sandbox

        settings, upstream = embedded_sandbox(settings)
        logger.info("serving on the embedded sandbox: no real SMS is sent")
    settings.ensure_state_dir()
    if transport == "http":
        return _serve_http(settings, host=host, port=port, upstream=upstream, sandbox=sandbox)
    from smsai_mcp.runtime import LiveRuntime
    from smsai_mcp.server import build_server
    from smsai_mcp.stdio import serve_stdio
    from smsai_mcp.terminal import let_ctrl_c_end_terminal_input, note_if_started_in_a_terminal

    if note_if_started_in_a_terminal():
        let_ctrl_c_end_terminal_input()
    live = LiveRuntime(warm_when_listed=True)
    server = build_server(settings, transport=upstream, live=live)
    serve_stdio(server, after_first_answer=lambda: warm_and_resume_collections(live))
    return 0


def warm_and_resume_collections(live: LiveRuntime) -> None:
    """Once the tools are listed: the HTTP pool and the send guards, then the collections cli.py turned off for
    the start, back on even when the warm-up fails (a first call tries it again). What the start left is collected
    once, before the argument check's warm-up freezes the heap (server/arguments.py)."""
    try:
        live.warm()
    except Exception:
        logger.warning("could not warm the HTTP pool and the send guard; a first call tries again", exc_info=True)
    finally:
        gc.enable()


def _serve_http(
    settings: Settings, *, host: str, port: int, upstream: httpx2.AsyncBaseTransport | None, sandbox: bool
) -> int:
    from smsai_mcp.runtime import sandbox_settings
    from smsai_mcp.service.app import build_service
    from smsai_mcp.service.config import ServiceOptions
    from smsai_mcp.service.drain import serve_http
    from smsai_mcp.service.logs import configure_json_logging

    configure_json_logging()
    options = ServiceOptions.from_env(settings)
    if sandbox:  # every tenant talks to the one embedded sandbox
        options = options.with_settings(sandbox_settings)
    app = build_service(settings, options, host=host, port=port, transport=upstream)
    logger.info("serving MCP over Streamable HTTP at http://%s:%d/mcp", host, port)
    serve_http(
        app,
        host=host,
        port=port,
        graceful_shutdown_seconds=options.graceful_shutdown_seconds,
        header_timeout_seconds=options.header_timeout_seconds,
    )
    return 0
