"""Every way an upstream call can fail, built from the response in one place.

    ApiError                      anything that went wrong talking to the API
    ├── ApiStatusError            the API answered with an error status
    │   ├── AuthenticationError   401: token missing or invalid
    │   ├── InsufficientCredits   402: not enough credits to send
    │   ├── PermissionDenied      403: no sms:send, IP not whitelisted, or spending limit reached
    │   ├── NotFound              404: no such message
    │   ├── UnprocessableEntity   422: the API refused a field (Laravel's `errors`)
    │   ├── RateLimited           429: too many requests; `retry_after` seconds
    │   └── UpstreamUnavailable   5xx, or any other unexpected status
    ├── InvalidResponse           a 2xx whose body is not the JSON we expect (an HTML page, truncated JSON)
    │   └── InvalidBalance        a balance that is not a finite amount of dollars, at least zero
    └── TransportFailure          no complete answer arrived
        ├── ConnectFailed         the connection was never made: the request did not leave
        ├── UpstreamTimeout       no answer in time: the request may have been processed
        └── ConnectionLost        the connection broke mid-exchange: the request may have been processed

`request_may_have_been_processed` is what the send path needs: when it is true for a POST,
the message may have gone out and must not be sent again blindly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx2

__all__ = [
    "ApiError",
    "ApiStatusError",
    "AuthenticationError",
    "ConnectFailed",
    "ConnectionLost",
    "InsufficientCredits",
    "InvalidBalance",
    "InvalidResponse",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "TransportFailure",
    "UnprocessableEntity",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "error_from_response",
    "error_from_transport",
]


class ApiError(Exception):
    """Base of every upstream failure. `str()` is a sentence that is safe to show: never the token."""

    request_may_have_been_processed: bool = False

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path


class ApiStatusError(ApiError):
    def __init__(
        self, message: str, *, status_code: int, upstream_message: str | None, method: str = "", path: str = ""
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.status_code = status_code
        self.upstream_message = upstream_message


class AuthenticationError(ApiStatusError):
    pass


class InsufficientCredits(ApiStatusError):
    pass


class PermissionDenied(ApiStatusError):
    pass


class NotFound(ApiStatusError):
    pass


class UnprocessableEntity(ApiStatusError):
    def __init__(self, message: str, *, field_errors: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = field_errors


class RateLimited(ApiStatusError):
    def __init__(self, message: str, *, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UpstreamUnavailable(ApiStatusError):
    # A 5xx may come after the gateway took the message (CONTRACT section 4, unknown outcome).
    request_may_have_been_processed = True


class InvalidResponse(ApiError):
    # The API answered 2xx, so a POST was processed even though we cannot read the answer.
    request_may_have_been_processed = True


class InvalidBalance(InvalidResponse):
    pass


class TransportFailure(ApiError):
    request_may_have_been_processed = True


class ConnectFailed(TransportFailure):
    request_may_have_been_processed = False


class UpstreamTimeout(TransportFailure):
    pass


class ConnectionLost(TransportFailure):
    pass


_MOST_QUOTED = 300  # characters of the upstream's own words that an error quotes


def _upstream_message(body: Any, secret: str) -> str | None:
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            return _without(secret, message.strip())
    return None


def _field_errors(body: Any, secret: str) -> dict[str, list[str]]:
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, Mapping):
        return {}
    return {
        _without(secret, str(field)): [
            _without(secret, str(m)) for m in (messages if isinstance(messages, list) else [messages])
        ]
        for field, messages in errors.items()
    }


def _without(secret: str, text: str) -> str:
    # An upstream (or a proxy) that echoes the request's token must not get it shown: the token is never returned.
    return text.replace(secret, "[token]") if secret else text


def _retry_after_seconds(headers: httpx2.Headers) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # an HTTP-date; rare for an API, and a guess is worse than none
    if not math.isfinite(seconds):
        return None  # NaN or infinity is no wait: it would break the sleep before a retry, or read as "inf seconds"
    return max(seconds, 0.0)


def _json_or_none(response: httpx2.Response) -> Any:
    labelled = "json" in response.headers.get("content-type", "")
    if not labelled and not response.content.lstrip().startswith(b"{"):
        return None  # an HTML page or plain text: never shown raw
    try:
        return response.json()
    except (ValueError, RecursionError):  # JSON nested past Python's stack says nothing either
        return None


def _short(said: str) -> str:
    """The upstream's words as one line of at most a few hundred characters: a concise error, whatever it sent."""
    line = " ".join(said.split())
    return line if len(line) <= _MOST_QUOTED else line[: _MOST_QUOTED - 1] + "…"


TOKEN_VARIABLE = "SMSAI_API_TOKEN"  # noqa: S105 - the name of a variable, not a secret


def error_from_response(
    response: httpx2.Response, *, token_variable: str = TOKEN_VARIABLE, secret: str = ""
) -> ApiStatusError:
    """Turn an error response into the one exception that names it; `secret` (the token) is cut out of its text."""
    status = response.status_code
    method, path = response.request.method, response.request.url.path
    body = _json_or_none(response)
    upstream = _upstream_message(body, secret)
    common: dict[str, Any] = {"status_code": status, "upstream_message": upstream, "method": method, "path": path}
    if status == 401:
        return AuthenticationError(
            "The SMS for AI API rejected the token (401): it is missing or invalid. "
            f"Check {token_variable} (an smsai_ token from your SMS for AI dashboard).",
            **common,
        )
    if status == 402:
        return InsufficientCredits(
            "The SMS for AI account has too few credits for this (402). Top up the account, then try again.",
            **common,
        )
    if status == 403:
        reason = f' The API said: "{_short(upstream)}"' if upstream else ""
        return PermissionDenied(
            "The SMS for AI API refused this (403): the token may lack the sms:send permission, this IP may not "
            "be whitelisted, or the account's spending limit was reached." + reason,
            **common,
        )
    if status == 404:
        return NotFound("The SMS for AI API has no such record (404).", **common)
    if status == 422:
        fields = _field_errors(body, secret)
        details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in fields.items())
        said = details or upstream or "no details given"
        return UnprocessableEntity(
            f"The SMS for AI API refused the request as invalid (422): {_short(said)}", field_errors=fields, **common
        )
    if status == 429:
        retry_after = _retry_after_seconds(response.headers)
        wait = f"wait {retry_after:g} seconds" if retry_after is not None else "wait a minute"
        return RateLimited(
            f"The SMS for AI API is rate limiting this token (429): {wait}, then try again.",
            retry_after=retry_after,
            **common,
        )
    if status >= 500:
        return UpstreamUnavailable(
            f"The SMS for AI API is unavailable right now (HTTP {status}). Try again in a few minutes.", **common
        )
    return UpstreamUnavailable(
        f"The SMS for AI API gave an unexpected answer (HTTP {status}). Try again later.", **common
    )


def error_from_transport(exc: httpx2.TransportError, *, method: str, path: str) -> TransportFailure:
    """Turn a transport exception into one that says whether the request can have been processed."""
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.UnsupportedProtocol):
        return ConnectFailed(
            "Could not connect to the SMS for AI API. Check the network and SMSAI_BASE_URL, then try again.",
            method=method,
            path=path,
        )
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamTimeout(
            "The SMS for AI API did not answer in time (SMSAI_TIMEOUT_SECONDS).", method=method, path=path
        )
    return ConnectionLost("The connection to the SMS for AI API broke before it answered.", method=method, path=path)
