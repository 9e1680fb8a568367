"""The Streamable HTTP service: access keys and tenants, JSON logs, a graceful stop, a fair share of sessions
for each tenant, a deadline for request headers, and health checks.

Nothing is imported here: the state commands read the tenants file through `service.access` without the MCP SDK."""
