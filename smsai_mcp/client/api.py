"""The typed async client for the SMS for AI REST API.

One pooled `httpx2.AsyncClient` serves the whole process; `SmsApi` is a light view of it that adds one
token. Reads retry on 429/502/503/504 and broken connections with capped backoff; `POST /sms/send` is
retried only when the connection was never made, because the API has no idempotency key.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from smsai_mcp.client.errors import (
    TOKEN_VARIABLE,
    ApiError,
    InvalidBalance,
    InvalidResponse,
    RateLimited,
    error_from_response,
    error_from_transport,
)
from smsai_mcp.client.http import (
    RETRYABLE_STATUS,
    USER_AGENT,
    HttpPool,
    HttpRequester,
    RetryPolicy,
    create_http_client,
)
from smsai_mcp.client.models import ApiInfo, Balance, Country, Me, Message, MessagePage, PriceRows

# The HTTP layer's names stay importable from here too: callers build the pool and the API from one import.
__all__ = [
    "USER_AGENT",
    "HttpPool",
    "HttpRequester",
    "RetryPolicy",
    "SmsApi",
    "create_http_client",
    "read_price_rows",
]

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound=BaseModel)
_ROWS = TypeAdapter(list[Any])


class SmsApi:
    """Every endpoint of the upstream API, for one token."""

    def __init__(
        self,
        http: HttpRequester,
        *,
        token: SecretStr,
        base_url: str,
        retry: RetryPolicy | None = None,
        token_variable: str = TOKEN_VARIABLE,
        timeout_seconds: float | None = None,
    ) -> None:
        self._http = http
        # The pool is shared by every tenant; each token's own timeout goes on its requests.
        self._timeout: Any = httpx2.Timeout(timeout_seconds) if timeout_seconds else httpx2.USE_CLIENT_DEFAULT
        self._whole_answer_seconds = timeout_seconds or None  # one request, start to end (SMSAI_TIMEOUT_SECONDS)
        self._token_variable = token_variable  # named in a 401, so the fix is where the token came from
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"SmsApi(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    async def info(self) -> ApiInfo:
        return ApiInfo.model_validate(await self._read(""))

    async def probe(self) -> ApiInfo:
        """GET /api/v1 once, never retried: a health check is itself repeated by whoever asks."""
        return ApiInfo.model_validate(await self._request("GET", "", retry_reads=False, tries=1))

    async def me(self) -> Me:
        return Me.model_validate(await self._read("/me"))

    async def balance(self) -> Balance:
        response = await self._answer("GET", "/balance", params=None, json=None, retry_reads=True)
        with contextlib.suppress(ValidationError):  # anything but a plain valid answer takes the path below
            return Balance.model_validate_json(response.content)  # bytes to model in one pass, no dict between
        try:
            return Balance.model_validate(_json_body(response, "GET", "/balance"))
        except ValidationError:
            raise InvalidBalance(
                "The SMS for AI API did not give a valid balance (a finite amount of dollars, at least zero), so "
                "none is shown. Try again in a few minutes; if it persists, check the balance on the SMS for AI "
                "dashboard.",
                method="GET",
                path="/balance",
            ) from None

    async def countries(self) -> list[Country]:
        """The countries listed with a usable price."""
        return (await self.price_list()).countries

    async def price_list(self) -> PriceRows:
        """The price list read row by row: a row without a usable price leaves out that country only."""
        body = await self._read("/countries")
        if isinstance(body, Mapping) and "data" in body:
            body = body["data"]  # tolerate a Laravel resource wrapper
        try:
            rows = _ROWS.validate_python(body)
        except ValidationError:
            raise _unexpected_shape("GET /countries") from None
        return read_price_rows(rows)

    async def list_messages(self, *, status: str | None = None, page: int | None = None) -> MessagePage:
        params: dict[str, str | int] = {}
        if status is not None:
            params["status"] = status
        if page is not None:
            params["page"] = page
        return _parse(MessagePage, await self._read("/sms", params=params), "GET /sms")

    async def get_message(self, message_id: int) -> Message:
        message = _parse(Message, await self._read(f"/sms/{message_id}"), "GET /sms/{id}")
        if message.id != message_id:  # another message than the one asked for: perhaps one another tenant sent
            raise _unexpected_shape("GET /sms/{id}")
        return message

    async def send(self, *, to: str, body: str, sender_id: str | None = None) -> Message:
        """Send one SMS. Never retried once the request may have reached the API."""
        payload: dict[str, str] = {"to": to, "body": body}
        if sender_id is not None:
            payload["sender_id"] = sender_id
        response = await self._request("POST", "/sms/send", json=payload, retry_reads=False)
        if isinstance(response, Mapping):
            # The answer only has to say which message it was: what we sent fills in what it leaves out.
            response = {"to": to, "status": "sent", **{k: v for k, v in response.items() if v is not None}}
        return _parse(Message, response, "POST /sms/send")

    async def _read(self, path: str, *, params: Mapping[str, str | int] | None = None) -> Any:
        return await self._request("GET", path, params=params, retry_reads=True)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        retry_reads: bool,
        tries: int | None = None,
    ) -> Any:
        response = await self._answer(method, path, params=params, json=json, retry_reads=retry_reads, tries=tries)
        return _json_body(response, method, path)

    async def _answer(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        json: Any,
        retry_reads: bool,
        tries: int | None = None,
    ) -> httpx2.Response:
        """The upstream's successful answer, after the retries a read is allowed; any other answer raises."""
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        url = self._base_url + path
        attempts = tries or self._retry.attempts
        for attempt in range(1, attempts + 1):
            last_try = attempt == attempts
            try:
                with anyio.fail_after(self._whole_answer_seconds):  # httpx times each read: a drip would pass
                    response = await self._http.request(
                        method, url, params=params, json=json, headers=headers, timeout=self._timeout
                    )
            except (httpx2.TransportError, TimeoutError) as exc:
                too_slow = httpx2.ReadTimeout("the whole answer took longer than the timeout")
                failure = error_from_transport(
                    exc if isinstance(exc, httpx2.TransportError) else too_slow, method=method, path=path
                )
                # A request that may have been processed is retried only when it is a read.
                if not last_try and (retry_reads or not failure.request_may_have_been_processed):
                    logger.warning("%s %s failed (%s); retrying", method, path, type(failure).__name__)
                    await anyio.sleep(self._retry.backoff(attempt))
                    continue
                raise failure from None
            if response.is_success:
                return response
            error = error_from_response(
                response, token_variable=self._token_variable, secret=self._token.get_secret_value()
            )
            if retry_reads and not last_try and response.status_code in RETRYABLE_STATUS:
                wait = self._wait_before_retry(error, attempt)
                if wait is not None:
                    logger.warning("%s %s answered %d; retrying in %.2fs", method, path, response.status_code, wait)
                    await anyio.sleep(wait)
                    continue
            raise error
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _wait_before_retry(self, error: ApiError, attempt: int) -> float | None:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self._retry.max_retry_after_seconds:
                return None
            return error.retry_after
        return self._retry.backoff(attempt)


