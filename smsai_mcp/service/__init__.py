"""The Streamable HTTP service: access keys and tenants, JSON logs, a graceful stop, a fair share of sessions
for each tenant, a deadline for request headers, and health checks."""

from smsai_mcp.service.app import build_service
from smsai_mcp.service.config import ServiceOptions
from smsai_mcp.service.drain import serve_http
from smsai_mcp.service.logs import configure_json_logging

__all__ = ["ServiceOptions", "build_service", "configure_json_logging", "serve_http"]
