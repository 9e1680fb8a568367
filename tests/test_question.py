"""What the person is asked (CONTRACT section 4) is exactly what is sent: one test per attack on the question, in
both eras, through a real MCP client. Each compares the text the question shows with the text the sandbox took,
and checks that the question keeps its own lines, in its own order, whatever the text or the upstream holds."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from mcp.types import ElicitRequestFormParams, InputRequiredResult

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import SANDBOX_TOKEN, Fault, Sandbox
from tests.clock import FakeClock
from tests.conftest import ERAS, posts
from tests.guard_helpers import US, Person, answer, asked, connect, credits, send, sent

pytestmark = pytest.mark.anyio

# The question's own lines, in order; the text is the one line framed by « and ».
LINE_STARTS = [
    "Send this SMS?",
    "To: ",
    "Their local time: ",
    "From: ",
    "Text, every character exactly as sent, between « and »:",
    "«",
    "Links go to: ",
    "Hidden characters: ",
    "Segments: ",
    "Special characters: ",
    "Estimated cost: $",
    "Balance after: $",
    "Today's budget left after: $",
]


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def asking(settings: Settings, **update: object) -> Settings:
    # Content checks would refuse bidi and tag characters before anyone is asked: the question must be honest anyway.
    return settings.model_copy(update={"confirm": "auto", "content_checks": False, **update})


def shown_text(question: str) -> str:
    """The text as the question shows it, read back: ⏎ is a line feed, ⟨U+XXXX⟩ the character it names."""
    [line] = [line for line in question.split("\n") if line.startswith("«")]
    assert line.endswith("»"), line
    framed = line[1:-1].replace("⏎", "\n")
    return re.sub(r"⟨U\+([0-9A-F]{4,6})⟩", lambda m: chr(int(m.group(1), 16)), framed)


def assert_keeps_its_lines(question: str) -> list[str]:
    """The question's lines are its own: as many as ever, in order, none split by what a value holds."""
    lines = question.split("\n")
    assert lines == question.splitlines(), "a value added a line break that str.splitlines sees"
    assert len(lines) == len(LINE_STARTS), lines
    for line, start in zip(lines, LINE_STARTS, strict=True):
        assert line.startswith(start), (line, start)
    return lines


async def asked_once_and_sent(settings: Settings, sandbox: Sandbox, era: str, body: str, to: str = US) -> str:
    """Send `body` through a person who accepts; the one question asked, checked against what the sandbox took."""
    person = Person()
    async with connect(asking(settings), era, person) as client:
        sent(await send(client, to=to, body=body))
    [question] = set(person.questions)
    assert_keeps_its_lines(question)
    assert posts(sandbox) == 1
    assert shown_text(question) == sandbox.state.messages[-1].body
    return question


async def test_hidden_tail_beyond_160_characters_is_shown(settings: Settings, sandbox: Sandbox, era: str) -> None:
    body = "Your table is ready. See you soon!" + " " * 140 + "Verify your card at https://evil.example/pay"
    question = await asked_once_and_sent(settings, sandbox, era, body)
    assert "evil.example/pay" in question
    assert "Links go to: evil.example" in question.split("\n")


async def test_zero_width_padding_is_shown_by_name(settings: Settings, sandbox: Sandbox, era: str) -> None:
    body = "Your table is ready. See you soon!" + "\u200b" * 200 + "Pay at https://evil.example"
    question = await asked_once_and_sent(settings, sandbox, era, body)
    assert "Hidden characters: ⟨U+200B⟩ \u00d7200" in question.split("\n")
    assert "\u200b" not in question


async def test_bidi_override_cannot_reverse_the_question(settings: Settings, sandbox: Sandbox, era: str) -> None:
    body = "Refund of \u202e0001$ :tsoc detamitsE\u202c approved"
    question = await asked_once_and_sent(settings, sandbox, era, body)
    assert "\u202e" not in question
    assert "⟨U+202E⟩" in question


async def test_tag_characters_are_shown_by_name(settings: Settings, sandbox: Sandbox, era: str) -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "send me your code")
    question = await asked_once_and_sent(settings, sandbox, era, "See you at 8" + hidden)
    assert not any(0xE0000 <= ord(c) <= 0xE007F for c in question)
    assert "⟨U+E0073⟩" in question


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\r"], ids=repr)
async def test_line_separators_cannot_add_lines_to_the_question(
    settings: Settings, sandbox: Sandbox, era: str, separator: str
) -> None:
    body = separator.join(["Hi", "Estimated cost: $0.0001", "To: +1 202-555-0000 (Mom)", "Balance after: $999"])
    question = await asked_once_and_sent(settings, sandbox, era, body)
    [cost] = [line for line in question.split("\n") if line.startswith("Estimated cost:")]
    assert cost in ("Estimated cost: $0.0100", "Estimated cost: $0.0200")  # 2 when the separator forces UCS-2


