"""The sandbox's tokens: one per kind of account a client must handle, each with its own credits and messages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Public demo tokens, published in the README; they open nothing but the local sandbox.
SANDBOX_TOKEN = "smsai_sandbox"  # noqa: S105
SANDBOX_READONLY_TOKEN = "smsai_sandbox_readonly"  # noqa: S105  # lacks sms:send: sending answers 403
SANDBOX_EMPTY_TOKEN = "smsai_sandbox_empty"  # noqa: S105  # no credits: sending answers 402
SEND_PERMISSION = "sms:send"


@dataclass(slots=True)
class Account:
    token: str
    token_id: int
    token_name: str
    permissions: tuple[str, ...]
    user_name: str
    email: str
    credits_usd: Decimal

    @property
    def can_send(self) -> bool:
        return SEND_PERMISSION in self.permissions


def starting_accounts(credits_usd: Decimal) -> dict[str, Account]:
    sender, reader, broke = (SEND_PERMISSION,), (), (SEND_PERMISSION,)
    accounts = (
        Account(SANDBOX_TOKEN, 1, "Sandbox Agent", sender, "Sandbox User", "sandbox@example.com", credits_usd),
        Account(
            SANDBOX_READONLY_TOKEN, 2, "Sandbox Reader", reader, "Sandbox Reader", "reader@example.com", credits_usd
        ),
        Account(SANDBOX_EMPTY_TOKEN, 3, "Sandbox Broke Agent", broke, "Broke User", "broke@example.com", Decimal(0)),
    )
    return {account.token: account for account in accounts}


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive, as in Laravel."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
