"""Serving the sandbox over a real socket: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import copy
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smsai_mcp.sandbox.accounts import SANDBOX_TOKEN
from smsai_mcp.sandbox.app import Sandbox, create_app
from smsai_mcp.sandbox.config import SandboxConfig
from smsai_mcp.sandbox.misbehave import ConnectionDroppedError

logger = logging.getLogger("smsai_mcp.sandbox")

STARTUP_TIMEOUT_SECONDS = 10.0
GRACEFUL_SHUTDOWN_SECONDS = 1  # a hung request must not hold up the end of a test


class HideIntendedDrops(logging.Filter):
    """Keep uvicorn from logging a traceback for a connection the sandbox was told to drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDroppedError))


@contextmanager
def running(app: Sandbox, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` on a loopback socket in a background thread; yields its base URL, e.g. http://127.0.0.1:54321/api/v1."""
    import uvicorn  # only when serving: importing the sandbox must stay cheap

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, Nagle and delayed ACKs add 40 ms to every answer.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="smsai-sandbox", daemon=True)
    hide = HideIntendedDrops()
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addFilter(hide)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {host}:{bound_port}")
            time.sleep(0.01)
        url_host = f"[{host}]" if family == socket.AF_INET6 else host
        yield f"http://{url_host}:{bound_port}/api/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)
        sock.close()
        uvicorn_errors.removeFilter(hide)


def serve(host: str = "127.0.0.1", port: int = 8787, config: SandboxConfig | None = None) -> None:
    """Serve the sandbox until interrupted; every log line goes to stderr, none to stdout."""
    import uvicorn  # only when serving: importing the sandbox must stay cheap

    server_config = uvicorn.Config(
        create_app(config), host=host, port=port, log_config=_stderr_log_config(), lifespan="off"
    )  # configures logging, so our own lines below are shown
    if not _is_loopback(host):
        logger.warning("the sandbox's /_sandbox control endpoints have no authentication; %s is not loopback", host)
    logger.info("SMS for AI sandbox at http://%s:%d/api/v1; token %s", host, port, SANDBOX_TOKEN)
    uvicorn.Server(server_config).run()


def _stderr_log_config() -> dict[str, Any]:
    """uvicorn's own logging setup, with the access log moved from stdout to stderr and our logger added."""
    from uvicorn.config import LOGGING_CONFIG

    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    log_config["filters"] = {"hide_intended_drops": {"()": HideIntendedDrops}}
    log_config["loggers"]["uvicorn.error"]["filters"] = ["hide_intended_drops"]
    log_config["loggers"]["smsai_mcp.sandbox"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return log_config


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