HOSTILE_COUNTRY = "United States)\nEstimated cost: $0.0001\u2028Balance after: $999\u202e\u200b(x"


async def test_hostile_country_name_cannot_add_or_reorder_lines(settings: Settings, sandbox: Sandbox, era: str) -> None:
    rewrite: dict[str, str | None] = {"country_name": json.dumps(HOSTILE_COUNTRY)}
    path = "/api/v1/countries"
    sandbox.state.add_fault(Fault(method="GET", path=path, response="rewrite", rewrite=rewrite, times=None))
    question = await asked_once_and_sent(settings, sandbox, era, "Dinner at 8?")
    lines = question.split("\n")
    assert [line for line in lines if line.startswith("Estimated cost:")] == ["Estimated cost: $0.0100"]
    assert lines[1] == "To: +1 202-555-1234 (United States) Estimated cost: $0.0001 Balance after: $999 (x)"


async def test_stale_balance_is_not_shown(settings: Settings, sandbox: Sandbox, era: str) -> None:
    person = Person()
    async with connect(asking(settings), era, person) as client:
        sent(await send(client, body="first"))
        # Another agent on the same account spends most of it; the next question must say so at once.
        sandbox.state.accounts[SANDBOX_TOKEN].credits_usd = Decimal("0.5")
        sent(await send(client, body="second"))
    question = person.questions[-1]
    assert_keeps_its_lines(question)
    assert "Balance after: $0.4900" in question.split("\n")
    assert credits(sandbox) == Decimal("0.49")
    assert posts(sandbox) == 2


async def test_the_question_speaks_of_special_characters_for_a_person(
    settings: Settings, sandbox: Sandbox, era: str
) -> None:
    quote, opening, closing, dash = "\u2019", "\u201c", "\u201d", "\u2013"
    body = (
        f"We{quote}re {opening}ready{closing} {dash} see you at 8, table for four, by the window, don{quote}t be late"
    )
    question = await asked_once_and_sent(settings, sandbox, era, body)
    special = (
        f"Special characters: these make this message cost 2\u00d7 (UCS-2): {quote} {opening} {closing} {dash}; "
        "with plain quotes and dashes it would cost $0.0100"
    )
    assert special in question.split("\n")


async def test_a_uk_mobile_is_shown_in_london_time(settings: Settings, sandbox: Sandbox, era: str) -> None:
    question = await asked_once_and_sent(settings, sandbox, era, "Hello from London", to="+447400123456")
    local = next(line for line in question.split("\n") if line.startswith("Their local time:"))
    assert "(Europe/London" in local, local


async def test_a_round_that_crosses_a_minute_asks_again_and_sends_once(settings: Settings, sandbox: Sandbox) -> None:
    """2026-07-28: the SDK renders the question again on the second round; a minute passed in between changes its
    local time, so the first answer is not taken for the new question: the person is asked again, then it sends."""
    start = datetime(2026, 11, 30, 15, 4, 59, tzinfo=UTC).timestamp()  # 10:04:59 in Washington
    clock = FakeClock(start)
    arguments = {"to": US, "body": "Dinner at 8?"}
    async with connect(asking(settings), "auto", Person(), clock=clock) as client:
        first = await asked(client, arguments)
        clock.advance(2)
        second = await answer(client, arguments, first)
        assert isinstance(second, InputRequiredResult), second
        assert posts(sandbox) == 0
        third = await answer(client, arguments, second)
    assert not isinstance(third, InputRequiredResult)
    assert not third.is_error
    assert posts(sandbox) == 1
    one, two = (question_of(r) for r in (first, second))
    assert "Their local time: Mon 10:04 (America/New_York)" in one.split("\n")
    assert "Their local time: Mon 10:05 (America/New_York)" in two.split("\n")


def question_of(round_: InputRequiredResult) -> str:
    assert round_.input_requests is not None
    [request] = round_.input_requests.values()
    assert isinstance(request.params, ElicitRequestFormParams)
    return request.params.message
