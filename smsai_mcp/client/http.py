"""The HTTP layer under the API client: the process's one pooled client, built lazily, and how reads are retried."""

from __future__ import annotations

import functools
import random
import ssl
import threading
from typing import Any, Protocol

import anyio.to_thread
import httpx2
from pydantic import BaseModel

from smsai_mcp import __version__

__all__ = ["RETRYABLE_STATUS", "USER_AGENT", "HttpPool", "HttpRequester", "RetryPolicy", "create_http_client"]

USER_AGENT = f"smsai-mcp/{__version__}"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


class RetryPolicy(BaseModel):
    """How reads are retried: a bounded number of tries, exponential backoff with jitter, capped."""

    attempts: int = 3
    backoff_base_seconds: float = 0.25
    backoff_cap_seconds: float = 4.0
    # A Retry-After longer than this is reported to the model instead of waited out.
    max_retry_after_seconds: float = 10.0

    def backoff(self, attempt: int) -> float:
        ceiling: float = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2.0 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security


@functools.cache
def _trust_store() -> ssl.SSLContext:
    """The TLS trust store, loaded once per process: each load costs tens of milliseconds of CPU."""
    return httpx2.create_ssl_context()


def create_http_client(
    *, timeout_seconds: float, transport: httpx2.AsyncBaseTransport | None = None
) -> httpx2.AsyncClient:
    """The one pooled client of the process. Headers that carry a token are added per request."""
    return httpx2.AsyncClient(
        transport=transport,
        verify=_trust_store(),
        timeout=httpx2.Timeout(timeout_seconds),
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        follow_redirects=False,  # a Laravel redirect means a misrouted request, not an answer
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20),
    )


class HttpRequester(Protocol):
    """What SmsApi needs of an HTTP client: `httpx2.AsyncClient`, or the lazily built `HttpPool`."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: Any = None,
        timeout: Any = httpx2.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 - httpx2's own keyword, passed through
    ) -> httpx2.Response: ...


class HttpPool:
    """The process's one pooled client, built on first use (or warmed in a thread after start): loading the TLS
    trust store costs tens of milliseconds that answering `initialize` and `tools/list` need not wait for."""

    def __init__(self, *, timeout_seconds: float, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self._timeout_seconds = timeout_seconds
        self._transport = transport
        self._client: httpx2.AsyncClient | None = None
        self._building = threading.Lock()

    def build(self) -> httpx2.AsyncClient:
        with self._building:
            if self._client is None:
                self._client = create_http_client(timeout_seconds=self._timeout_seconds, transport=self._transport)
            return self._client

    async def warm(self) -> None:
        await anyio.to_thread.run_sync(self.build)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: Any = None,
        timeout: Any = httpx2.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 - httpx2's own keyword, passed through
    ) -> httpx2.Response:
        return await self.build().request(method, url, params=params, json=json, headers=headers, timeout=timeout)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
