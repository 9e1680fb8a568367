"""Everything a sandbox remembers: accounts, messages, the requests it received and the faults still to play."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from smsai_mcp.sandbox.accounts import Account, starting_accounts
from smsai_mcp.sandbox.config import SandboxConfig
from smsai_mcp.sandbox.faults import Fault
from smsai_mcp.sandbox.laravel import laravel_timestamp
from smsai_mcp.sandbox.throttle import Throttle

FAILING_NUMBER = "+12025550666"  # documented test number: accepted and charged, then ends "failed"


class InsufficientCreditsError(Exception):
    pass


@dataclass
class Message:
    id: int
    token: str
    to: str
    body: str
    sender_id: str | None
    price_usd: Decimal
    segments: int
    nvia_message_id: str
    created_at: datetime
    updated_at: datetime
    settles_at: datetime  # when the network reports the final status
    final_status: str
    status: str = "sent"

    def settle(self, now: datetime) -> None:
        if self.status == "sent" and now >= self.settles_at:
            self.status = self.final_status
            self.updated_at = self.settles_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "to": self.to,
            "body": self.body,
            "sender_id": self.sender_id,
            "status": self.status,
            "price_usd": float(self.price_usd),
            "segments": self.segments,
            "nvia_message_id": self.nvia_message_id,
            "created_at": laravel_timestamp(self.created_at),
            "updated_at": laravel_timestamp(self.updated_at),
        }


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    user_agent: str | None
    accept: str | None
    authorized: bool  # carried a token the sandbox knows
    status: int | None = None  # None until answered, and for a dropped connection

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "user_agent": self.user_agent,
            "accept": self.accept,
            "authorized": self.authorized,
        }


class SandboxState:
    """Shared by the server thread and the test thread, so every change happens under one lock."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Back to how the sandbox started: credits, messages, recorded requests, rate limits and faults."""
        with self._lock:
            self.accounts: dict[str, Account] = starting_accounts(self.config.credits_usd)
            self._messages: list[Message] = []
            self._by_id: dict[int, Message] = {}
            self._next_id = self.config.first_message_id
            self.requests: list[RecordedRequest] = []
            self._request_counts: Counter[tuple[str, str]] = Counter()
            self.conversion_reports: list[dict[str, Any]] = []
            self.throttle = Throttle(self.config.rate_limit_per_minute)
            self._faults = [_copy(fault) for fault in self.config.faults]

    def account(self, token: str | None) -> Account | None:
        return None if token is None else self.accounts.get(token)

    def set_credits(self, token: str, credits_usd: Decimal) -> None:
        with self._lock:
            self.accounts[token].credits_usd = credits_usd

    def report_conversion(self, token: str, report: dict[str, Any]) -> None:
        with self._lock:
            self.conversion_reports.append({"token": token, **report})

    # Messages

    @property
    def messages(self) -> list[Message]:
        """Every token's messages, oldest first, with statuses brought up to date."""
        with self._lock:
            now = self.clock()
            for message in self._messages:
                message.settle(now)
            return list(self._messages)

    def messages_of(self, token: str) -> list[Message]:
        """One token's messages, newest first, as `GET /sms` lists them, with statuses brought up to date."""
        with self._lock:
            now = self.clock()
            mine = [message for message in reversed(self._messages) if message.token == token]
            for message in mine:
                message.settle(now)
            return mine

    def message_of(self, token: str, message_id: int) -> Message | None:
        with self._lock:
            message = self._by_id.get(message_id)
            if message is None or message.token != token:
                return None
            message.settle(self.clock())
            return message

    def send(
        self, account: Account, to: str, body: str, sender_id: str | None, price: Decimal, segments: int
    ) -> Message:
        """Charge the account and keep the message; InsufficientCreditsError leaves both untouched."""
        with self._lock:
            if account.credits_usd < price:
                raise InsufficientCreditsError
            account.credits_usd -= price
            now = self.clock()
            message = Message(
                id=self._next_id,
                token=account.token,
                to=to,
                body=body,
                sender_id=sender_id,
                price_usd=price,
                segments=segments,
                nvia_message_id=secrets.token_hex(12),
                created_at=now,
                updated_at=now,
                settles_at=now + timedelta(seconds=self.config.delivery_seconds),
                final_status="failed" if to == FAILING_NUMBER else "delivered",
            )
            self._next_id += 1
            self._messages.append(message)
            self._by_id[message.id] = message
            self._forget_beyond_history()
            return message

    # Requests

    def record(self, request: RecordedRequest) -> RecordedRequest:
        with self._lock:
            self.requests.append(request)
            self._request_counts[(request.method, request.path)] += 1
            self._forget_beyond_history()
        return request

    def count(self, method: str, path: str) -> int:
        """How many requests with this method and exact path reached the sandbox, faulted ones included."""
        with self._lock:
            return self._request_counts[(method.upper(), path)]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {f"{method} {path}": count for (method, path), count in self._request_counts.items()}

    def _forget_beyond_history(self) -> None:
        """Keep the newest `history_limit` messages and requests (trimmed in batches, so each append stays cheap)."""
        limit = self.config.history_limit
        if limit is None:
            return
        if len(self._messages) > 2 * limit:
            for message in self._messages[:-limit]:
                del self._by_id[message.id]
            del self._messages[:-limit]
        if len(self.requests) > 2 * limit:
            del self.requests[:-limit]

    # Faults

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def add_fault(self, fault: Fault) -> None:
        # A copy counts down, so the caller's fault can be added again and is worth its full `times` each time.
        with self._lock:
            self._faults.append(_copy(fault))

    def clear_faults(self) -> int:
        with self._lock:
            cleared = len(self._faults)
            self._faults.clear()
            return cleared

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first fault matching this request, used up by one; spent faults are dropped."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    return fault
            return None


def _copy(fault: Fault) -> Fault:
    return dataclasses.replace(fault, headers=dict(fault.headers), omit_fields=list(fault.omit_fields))
