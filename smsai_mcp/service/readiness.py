"""What /readyz answers: whether the state store and the upstream can be reached, without naming any tenant
and without turning every probe into an upstream request."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from smsai_mcp.client.errors import ApiError
from smsai_mcp.runtime import LiveRuntime, Runtime
from smsai_mcp.service.drain import Drain

__all__ = ["UPSTREAM_CHECK_SECONDS", "Readiness", "add_health_routes"]

# The upstream is asked at most this often; its verdict is reused in between, so it may be this old.
UPSTREAM_CHECK_SECONDS = 10.0
# A probe that waits longer than this for the upstream counts it as out of reach.
UPSTREAM_PROBE_TIMEOUT_SECONDS = 5.0
NOT_CONFIGURED = "no SMS for AI token is configured (SMSAI_API_TOKEN)"


class Readiness:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._upstream_problem: str | None = None
        self._upstream_checked_at: float | None = None
        self._checking = anyio.Lock()  # concurrent probes share one upstream request

    async def problems(self, runtime: Runtime) -> list[str]:
        """What stops this server from serving now; empty when it is ready."""
        problems: list[str] = []
        for tenant in runtime.tenants.values():
            if tenant.store is not None and not await tenant.store.ping():
                problems.append("the state store is unreachable")  # which tenant's is for the logs, not the probe
                break
        upstream = await self._upstream(runtime)
        if upstream is not None:
            problems.append(upstream)
        return problems

    async def _upstream(self, runtime: Runtime) -> str | None:
        async with self._checking:
            checked_at = self._upstream_checked_at
            if checked_at is None or self._clock() - checked_at >= UPSTREAM_CHECK_SECONDS:
                self._upstream_problem = await _ask_upstream(runtime)
                self._upstream_checked_at = self._clock()
            return self._upstream_problem


async def _ask_upstream(runtime: Runtime) -> str | None:
    api = next((tenant.api for tenant in runtime.tenants.values() if tenant.api is not None), None)
    if api is None:
        return NOT_CONFIGURED
    with anyio.move_on_after(UPSTREAM_PROBE_TIMEOUT_SECONDS):
        try:
            await api.probe()  # the public GET /api/v1: any tenant's token will do
        except ApiError as exc:
            return f"the SMS for AI API is unreachable: {exc.message}"
        return None
    return f"the SMS for AI API did not answer within {UPSTREAM_PROBE_TIMEOUT_SECONDS:.0f} seconds"


def add_health_routes(app: Starlette, live: LiveRuntime, drain: Drain) -> None:
    """/healthz: the process answers. /readyz: it can serve a send now (503 while starting or stopping)."""
    readiness = Readiness()

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        if drain.draining:
            return JSONResponse({"status": "stopping"}, status_code=503)
        if live.runtime is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        problems = await readiness.problems(live.runtime)
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    app.add_route("/healthz", healthz, methods=["GET"])
    app.add_route("/readyz", readyz, methods=["GET"])
