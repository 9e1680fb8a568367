"""The MCP layer: it only translates. Tools are registered here; each hands its arguments to the guard or the
client and shapes what comes back. The layout:

    texts.py         what the model reads: instructions, descriptions, argument types, annotations
    results.py       the structured results (each tool's output schema)
    dependencies.py  a tool's tenant runtime, and whether its client can ask a person
    failures.py      the one place where failures become tool errors
    send_tool.py     send_sms: the guard's check, its question, the person's answer or token, the send
    opt_out_tools.py add_opt_out, list_opt_outs, remove_opt_out: the do-not-text list (removal asks a person)
    batch_tool.py    send_sms_batch: the same for many recipients, with one question (batch_results.py)
    read_tools.py    estimate_sms, check_balance, list_countries, get_message, list_messages
    messages.py      which messages a tenant may read; delivery.py waits for a final status (get_message)
    resources.py     the resource template sms://messages/{id}
    listening.py     subscriptions/listen on a message: access, one poll per message while someone listens
    app.py           the preview app: the page that shows an estimate, a send or a batch (MCP Apps)
    icons.py         the server's and each tool's icon
    tool_set.py      the tools as SDK `Tool`s, built once per process and shared by its servers
    arguments.py     middleware: invalid arguments as one sentence, and the SDK's own errors reworded
    asking.py        middleware: a client whose elicitation fails, or whose answer lapsed, gets a refusal that
                     says nothing was sent
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx2
from mcp.server import MCPServer
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.tools import Tool
from mcp.server.request_state import RequestStateSecurity

from smsai_mcp import __version__
from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import NOTHING_SENT
from smsai_mcp.runtime import RECONCILE_EVERY_SECONDS, LiveRuntime, Runtime, open_runtime
from smsai_mcp.server.app import preview_app
from smsai_mcp.server.arguments import ArgumentCheck
from smsai_mcp.server.asking import AskingFailures, CallProgress, LapsedConfirmations
from smsai_mcp.server.batch_tool import PlannedBatch, add_batch_tool
from smsai_mcp.server.dependencies import can_elicit
from smsai_mcp.server.icons import SERVER_ICONS
from smsai_mcp.server.listening import DeliveryWatch, ListenAccess, TenantBus
from smsai_mcp.server.opt_out_tools import REMOVAL_ASK_FAILED, add_opt_out_tools
from smsai_mcp.server.read_tools import add_read_tools
from smsai_mcp.server.resources import add_message_resource
from smsai_mcp.server.send_tool import Planned, add_send_tool
from smsai_mcp.server.texts import INSTRUCTIONS
from smsai_mcp.server.tool_set import ToolSet
from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant

__all__ = ["build_server", "can_elicit"]

# What a process lists changes only when it restarts; a 2026-07-28 client may reuse it for an hour. Private, as
# some lists are built per tenant. (Tool results, list_countries' included, carry no cache hints in that revision.)
_LISTED_FOR_AN_HOUR = CacheHint(ttl_ms=3_600_000, scope="private")
SENDING_TOOLS = frozenset({"send_sms", "send_sms_batch"})  # the tools that ask a person and say what was sent


def build_server(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    tenants: Mapping[str, Tenant] | None = None,
    request_state_security: RequestStateSecurity | None = None,
    auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None,
    live: LiveRuntime | None = None,
    clock: Callable[[], float] = time.time,
    reconcile_every_seconds: float = RECONCILE_EVERY_SECONDS,
) -> MCPServer[Runtime]:
    """The MCP server. `transport` replaces the network (the embedded sandbox, or a test's); `tenants`
    (HTTP service only) gives each access key its own token, policy and ledger; `clock` and
    `reconcile_every_seconds` let tests move time on and reconcile sooner."""
    served = tenants if tenants is not None else {DEFAULT_TENANT: Tenant(DEFAULT_TENANT, (), settings)}

    bus = TenantBus()
    watch = DeliveryWatch(bus)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        async with (
            open_runtime(
                served,
                timeout_seconds=settings.timeout_seconds,
                transport=transport,
                live=live,
                clock=clock,
                reconcile_every_seconds=reconcile_every_seconds,
            ) as runtime,
            watch.running(),
        ):
            yield runtime

    async def input_schemas() -> Mapping[str, dict[str, Any]]:
        return {tool.name: tool.input_schema for tool in await mcp.list_tools()}  # once the tools are added

    sends = not all(tenant.settings.read_only for tenant in served.values())
    mcp: MCPServer[Runtime] = MCPServer(
        name="smsai-mcp",
        title="SMS for AI",
        version=__version__,
        instructions=INSTRUCTIONS,
        website_url="https://www.smsforai.com",
        icons=SERVER_ICONS,
        extensions=[preview_app()],
        cache_hints={
            "tools/list": _LISTED_FOR_AN_HOUR,
            "resources/list": _LISTED_FOR_AN_HOUR,
            "resources/templates/list": _LISTED_FOR_AN_HOUR,
            "server/discover": _LISTED_FOR_AN_HOUR,
        },
        lifespan=lifespan,
        tools=list(shared_tools(sends=sends)),
        request_state_security=request_state_security,
        auth=auth,
        token_verifier=token_verifier,
        subscriptions=bus,
        middleware=[
            ListenAccess(watch),
            AskingFailures(SENDING_TOOLS, _audit_failed_asking),
            AskingFailures({"remove_opt_out"}, _nothing_to_audit, text=REMOVAL_ASK_FAILED),
            ArgumentCheck(input_schemas, dict.fromkeys(SENDING_TOOLS, NOTHING_SENT)),
        ],
    )
    # Outside the SDK's request-state boundary (which runs outside constructor middleware), to see its refusal.
    mcp.middleware.insert(0, LapsedConfirmations(SENDING_TOOLS, _audit_failed_asking))
    add_message_resource(mcp)
    _stamp_by_marshal(mcp)
    return mcp


class _MarshalledStamp(dict[str, Any]):
    """The server's identity, which the SDK deep-copies into every 2026-07-28 answer's `_meta`: a fresh copy made
    from its marshalled form is one C call, where deepcopy walks the icon's dicts and lists in Python."""

    def __init__(self, source: Mapping[str, Any]) -> None:
        super().__init__(source)
        self._marshalled = marshal.dumps(dict(source))

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        # Bytes this process marshalled itself; the copy is as fresh as a deep copy: nothing is shared.
        return cast(dict[str, Any], marshal.loads(self._marshalled))  # noqa: S302


def _stamp_by_marshal(mcp: MCPServer[Runtime]) -> None:
    # The SDK caches the stamp's source per server (its identity is fixed once built); an SDK without it is left be.
    server = mcp._lowlevel_server
    source = getattr(server, "_server_info_stamp_source", None)
    if isinstance(source, dict):
        with contextlib.suppress(ValueError):  # a source of other than plain JSON values keeps the SDK's deepcopy
            server.__dict__["_server_info_stamp_source"] = _MarshalledStamp(source)


@functools.cache
def shared_tools(*, sends: bool) -> tuple[Tool, ...]:
    """Built once per process (about 25 ms of CPU a tool): nothing in a tool depends on a server's settings."""
    tool_set = ToolSet()
    if sends:
        add_send_tool(tool_set)
        add_batch_tool(tool_set)
    add_read_tools(tool_set)
    add_opt_out_tools(tool_set)  # offered when read-only too: they send nothing, and a removal needs a person
    return tuple(tool_set.tools)


async def _nothing_to_audit(
    ctx: ServerRequestContext[Any, Any], arguments: Mapping[str, Any], progress: CallProgress
) -> None:
    """A removal that was not answered changed nothing: the audit log records changes only."""


async def _audit_failed_asking(
    ctx: ServerRequestContext[Any, Any], arguments: Mapping[str, Any], progress: CallProgress
) -> None:
    guard = cast(Runtime, ctx.lifespan_context).for_request().guard
    if guard is None:
        return
    if isinstance(progress.plan, PlannedBatch) and progress.plan.batch is not None:
        for each in progress.plan.batch.sendable:  # a batch's question was about each of these
            await guard.elicitation_failed(each.prepared.number.e164, each)
        return
    checked = progress.plan.checked if isinstance(progress.plan, Planned) else None
    to = str(arguments.get("to", ""))
    with contextlib.suppress(InvalidPhoneNumber):  # a number that does not parse is masked as given
        to = parse_e164(to).e164
    await guard.elicitation_failed(to, checked)
