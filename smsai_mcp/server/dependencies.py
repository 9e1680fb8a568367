"""What a tool needs from the request it serves: its tenant's runtime, and whether its client can ask a person."""

from __future__ import annotations

from mcp.server.mcpserver import Context

from smsai_mcp.runtime import Runtime, TenantRuntime

__all__ = ["can_elicit", "tenant"]


def tenant(ctx: Context[Runtime]) -> TenantRuntime:
    """The caller's tenant: its token, policy, ledger and guard."""
    return ctx.request_context.lifespan_context.for_request()


def can_elicit(ctx: Context[Runtime]) -> bool:
    """Whether this client declared form elicitation (a bare `elicitation: {}` means form)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)
