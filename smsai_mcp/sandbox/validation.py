"""The upstream's request rules, with Laravel's wording; each field reports its first failing rule."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from smsai_mcp.sandbox.laravel import Errors
from smsai_mcp.sandbox.prices import Country, country_for_region
from smsai_mcp.sms.phone import InvalidPhoneNumber, parse_e164

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
INTEGER = re.compile(r"^[+-]?\d+$")
MAX_BODY = 1600
STATUSES = ("sent", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class SendRequest:
    to: str
    body: str
    sender_id: str | None
    country: Country
    include_conversion_url: bool


@dataclass(frozen=True, slots=True)
class ListRequest:
    status: str | None
    page: int


def validate_send(data: Mapping[str, object]) -> SendRequest | Errors:
    errors: Errors = {}
    to, country = _check_to(data.get("to"), errors)
    body = _check_body(data.get("body"), errors)
    sender_id = _check_sender_id(data.get("sender_id"), errors)
    include_url = _check_boolean("include_conversion_url", data.get("include_conversion_url"), errors)
    if errors or to is None or country is None or body is None:
        return errors
    return SendRequest(to, body, sender_id, country, include_url)


def _check_to(to: object, errors: Errors) -> tuple[str | None, Country | None]:
    if to is None:
        errors["to"] = ["The to field is required."]
    elif not isinstance(to, str):
        errors["to"] = ["The to field must be a string."]
    elif not E164.match(to):
        errors["to"] = ["The to field format is invalid."]
    elif (country := _destination(to)) is None:
        errors["to"] = ["Destination country is not supported."]
    else:
        return to, country
    return None, None


def _check_body(body: object, errors: Errors) -> str | None:
    if body is None:
        errors["body"] = ["The body field is required."]
    elif not isinstance(body, str):
        errors["body"] = ["The body field must be a string."]
    elif len(body) > MAX_BODY:  # Laravel counts characters (mb_strlen), i.e. code points
        errors["body"] = [f"The body field must not be greater than {MAX_BODY} characters."]
    else:
        return body
    return None


def _check_sender_id(sender_id: object, errors: Errors) -> str | None:
    if sender_id is None:
        return None
    if not isinstance(sender_id, str):
        errors["sender_id"] = ["The sender id field must be a string."]
    elif not SENDER_ID.match(sender_id):
        errors["sender_id"] = ["The sender id field format is invalid."]
    else:
        return sender_id
    return None


def _check_boolean(name: str, value: object, errors: Errors) -> bool:
    """Laravel's boolean rule: true, false, 1, 0, "1" and "0"; absent is false."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if (type(value) is int and value in (0, 1)) or value in ("0", "1"):
        return value in (1, "1")
    errors[name] = [f"The {name.replace('_', ' ')} field must be true or false."]
    return False


def validate_list(query: Mapping[str, str]) -> ListRequest | Errors:
    errors: Errors = {}
    status = query.get("status", "").strip() or None
    raw_page = query.get("page", "").strip() or None
    if status is not None and status not in STATUSES:
        errors["status"] = ["The selected status is invalid."]
    page = 1
    if raw_page is not None:
        if not INTEGER.match(raw_page):
            errors["page"] = ["The page field must be an integer."]
        elif (page := int(raw_page)) < 1:
            errors["page"] = ["The page field must be at least 1."]
    if errors:
        return errors
    return ListRequest(status, page)


def _destination(to: str) -> Country | None:
    try:
        return country_for_region(parse_e164(to).region)
    except InvalidPhoneNumber:
        return None
