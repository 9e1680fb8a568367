"""The stages of one send, each with one name used in every module:

SendRequest    the request as the agent gave it
PreparedSend   read as the API will keep it: the number parsed, the text trimmed, its fingerprint
CheckedSend    past every step before confirmation: its estimate and today's spend known
ConfirmedSend  confirmed by a person or a token (or needing no confirmation)
Attempt        reserved in the ledger and posted once (state/store.py)
SendOutcome    what the call answers: sent, duplicate, or confirmation required
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from smsai_mcp.client.models import Message
from smsai_mcp.sms.estimate import Estimate
from smsai_mcp.sms.phone import PhoneNumber
from smsai_mcp.sms.text import as_the_api_keeps_it
from smsai_mcp.state.store import Attempt

__all__ = [
    "CheckedSend",
    "ConfirmedSend",
    "PreparedSend",
    "SendOutcome",
    "SendRequest",
    "fingerprint",
    "from_another_sender",
]


def fingerprint(to: str, body: str, sender_id: str | None) -> str:
    """What "identical" means for duplicates, idempotency keys and tokens: the number, text and sender as kept."""
    return hashlib.sha256(json.dumps([to, body, sender_id], ensure_ascii=False).encode()).hexdigest()


def from_another_sender(message: Message, attempt: Attempt) -> bool:
    """Whether the API says the message went from another sender than the attempt's. An attempt made without a
    sender goes from the account's default, which the API may name: only an attempt's own sender can differ."""
    if "sender_id" not in message.model_fields_set or message.body is None:
        return False
    body = as_the_api_keeps_it(message.body)
    if fingerprint(attempt.recipient, body, None) == attempt.fingerprint:
        return False
    stated = (as_the_api_keeps_it(message.sender_id) or None) if message.sender_id is not None else None
    return fingerprint(attempt.recipient, body, stated) != attempt.fingerprint


@dataclass(frozen=True, slots=True)
class SendRequest:
    to: str
    body: str
    sender_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class PreparedSend:
    number: PhoneNumber
    body: str  # as the API keeps it
    sender_id: str | None  # as the API keeps it
    idempotency_key: str | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class CheckedSend:
    prepared: PreparedSend
    estimate: Estimate
    spent_today_micro: int


@dataclass(frozen=True, slots=True)
class ConfirmedSend:
    checked: CheckedSend
    confirmation_id: str | None  # the confirmation that allowed it, used once; None when none was needed
    skipped_confirmation: bool = False  # no one was asked: SMSAI_CONFIRM_SKIP_RECIPIENTS lists the number


@dataclass(frozen=True, slots=True)
class SendOutcome:
    status: Literal["sent", "duplicate", "confirmation_required"]
    estimate: Estimate
    message: Message | None = None
    confirmation_token: str | None = None
    expires_at: str | None = None
