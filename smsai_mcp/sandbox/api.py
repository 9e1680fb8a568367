"""The upstream's endpoints under /api/v1, answering as the real SMS for AI API would."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from smsai_mcp.sandbox.accounts import Account, bearer_token
from smsai_mcp.sandbox.laravel import (
    json_response,
    message_response,
    read_input,
    unauthenticated,
    validation_failed,
)
from smsai_mcp.sandbox.pagination import paginate
from smsai_mcp.sandbox.prices import PRICE_LIST
from smsai_mcp.sandbox.state import InsufficientCreditsError, Message, SandboxState
from smsai_mcp.sandbox.validation import validate_list, validate_send
from smsai_mcp.sms.segments import count_segments

PREFIX = "/api/v1"
MICRO_DOLLAR = Decimal("0.000001")

Endpoint = Callable[[Request], Awaitable[Response]]
AccountEndpoint = Callable[[Request, Account], Awaitable[Response]]


class UpstreamApi:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def routes(self) -> list[Route]:
        guarded = self._authenticated
        return [
            Route(PREFIX, self.info, methods=["GET"]),
            Route(f"{PREFIX}/me", guarded(self.me), methods=["GET"]),
            Route(f"{PREFIX}/balance", guarded(self.balance), methods=["GET"]),
            Route(f"{PREFIX}/countries", guarded(self.countries), methods=["GET"]),
            Route(f"{PREFIX}/sms/send", guarded(self.send), methods=["POST"]),
            Route(f"{PREFIX}/sms", guarded(self.list_messages), methods=["GET"]),
            Route(f"{PREFIX}/sms/{{message_id:int}}", guarded(self.show_message), methods=["GET"]),
            Route(f"{PREFIX}/conversion/report", guarded(self.report_conversion), methods=["POST"]),
        ]

    def _authenticated(self, handler: AccountEndpoint) -> Endpoint:
        """Laravel's auth then throttle middleware: 401 or 429 before the handler, rate headers on every answer."""

        async def endpoint(request: Request) -> Response:
            account = self._state.account(bearer_token(request.headers.get("authorization")))
            if account is None:
                return unauthenticated(request)
            decision = self._state.throttle.hit(account.token)
            if not decision.allowed:
                return message_response(429, "Too Many Attempts.", decision.headers())
            response = await handler(request, account)
            response.headers.update(decision.headers())
            return response

        return endpoint

    async def info(self, request: Request) -> Response:
        return json_response({"api": "SMS for AI", "version": "1.0", "status": "ok"})

    async def me(self, request: Request, account: Account) -> Response:
        return json_response(
            {
                "token": {"id": account.token_id, "name": account.token_name, "permissions": list(account.permissions)},
                "user": {"name": account.user_name, "email": account.email, "credits": float(account.credits_usd)},
            }
        )

    async def balance(self, request: Request, account: Account) -> Response:
        return json_response({"credits_usd": float(account.credits_usd)})

    async def countries(self, request: Request, account: Account) -> Response:
        return json_response([country.to_json() for country in PRICE_LIST])

    async def send(self, request: Request, account: Account) -> Response:
        if not account.can_send:
            return message_response(403, "This token does not have the sms:send permission.")
        checked = validate_send(await read_input(request))
        if isinstance(checked, dict):
            return validation_failed(request, checked)
        segments = count_segments(checked.body).segments
        price = (checked.country.price_usd * segments).quantize(MICRO_DOLLAR, ROUND_HALF_UP)
        try:
            message = self._state.send(account, checked.to, checked.body, checked.sender_id, price, segments)
        except InsufficientCreditsError:
            return message_response(402, "Insufficient credits to send SMS.")
        answer: dict[str, object] = {
            "id": message.id,
            "status": message.status,
            "to": message.to,
            "price_usd": float(message.price_usd),
            "nvia_message_id": message.nvia_message_id,
        }
        if checked.include_conversion_url:
            answer["conversion_url"] = f"{request.url.scheme}://{request.url.netloc}/c/{secrets.token_urlsafe(8)}"
        return json_response(answer)

    async def list_messages(self, request: Request, account: Account) -> Response:
        checked = validate_list(request.query_params)
        if isinstance(checked, dict):
            return validation_failed(request, checked)
        messages = self._state.messages_of(account.token)
        if self._state.config.oldest_first:
            messages.reverse()
        if checked.status is not None:
            messages = [message for message in messages if message.status == checked.status]
        kept = {key: value for key, value in request.query_params.items() if key != "page"}
        path = str(request.url.replace(query=""))
        page = paginate(messages, Message.to_json, checked.page, self._state.config.per_page, path, kept)
        return json_response(page)

    async def show_message(self, request: Request, account: Account) -> Response:
        message = self._state.message_of(account.token, request.path_params["message_id"])
        if message is None:
            return message_response(404, "SMS not found.")
        return json_response(message.to_json())

    async def report_conversion(self, request: Request, account: Account) -> Response:
        self._state.report_conversion(account.token, await read_input(request))
        return json_response({"message": "Conversion reported."})
