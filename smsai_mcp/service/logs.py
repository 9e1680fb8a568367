"""JSON logs on stderr, one object a line, each knowing its request id and tenant, and one line per tool call."""

from __future__ import annotations

import contextvars
import functools
import itertools
import json
import logging
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

__all__ = ["JsonFormatter", "configure_json_logging", "with_log_context"]

logger = logging.getLogger("smsai_mcp.service")  # the name its log lines have always carried

_EXTRA_FIELDS = ("tool", "outcome", "duration_ms")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("smsai_request_id", default=None)
_tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("smsai_tenant", default=None)
# A request id is this process's random part and a count: unique across replicas, with no random read per request.
_PROCESS_PART = secrets.token_hex(4)
_request_count = itertools.count(1)
# json.dumps(entry, ensure_ascii=False) builds an encoder per line; this one is built once.
_encode = json.JSONEncoder(ensure_ascii=False).encode


async def with_log_context(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """MCP middleware: every log line of this request knows its id and tenant; a tool call ends with one line."""
    access = get_access_token()
    request_id_token = _request_id.set(f"{_PROCESS_PART}{next(_request_count):08x}")
    tenant_token = _tenant.set(access.client_id if access is not None else None)
    started = time.perf_counter()
    try:
        result = await call_next(ctx)
        if ctx.method == "tools/call" and isinstance(ctx.params, Mapping) and logger.isEnabledFor(logging.INFO):
            # Which tool, how it ended, how long it took; never its arguments.
            failed = result.get("isError") if isinstance(result, dict) else getattr(result, "is_error", False)
            fields = {
                "tool": str(ctx.params.get("name")),
                "outcome": "error" if failed else "ok",
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            # Made here, not by logger.info, which would walk the whole async stack for a caller no line shows.
            line = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "tool call", (), None, extra=fields)
            logger.handle(line)
        return result
    finally:
        _request_id.reset(request_id_token)
        _tenant.reset(tenant_token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id and the tenant when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": f"{_utc_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (request_id := _request_id.get()) is not None:
            entry["request_id"] = request_id
        if (tenant := _tenant.get()) is not None:
            entry["tenant"] = tenant
        given = record.__dict__
        for field in _EXTRA_FIELDS:
            if field in given:
                entry[field] = given[field]
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _encode(entry)


@functools.lru_cache(maxsize=1)  # lines come many a second: format each second once
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def configure_json_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # No line names its thread or process: records need not look them up (a tenth of each record's cost).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(logging.INFO)
