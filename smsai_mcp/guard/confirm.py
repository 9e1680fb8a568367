"""Confirmation, by SMSAI_CONFIRM: a person's answer, a signed token, or none at all (`off`).

The MCP layer only asks the question (when `asks_a_person`) and hands over what came back as an `Asked`;
whether that lets the send go ahead is decided here.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from smsai_mcp.config import Settings
from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import CheckedSend, ConfirmedSend, SendOutcome
from smsai_mcp.guard.tokens import ConfirmationTokens

__all__ = [
    "SKIPPED_FOR_LISTED_RECIPIENT",
    "Asked",
    "PersonsAnswer",
    "asks_a_person",
    "confirm",
    "persons_confirmation",
    "skips_confirmation",
]

logger = logging.getLogger(__name__)

PersonsAnswer = Literal["confirmed", "unchecked", "declined", "cancelled"]


@dataclass(frozen=True, slots=True)
class Asked:
    """What the person answered the confirmation question."""

    answer: PersonsAnswer
    round_state: str | None  # the 2026-07-28 sealed request state: a replayed retry carries the same one


# What the audit line of a send says when no one was asked because the number is on SMSAI_CONFIRM_SKIP_RECIPIENTS.
SKIPPED_FOR_LISTED_RECIPIENT = "skipped: SMSAI_CONFIRM_SKIP_RECIPIENTS lists the number"


def skips_confirmation(settings: Settings, recipients: Iterable[str]) -> bool:
    """Whether sends to these E.164 numbers (every one of them, for a batch) go without a question or a token:
    only in `auto` and `token`, and only when the user listed every number; `elicit` always asks a person."""
    listed = settings.confirm_skip_recipients
    numbers = list(recipients)
    return settings.confirm in ("auto", "token") and bool(numbers) and all(number in listed for number in numbers)


def asks_a_person(settings: Settings, recipients: Iterable[str] = ()) -> bool:
    """Whether this send's confirmation goes to a person when the client can ask one."""
    return settings.confirm not in ("off", "token") and not skips_confirmation(settings, recipients)


def confirm(
    checked: CheckedSend,
    *,
    settings: Settings,
    tokens: ConfirmationTokens,
    now: float,
    asked: Asked | None,
    token: str | None,
) -> ConfirmedSend | SendOutcome:
    """The confirmed send, or a token to hand back first; a Refusal when the send may not go ahead."""
    mode = settings.confirm
    if mode == "off":
        return ConfirmedSend(checked, confirmation_id=None)
    if skips_confirmation(settings, [checked.prepared.number.e164]):
        return ConfirmedSend(checked, confirmation_id=None, skipped_confirmation=True)
    if asked is not None:
        return ConfirmedSend(checked, confirmation_id=persons_confirmation(asked))
    if mode == "elicit":
        raise Refusal(
            "This server needs a person to confirm each SMS (SMSAI_CONFIRM=elicit), and this MCP client cannot "
            "ask them (it does not support elicitation). Use a client that does, or set SMSAI_CONFIRM=token.",
            code="cannot_elicit",
        )
    if token is None:
        _warn_once_about_token_fallback(mode)
        issued, expires = tokens.issue(checked.prepared.fingerprint, now=now)
        return SendOutcome(
            status="confirmation_required",
            estimate=checked.estimate,
            confirmation_token=issued,
            expires_at=datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z"),
        )
    return ConfirmedSend(
        checked, confirmation_id="token:" + tokens.verify(token, checked.prepared.fingerprint, now=now)
    )


def persons_confirmation(asked: Asked) -> str:
    """The id of a confirmation the person gave: one per question, and the same for a replayed 2026-07-28 retry."""
    match asked.answer:
        case "declined":
            raise Refusal("The user declined to send this SMS. Do not send it unless they ask again.", code="declined")
        case "cancelled":
            raise Refusal(
                "The user cancelled the confirmation. Do not send it unless they ask again.", code="cancelled"
            )
        case "unchecked":
            raise Refusal(
                "The user did not check the box to confirm. Do not send it unless they ask again.", code="unchecked"
            )
    if asked.round_state is not None:
        return "elicit:" + hashlib.sha256(asked.round_state.encode()).hexdigest()
    return "elicit:" + uuid.uuid4().hex


_token_fallback_warned = False


def _warn_once_about_token_fallback(mode: str) -> None:
    global _token_fallback_warned  # one line in the log per process is enough
    if mode == "auto" and not _token_fallback_warned:
        _token_fallback_warned = True
        logger.warning(
            "a client that cannot elicit got the token flow: the agent itself must ask the person; "
            "set SMSAI_CONFIRM=elicit to refuse such clients"
        )
