"""SMSAI_CONFIRM_SKIP_RECIPIENTS (CONTRACT section 4): the user's own numbers are sent to without a question in
`auto` and `token`, `elicit` still asks a person, every other guard still applies, and the audit log says the
confirmation was skipped. Through a real MCP client in both eras, counting the POSTs that reached the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from smsai_mcp.config import Settings
from smsai_mcp.guard.confirm import SKIPPED_FOR_LISTED_RECIPIENT, asks_a_person, skips_confirmation
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sms.quiet_hours import DEFAULT_QUIET_HOURS
from tests.clock import FakeClock
from tests.conftest import ERAS, posts
from tests.guard_helpers import CA, GB, US, Person, assert_nothing_sent, confirmation_token, connect, send, sent

pytestmark = pytest.mark.anyio

OWN_PHONE = US


def skipping(settings: Settings, mode: str, **policy: Any) -> Settings:
    return settings.model_copy(update={"confirm": mode, "confirm_skip_recipients": frozenset({OWN_PHONE}), **policy})


def audit_lines(settings: Settings) -> list[dict[str, Any]]:
    assert settings.state_dir is not None
    return [json.loads(line) for line in (settings.state_dir / "audit.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("era", ERAS)
async def test_a_listed_number_is_sent_to_without_asking_in_auto(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    person = Person()
    skip = skipping(settings, "auto")
    async with connect(skip, era, person) as client:
        own = sent(await send(client, OWN_PHONE))
        assert person.questions == []
        sent(await send(client, GB))  # another number is asked as before
    assert len(person.questions) == 1
    assert own["message"]["to"] == OWN_PHONE
    assert posts(sandbox) == 2
    lines = audit_lines(skip)
    skipped = [line for line in lines if line.get("confirmation") == SKIPPED_FOR_LISTED_RECIPIENT]
    assert {line["outcome"] for line in skipped} == {"reserved", "sent"}
    assert all(line["to"].startswith("+120") for line in skipped)  # only the listed number's lines say so


@pytest.mark.parametrize("era", ERAS)
async def test_a_listed_number_needs_no_token_in_token_mode(sandbox: Sandbox, settings: Settings, era: str) -> None:
    async with connect(skipping(settings, "token"), era) as client:
        sent(await send(client, OWN_PHONE))
        confirmation_token(await send(client, CA))  # an unlisted number still gets a token first
    assert posts(sandbox) == 1


@pytest.mark.parametrize("era", ERAS)
async def test_a_listed_number_is_still_asked_in_elicit_mode(sandbox: Sandbox, settings: Settings, era: str) -> None:
    declining = Person(action="decline", content=None)
    async with connect(skipping(settings, "elicit"), era, declining) as client:
        result = await send(client, OWN_PHONE)
    assert len(declining.questions) == 1
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="declined")


@pytest.mark.parametrize("era", ERAS)
async def test_every_other_guard_still_applies_to_a_listed_number(
    sandbox: Sandbox, settings: Settings, era: str
) -> None:
    person = Person()
    night = FakeClock(datetime(2026, 11, 30, 3, 0, tzinfo=UTC).timestamp())  # 22:00 in Washington
    async with connect(skipping(settings, "auto", quiet_hours=DEFAULT_QUIET_HOURS), era, person, clock=night) as client:
        at_night = await send(client, OWN_PHONE)
    assert_nothing_sent(at_night, sandbox, posts_so_far=0, says="quiet hours")
    capped = skipping(settings, "auto", max_cost_per_message_usd=Decimal("0.005"))
    async with connect(capped, era, person) as client:
        too_dear = await send(client, OWN_PHONE)
    assert_nothing_sent(too_dear, sandbox, posts_so_far=0, says="SMSAI_MAX_COST_PER_MESSAGE_USD")
    assert person.questions == []
    assert posts(sandbox) == 0


def test_a_batch_skips_the_question_only_when_every_recipient_is_listed(settings: Settings) -> None:
    """The decision a batch (send_sms_batch) reuses: one unlisted recipient means the person is asked."""
    skip = skipping(settings, "auto")
    assert skips_confirmation(skip, [OWN_PHONE])
    assert not skips_confirmation(skip, [OWN_PHONE, GB])
    assert not skips_confirmation(skip, [])
    assert not asks_a_person(skip, [OWN_PHONE])
    assert asks_a_person(skip, [OWN_PHONE, GB])
    assert not skips_confirmation(skipping(settings, "elicit"), [OWN_PHONE])
