"""What the tools share for the life of the process: one pooled HTTP client, and per tenant its token,
caches, ledger and send guard. The tenant of a request comes from its access key (HTTP) or is `default`."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx2
from pydantic import SecretStr

from smsai_mcp.client.api import HttpPool, SmsApi
from smsai_mcp.config import Settings
from smsai_mcp.guard.audit import AuditLog
from smsai_mcp.guard.balance import BalanceReader
from smsai_mcp.guard.secret import load_or_create_secret
from smsai_mcp.guard.tokens import ConfirmationTokens
from smsai_mcp.sms.price_cache import PriceCache
from smsai_mcp.state.sqlite import SqliteStore
from smsai_mcp.state.store import StateStore
from smsai_mcp.tenants import DEFAULT_TENANT, Tenant

if TYPE_CHECKING:
    from smsai_mcp.guard.pipeline import SendGuard

__all__ = [
    "LazyGuard",
    "LiveRuntime",
    "Runtime",
    "TenantRuntime",
    "ToolRefusal",
    "open_runtime",
    "open_store",
    "sandbox_settings",
    "tenant_runtime",
]

logger = logging.getLogger(__name__)

# A key of its own: a replica of an older version, sharing Redis, reads and writes another format under "countries".
PRICE_LIST_KEY = "price-list"
SANDBOX_BASE_URL = "http://sandbox.localhost/api/v1"
# How often a running server looks up its open attempts again (each pass jittered by a fifth either way).
RECONCILE_EVERY_SECONDS = 60.0
NO_CREDENTIALS_ADVICE = (
    "No SMS for AI token is configured. Set SMSAI_API_TOKEN to your smsai_ token and restart the server, "
    "or start it with --sandbox to try it without an account."
)
GUARD_UNLOADED = (
    "smsai-mcp could not load its send guard (details are in its log). Try again; if it persists, report it."
)


class ToolRefusal(Exception):
    """A failure whose message is already the full sentence the model should read."""


class LazyGuard:
    """A tenant's send guard, built on first use: the send path is most of the package, and answering
    `initialize` and `tools/list` needs none of it (a server warms it once its tools are listed)."""

    def __init__(self, build: Callable[[], SendGuard]) -> None:
        self._build: Callable[[], SendGuard] | None = build
        self._guard: SendGuard | None = None
        self._building = threading.Lock()  # the warm-up thread and a first call may ask at once

    @property
    def built(self) -> bool:
        return self._guard is not None

    def get(self) -> SendGuard:
        if self._guard is None:
            with self._building:
                if self._guard is None:
                    assert self._build is not None
                    try:
                        self._guard, self._build = self._build(), None
                    except Exception as exc:  # no guard, so no send: said so, not "may have been sent"
                        logger.exception("could not build the send guard")
                        raise ToolRefusal(GUARD_UNLOADED) from exc
        return self._guard


@dataclass(frozen=True, slots=True)
class TenantRuntime:
    name: str
    settings: Settings
    api: SmsApi | None
    prices: PriceCache | None
    lazy_guard: LazyGuard | None
    balances: BalanceReader | None
    store: StateStore | None

    @property
    def guard(self) -> SendGuard | None:
        return self.lazy_guard.get() if self.lazy_guard is not None else None

    def require_api(self) -> tuple[SmsApi, PriceCache]:
        if self.api is None or self.prices is None:
            raise ToolRefusal(NO_CREDENTIALS_ADVICE)
        return self.api, self.prices

    def require_guard(self) -> SendGuard:
        if self.guard is None:
            raise ToolRefusal(NO_CREDENTIALS_ADVICE)
        return self.guard


@dataclass(frozen=True, slots=True)
class Runtime:
    tenants: Mapping[str, TenantRuntime]

    def for_request(self) -> TenantRuntime:
        """The caller's tenant: named by its verified access key, else the single default one."""
        # Imported here: the state commands (opt-outs, pause, attempts) share this module and need no MCP SDK.
        from mcp.server.auth.middleware.auth_context import get_access_token

        access = get_access_token()
        name = access.client_id if access is not None else DEFAULT_TENANT
        tenant = self.tenants.get(name)
        if tenant is None:  # only when tenants are configured and the request carried no key
            raise ToolRefusal("This request carries no access key for a tenant of this service.")
        return tenant

    def warm(self) -> None:
        """Build every tenant's send guard now (from a thread, once the tools are listed), not on a first call.
        One that fails is logged and left to the first call, which tries again: the server keeps serving."""
        for tenant in self.tenants.values():
            if tenant.lazy_guard is not None:
                with contextlib.suppress(ToolRefusal):
                    tenant.lazy_guard.get()


class LiveRuntime:
    """Where the runtime can be found from outside a tool (the health checks) while the server runs.
    `warm_when_listed`: the transport calls `warm` once the tools are listed (stdio), so the HTTP pool is built
    then rather than at start, where it competed with answering `initialize` and `tools/list`."""

    def __init__(self, *, warm_when_listed: bool = False) -> None:
        self.runtime: Runtime | None = None
        self.warm_when_listed = warm_when_listed
        self.http: HttpPool | None = None  # the pool `warm` builds, when it is warmed then

    def warm(self) -> None:
        if self.http is not None:
            self.http.build()
        if self.runtime is not None:
            self.runtime.warm()


