"""Endpoints under /_sandbox that steer a running sandbox from outside: faults, recorded requests, reset, credits.

They need no token because the sandbox is a local test double; they are neither recorded nor faulted."""

from __future__ import annotations

import json
import math
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.sandbox.state import SandboxState

PREFIX = "/_sandbox"


class SandboxControl:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def routes(self) -> list[Route]:
        return [
            Route(f"{PREFIX}/faults", self.list_faults, methods=["GET"]),
            Route(f"{PREFIX}/faults", self.add_fault, methods=["POST"]),
            Route(f"{PREFIX}/faults", self.clear_faults, methods=["DELETE"]),
            Route(f"{PREFIX}/requests", self.requests, methods=["GET"]),
            Route(f"{PREFIX}/reset", self.reset, methods=["POST"]),
            Route(f"{PREFIX}/credits", self.set_credits, methods=["PUT"]),
        ]

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse({"faults": [fault.to_json() for fault in self._state.faults]})

    async def add_fault(self, request: Request) -> Response:
        try:
            fault = Fault.from_json(json.loads(await request.body()))
        except ValueError as exc:
            return JSONResponse({"message": str(exc)}, 422)
        self._state.add_fault(fault)
        return JSONResponse(fault.to_json(), 201)

    async def clear_faults(self, request: Request) -> Response:
        return JSONResponse({"cleared": self._state.clear_faults()})

    async def requests(self, request: Request) -> Response:
        recorded = [entry.to_json() for entry in list(self._state.requests)]
        return JSONResponse({"requests": recorded, "counts": self._state.counts()})

    async def reset(self, request: Request) -> Response:
        self._state.reset()
        return JSONResponse({"message": "Sandbox reset."})

    async def set_credits(self, request: Request) -> Response:
        try:
            data = json.loads(await request.body())
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return JSONResponse({"message": 'Send {"token": "...", "credits_usd": 1.5}.'}, 422)
        token, amount = data.get("token"), data.get("credits_usd")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or not math.isfinite(amount) or amount < 0:
            return JSONResponse({"message": "credits_usd must be a number >= 0."}, 422)
        if not isinstance(token, str) or self._state.account(token) is None:
            return JSONResponse({"message": f"Unknown sandbox token {token!r}."}, 404)
        self._state.set_credits(token, Decimal(str(amount)))
        return JSONResponse({"token": token, "credits_usd": amount})