def read_price_rows(rows: list[Any]) -> PriceRows:
    countries: list[Country] = []
    unpriced: dict[str, str] = {}
    for row in rows:
        try:
            countries.append(Country.model_validate(row))
        except ValidationError:
            code = _listed_code(row)
            logger.warning("the price list row of %s is not usable (no valid price); it is left out", code or "?")
            if code is not None:
                unpriced[code] = _listed_name(row, code)
    priced = {country.country_code.upper() for country in countries}
    return PriceRows(countries, {code: name for code, name in unpriced.items() if code not in priced})


def _listed_code(row: object) -> str | None:
    code = row.get("country_code") if isinstance(row, Mapping) else None
    if isinstance(code, str) and len(code.strip()) == 2 and code.strip().isascii() and code.strip().isalpha():
        return code.strip().upper()
    return None  # a row without a code names no country to refuse


def _listed_name(row: Mapping[str, Any], code: str) -> str:
    # The name goes into a sentence for the model: only a short, printable one is kept.
    name = row.get("country_name")
    if isinstance(name, str) and name.strip() and name.isprintable() and len(name) <= 64:
        return name.strip()
    return code


def _json_body(response: httpx2.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # JSON nested past Python's stack is no answer either
        raise InvalidResponse(
            f"The SMS for AI API answered {method} {path} with something that is not JSON "
            f"(HTTP {response.status_code}); it may be down or behind a faulty proxy.",
            method=method,
            path=path,
        ) from None


def _parse(model: type[ModelT], body: Any, endpoint: str) -> ModelT:
    try:
        return model.model_validate(body)
    except ValidationError:
        raise _unexpected_shape(endpoint) from None


def _unexpected_shape(endpoint: str) -> InvalidResponse:
    method, _, path = endpoint.partition(" ")
    return InvalidResponse(
        f"The SMS for AI API answered {endpoint} with JSON of an unexpected shape.", method=method, path=path
    )
