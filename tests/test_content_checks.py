"""Content checks (CONTRACT section 4): one test per rule of the table and per near miss, through a real MCP client
in both eras; every refusal says nothing was sent, names the rule, never repeats the secret, and makes no POST."""

from __future__ import annotations

import json

import pytest

from smsai_mcp.config import Settings
from smsai_mcp.sandbox import Sandbox
from smsai_mcp.sms.content_rules import SECRET_RULES, content_problem, passes_luhn
from tests.conftest import ERAS, posts
from tests.guard_helpers import Person, assert_nothing_sent, connect, send, sent

pytestmark = pytest.mark.anyio

# Made-up keys in each provider's format (split so that no scanner of this repository takes them for real ones).
SECRETS = {
    "a PEM private key": "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo",
    "an AWS access key": "AKIA" + "Q3EXAMPLEZ7K2M4P",
    "a GitHub token": "ghp_" + "R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ng123",
    "a GitLab token": "glpat-" + "xY9zQ2wE8rT6yU4iO0pA",
    "a Slack token": "xoxb-" + "1234567890-0987654321-AbCdEfGhIjKl",
    "a Slack webhook": "https://hooks.slack.com/" + "services/T0000AAAA/B0000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
    "a Stripe secret key": "sk_" + "live_51Hx7Yq2eZvKYlo2C0ExampleKey",
    "a Google API key": "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
    "an Anthropic API key": "sk-ant-" + "api03-Abcdefghijklmnopqrstuvwxyz0123456789",
    "an OpenAI API key": "sk-" + "proj-Abcdefghijklmnopqrstuvwxyz0123456789",
    "a Twilio API key": "SK" + "0123456789abcdef0123456789abcdef",
    "a SendGrid API key": "SG." + "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
    "a Hugging Face token": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "an npm token": "npm_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "a JSON Web Token (JWT)": "eyJhbGciOiJIUzI1NiJ9."
    + "eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "an smsai_ token": "smsai_" + "Q7w2E9r4T1y8U3i6",
    "a payment card number": "4111 1111 " + "1111 1111",
}
NEAR_MISSES = {
    "a normal link": "Your table is ready: https://example.com/booking/42",
    "a 16-digit number that fails Luhn": "Reference 4111 1111 1111 1112",
    "the word token": "Here is your token of thanks, and a sk-etch of the plan.",
    "an order number": "Order #A-20391-7781 ships today",
    "a phone number": "Call us on +44 7400 123456 or 202-555-0143",
    "a date and amounts": "Paid $1,234.56 on 2026-11-29, ref 2026112912",
}


@pytest.fixture(params=ERAS)
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_rule_of_the_table_has_a_sample_here() -> None:
    assert [rule.name for rule in SECRET_RULES] == list(SECRETS)


@pytest.mark.parametrize("rule", list(SECRETS))
def test_each_secret_rule_names_itself_alone(rule: str) -> None:
    problem = content_problem(f"Here you go: {SECRETS[rule]} thanks")
    assert problem is not None
    assert problem.rule == "secret"
    assert rule in problem.reason


@pytest.mark.parametrize("miss", list(NEAR_MISSES))
def test_near_misses_pass_the_content_checks(miss: str) -> None:
    assert content_problem(NEAR_MISSES[miss]) is None


def test_luhn() -> None:
    assert passes_luhn("4111111111111111")
    assert passes_luhn("378282246310005")
    assert not passes_luhn("4111111111111112")


def _repeats_part_of(secret: str, text: str) -> bool:
    """Whether any 8 characters in a row of the secret's own value (not its well-known prefix) appear in `text`."""
    parts = [secret[i : i + 8] for i in range(len(secret) - 7)]
    return any(part in text for part in parts if " " not in part and "-----" not in part and part.isprintable())


@pytest.mark.parametrize("rule", list(SECRETS))
async def test_a_text_carrying_a_secret_is_refused_without_repeating_it(
    settings: Settings, sandbox: Sandbox, era: str, rule: str
) -> None:
    person = Person()
    secret = SECRETS[rule]
    async with connect(settings.model_copy(update={"confirm": "auto"}), era, person) as client:
        result = await send(client, body=f"The key you asked for: {secret}")
    text = assert_nothing_sent(result, sandbox, posts_so_far=0, says=f"looks like it carries {rule}")
    assert not _repeats_part_of(secret, text), text
    assert person.questions == []
    assert settings.state_dir is not None
    [entry] = [json.loads(line) for line in (settings.state_dir / "audit.jsonl").read_text().splitlines()]
    assert (entry["outcome"], entry["reason"]) == ("refused", "content")
    assert not _repeats_part_of(secret, json.dumps(entry))


CHARACTERS = {
    "bidi override": ("Pay \u202eknil siht\u202c now", "bidirectional control character (⟨U+202E⟩)"),
    "bidi isolate": ("Hi \u2067there\u2069", "bidirectional control character (⟨U+2067⟩)"),
    "tag characters": ("Hi\U000e0069\U000e0067\U000e006e", "tag character (⟨U+E0069⟩)"),
}


@pytest.mark.parametrize("case", list(CHARACTERS))
async def test_a_text_that_reads_differently_from_what_is_sent_is_refused(
    settings: Settings, sandbox: Sandbox, era: str, case: str
) -> None:
    body, says = CHARACTERS[case]
    async with connect(settings, era) as client:
        assert_nothing_sent(await send(client, body=body), sandbox, posts_so_far=0, says=says)


SHORTENED = ["https://bit.ly/3xYzAbc", "tinyurl.com/yc7x9z2", "http://t.co/AbC123", "Go to cutt.ly/promo now"]


@pytest.mark.parametrize("link", SHORTENED)
async def test_a_link_through_a_public_shortener_is_refused(
    settings: Settings, sandbox: Sandbox, era: str, link: str
) -> None:
    async with connect(settings, era) as client:
        result = await send(client, body=f"Your order is ready: {link}")
    assert_nothing_sent(result, sandbox, posts_so_far=0, says="URL shortener")


@pytest.mark.parametrize("miss", list(NEAR_MISSES))
async def test_a_near_miss_is_sent(settings: Settings, sandbox: Sandbox, era: str, miss: str) -> None:
    async with connect(settings, era) as client:
        sent(await send(client, body=NEAR_MISSES[miss]))
    assert posts(sandbox) == 1


async def test_content_checks_off_lets_the_text_through(settings: Settings, sandbox: Sandbox, era: str) -> None:
    async with connect(settings.model_copy(update={"content_checks": False}), era) as client:
        sent(await send(client, body="Your order is ready: https://bit.ly/3xYzAbc"))
    assert posts(sandbox) == 1