@asynccontextmanager
async def open_runtime(
    tenants: Mapping[str, Tenant],
    *,
    timeout_seconds: float,
    transport: httpx2.AsyncBaseTransport | None = None,
    live: LiveRuntime | None = None,
    clock: Callable[[], float] = time.time,
    reconcile_every_seconds: float = RECONCILE_EVERY_SECONDS,
) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        http = HttpPool(timeout_seconds=timeout_seconds, transport=transport)
        stack.push_async_callback(http.aclose)
        runtime = Runtime({name: tenant_runtime(tenant, http, stack, clock) for name, tenant in tenants.items()})
        task_group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(task_group.cancel_scope.cancel)  # the reconciling loops run until the server stops
        if live is not None and live.warm_when_listed:
            live.http = http
        else:
            task_group.start_soon(http.warm)  # off the event loop, while the client says hello
            task_group.start_soon(anyio.to_thread.run_sync, runtime.warm)  # the send path, likewise
        for tenant in runtime.tenants.values():
            if tenant.lazy_guard is not None:
                # Settle what a crash or a lost answer left open, at start and then now and again, without
                # holding up the start or any tool call; each tenant in its own task.
                task_group.start_soon(_keep_reconciling, tenant, reconcile_every_seconds)
        if live is not None:
            live.runtime = runtime
        try:
            yield runtime
        finally:
            if live is not None:
                live.runtime = None


async def _keep_reconciling(tenant: TenantRuntime, every_seconds: float) -> None:
    while True:
        await _reconcile_quietly(tenant)
        await anyio.sleep(every_seconds * random.uniform(0.8, 1.2))  # noqa: S311 - spreads replicas, not a secret


async def _reconcile_quietly(tenant: TenantRuntime) -> None:
    assert tenant.store is not None
    assert tenant.lazy_guard is not None
    guard = tenant.lazy_guard
    try:
        # Nothing open (the usual case) needs no guard: the pass at start then leaves the send path unloaded. Once
        # it is built, the reconciler's own read of what is open is the only one.
        opened = guard.built or bool(await tenant.store.unresolved())
        resolved = await guard.get().reconcile() if opened else 0
    except Exception:  # the next pass tries again; a send never depends on this
        logger.warning("could not reconcile open reservations of tenant %s yet", tenant.name, exc_info=True)
        return
    if resolved:
        logger.info("settled or released %d open reservation(s) of tenant %s", resolved, tenant.name)


def tenant_runtime(
    tenant: Tenant, http: HttpPool, stack: AsyncExitStack, clock: Callable[[], float] = time.time
) -> TenantRuntime:
    """A tenant's API client, caches, state store and send guard; the store closes with `stack`."""
    settings = tenant.settings
    if settings.api_token is None:
        logger.warning("SMSAI_API_TOKEN is not set: every tool will answer with how to set it")
        return TenantRuntime(tenant.name, settings, api=None, prices=None, lazy_guard=None, balances=None, store=None)
    api = SmsApi(
        http,
        token=settings.api_token,
        base_url=settings.base_url,
        token_variable=settings.api_token_variable,
        timeout_seconds=settings.timeout_seconds,
    )
    state_dir = settings.ensure_state_dir()  # private, and refused by name if it cannot be written
    store = open_store(settings, tenant=tenant.name)
    stack.push_async_callback(store.close)
    prices = PriceCache(api.price_list, shared=SharedPriceList(store), clock=clock)
    secret = (
        settings.state_secret.get_secret_value().encode()
        if settings.state_secret is not None
        else load_or_create_secret(state_dir)
    )
    balances = BalanceReader(api)
    audit = AuditLog(state_dir / "audit.jsonl", max_bytes=settings.audit_max_bytes)
    tokens = ConfirmationTokens(secret, audience=tenant.name)

    def send_guard() -> SendGuard:
        from smsai_mcp.guard.pipeline import SendGuard  # the send path: loaded once the tools are listed

        return SendGuard(
            settings=settings,
            api=api,
            prices=prices,
            store=store,
            audit=audit,
            tokens=tokens,
            balances=balances,
            clock=clock,
        )

    return TenantRuntime(tenant.name, settings, api, prices, LazyGuard(send_guard), balances, store)


@dataclass(frozen=True, slots=True)
class SharedPriceList:
    """The price list through the state store, so replicas sharing Redis fetch it once per TTL between them."""

    store: StateStore

    async def read(self, ttl_seconds: float, produce: Callable[[], Awaitable[str]]) -> str:
        return await self.store.shared_value(PRICE_LIST_KEY, ttl_seconds, produce)

    async def generation(self) -> int:
        return await self.store.shared_generation(PRICE_LIST_KEY)

    async def forget(self) -> None:
        await self.store.forget_shared(PRICE_LIST_KEY)


def open_store(settings: Settings, *, tenant: str = DEFAULT_TENANT) -> StateStore:
    """Redis when SMSAI_STATE_URL is set (replicas share it), else SQLite in the state directory."""
    if settings.state_url is not None:
        from smsai_mcp.state.redis import RedisStore

        return RedisStore.from_url(settings.state_url.get_secret_value(), prefix=f"smsai:{tenant}:")
    return SqliteStore(settings.resolved_state_dir() / "state.db")


def sandbox_settings(settings: Settings) -> Settings:
    """The same settings pointed at the embedded sandbox, its public token and a ledger of its own."""
    from smsai_mcp.sandbox import SANDBOX_TOKEN

    return settings.model_copy(
        update={
            "api_token": SecretStr(SANDBOX_TOKEN),
            "base_url": SANDBOX_BASE_URL,
            "state_dir": settings.resolved_state_dir() / "sandbox",
        }
    )
