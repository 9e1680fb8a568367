"""The Laravel conventions the upstream follows and a client can trip over: JSON encoding, input trimming,
the Accept header deciding between JSON errors and redirects, and the validation error shape."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from smsai_mcp.sms.text import as_the_api_keeps_it

Errors = dict[str, list[str]]


def json_text(data: object) -> str:
    # PHP's json_encode escapes "/" by default; a client must not depend on either spelling.
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/")


def json_response(data: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json_text(data), status_code=status, headers=headers, media_type="application/json")


def message_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"message": message}, status, headers)


def laravel_timestamp(moment: datetime) -> str:
    """ISO 8601 the way Laravel serialises dates: UTC, microseconds, a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expects_json(request: Request) -> bool:
    """Laravel's expectsJson(): an Accept naming JSON first, or an XHR that accepts anything."""
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    if "/json" in first or "+json" in first:
        return True
    is_xhr = request.headers.get("x-requested-with", "") == "XMLHttpRequest"
    return is_xhr and first in ("", "*/*", "*")


def unauthenticated(request: Request) -> Response:
    if expects_json(request):
        return message_response(401, "Unauthenticated.")
    return redirect(f"{_origin(request)}/login")


def validation_failed(request: Request, errors: Errors) -> Response:
    if expects_json(request):
        return json_response({"message": validation_summary(errors), "errors": errors}, 422)
    # Laravel sends the browser back where it came from, which for an API client means nowhere useful.
    return redirect(request.headers.get("referer") or f"{_origin(request)}/")


def validation_summary(errors: Errors) -> str:
    messages = [message for field_messages in errors.values() for message in field_messages]
    more = len(messages) - 1
    if more == 0:
        return messages[0]
    return f"{messages[0]} (and {more} more {'error' if more == 1 else 'errors'})"


def redirect(url: str) -> Response:
    escaped = html.escape(url)
    page = (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta charset="UTF-8" />\n<meta http-equiv="refresh" content="0;url=\'{escaped}\'" />\n'
        f"<title>Redirecting to {escaped}</title>\n</head>\n"
        f'<body>Redirecting to <a href="{escaped}">{escaped}</a>.</body>\n</html>\n'
    )
    return Response(page, status_code=302, headers={"Location": url}, media_type="text/html")


async def read_input(request: Request) -> dict[str, Any]:
    """The request's input as Laravel sees it: JSON only under a JSON content type, else a form, else nothing."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    data: object = {}
    if "/json" in content_type or "+json" in content_type:
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}  # Laravel treats undecodable JSON as an empty body
    elif content_type == "application/x-www-form-urlencoded":
        data = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if not isinstance(data, dict):
        return {}
    return {key: normalise(value) for key, value in data.items()}


def normalise(value: object) -> object:
    """Laravel's TrimStrings and ConvertEmptyStringsToNull middleware, applied to every input string."""
    if isinstance(value, str):
        return as_the_api_keeps_it(value) or None
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"
