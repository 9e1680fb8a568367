"""Input validation: the request read as the API will keep it, or refused."""

from __future__ import annotations

from smsai_mcp.guard.refusal import Refusal
from smsai_mcp.guard.stages import PreparedSend, SendRequest, fingerprint
from smsai_mcp.sms.phone import InvalidPhoneNumber, PhoneNumber, parse_e164
from smsai_mcp.sms.text import as_the_api_keeps_it

__all__ = ["prepare", "read_number_and_body"]


def read_number_and_body(to: str, body: str) -> tuple[PhoneNumber, str]:
    """The number, and the body as the API would keep it, so estimates and duplicates see what it stores."""
    number = parse_e164(to)
    body = as_the_api_keeps_it(body)
    if not body:
        raise Refusal("The body is blank. Write the message text, then try again.", code="invalid_body")
    return number, body


def prepare(request: SendRequest) -> PreparedSend:
    try:
        number, body = read_number_and_body(request.to, request.body)
    except InvalidPhoneNumber as exc:
        raise Refusal(str(exc), code="invalid_number") from None
    sender_id = request.sender_id
    if sender_id is not None:
        sender_id = as_the_api_keeps_it(sender_id) or None  # posted and compared as the API keeps it
    return PreparedSend(
        number=number,
        body=body,
        sender_id=sender_id,
        idempotency_key=request.idempotency_key,
        fingerprint=fingerprint(number.e164, body, sender_id),
    )
